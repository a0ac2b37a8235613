#!/bin/sh
# bench/run.sh: build natmod, then print seven tables:
#  1. natmod link: median wall time per example (one process per link, as a
#     build system runs it; >= 10 runs), plus the instruction count of one
#     link under callgrind (deterministic, unlike wall time on a shared box);
#  2. the loader on the host board: load/unload time and RAM beyond the
#     module's own text + data + bss;
#  3. module size: .nmod bytes vs the example's .o bytes;
#  4. bench/cortex-m-load.sh, bench/riscv-load.sh and bench/xtensa-load.sh:
#     instructions and RAM to load each example on the Cortex-M, RISC-V and
#     Xtensa boards under QEMU
#     -icount, RAM mode vs XIP mode;
#  5. bench_store: the module store on emulated flash (mount cost, write
#     amplification, defragmentation, erase-count spread; device counts);
#  6. bench_asi2c: the asi2c link on the simulated bus (throughput vs the
#     bus's limit, latency, efficiency; 100 and 400 kHz; virtual time).
#  7. bench_vmap: the virtual address map (map + unmap per second vs live
#     blocks on the ESP32 models; host map_at + first touch per 4 KB page).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh" --bench
build=${NATMOD_BUILD:-$top/build}
runs=${RUNS:-21}
cmake -S "$top" -B "$build" -DNATMOD_FUZZ_SECONDS=0 >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
natmod="$build/tools/natmod/natmod"
syms="$build/ports/host/board.syms"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arches="x86_64 armv6m armv7m armv7emsp rv32imc"
examples="hello state callbacks mathlib driver"

libs_for() { # arch -> the archives natmod build offers the linker
    case $1 in
    x86_64) gcc -print-libgcc-file-name ;;
    armv6m) f="-mthumb -mcpu=cortex-m0 -mfloat-abi=soft" ;;
    armv7m) f="-mthumb -mcpu=cortex-m3 -mfloat-abi=soft" ;;
    armv7emsp) f="-mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" ;;
    esac
    if [ "$1" = rv32imc ]; then
        # libgcc of the rv32im/ilp32 multilib; picolibc's libc.a (it holds libm)
        rv="riscv64-unknown-elf-gcc -march=rv32imc -mabi=ilp32"
        $rv -print-libgcc-file-name
        echo "${NATMOD_PICOLIBC_RV:-/usr/lib/picolibc/riscv64-unknown-elf/lib/$($rv -print-multi-directory)/libc.a}"
    elif [ "$1" != x86_64 ]; then
        # shellcheck disable=SC2086
        for q in -print-libgcc-file-name -print-file-name=libm.a -print-file-name=libc.a; do
            arm-none-eabi-gcc $f $q
        done
    fi
}

echo "== natmod link: wall time per link, $runs runs each (target: median < 5 ms)"
printf "%-10s %-10s %10s %8s %8s %14s\n" example arch "median ms" "min ms" "max ms" "instructions"
for ex in $examples; do
    for arch in $arches; do
        d="$work/$ex.$arch"
        mkdir -p "$d"
        "$natmod" build -q --arch "$arch" --syms "$syms" --keep "$d" -o "$d/$ex.nmod" "$top/examples/$ex/$ex.c"
        # shellcheck disable=SC2046
        set -- "$natmod" link -q --arch "$arch" --name "$ex" --syms "$syms" -o "$d/relink.nmod" "$d"/*.o $(libs_for "$arch")
        t=$("$build/bench/bench_exec" "$runs" -- "$@")
        ins="-"
        if command -v valgrind >/dev/null; then
            valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$@" >/dev/null 2>"$d/cg.log" &&
                ins=$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$d/cg.log")
        fi
        # shellcheck disable=SC2086
        printf "%-10s %-10s %10s %8s %8s %14s\n" "$ex" "$arch" $t "$ins"
        cmp -s "$d/$ex.nmod" "$d/relink.nmod" || echo "  note: relink of $ex/$arch differs from natmod build's output"
    done
done

echo
echo "== loader on the host board (x86_64 slices; $([ -n "${CI:-}" ] && echo CI || echo local) run)"
set --
for ex in $examples; do set -- "$@" "$work/$ex.x86_64/$ex.nmod"; done
"$build/bench/bench_load" "$@"

echo
echo "== module size: .nmod bytes vs the example's own .o bytes"
printf "%-10s" example
for arch in $arches; do printf " %18s" "$arch .o -> .nmod"; done
echo
for ex in $examples; do
    printf "%-10s" "$ex"
    for arch in $arches; do
        d="$work/$ex.$arch"
        o=$(cat "$d"/*.o | wc -c)
        n=$(wc -c <"$d/$ex.nmod")
        printf " %8s -> %6s" "$o" "$n"
    done
    echo
done

echo
if command -v qemu-system-arm >/dev/null && command -v arm-none-eabi-gcc >/dev/null; then
    "$top/bench/cortex-m-load.sh" "$build"
else
    echo "== Cortex-M load cost: skipped (qemu-system-arm or arm-none-eabi-gcc missing)"
fi
echo
if command -v qemu-system-riscv32 >/dev/null && command -v riscv64-unknown-elf-gcc >/dev/null; then
    "$top/bench/riscv-load.sh" "$build" || echo "== RISC-V load cost: failed (does natmod build rv32imc?)"
    "$top/bench/xtensa-load.sh" "$build" || echo "== Xtensa load cost: failed (does natmod build xtensa/xtensawin?)"
else
    echo "== RISC-V load cost: skipped (qemu-system-riscv32 or riscv64-unknown-elf-gcc missing)"
fi

echo
echo "== module store on emulated flash (bench_store)"
"$build/bench/bench_store"

echo
echo "== asi2c link on the simulated bus (bench_asi2c)"
"$build/bench/bench_asi2c"
echo
echo "== virtual address map (bench_vmap)"
"$build/bench/bench_vmap"
