#!/bin/sh
# bench/bench_mpy.sh: natmod mpy link vs MicroPython's tools/mpy_ld.py on the
# same object files: median wall time per link (one process per link, as a
# Makefile runs it), the speed-up, and the .mpy size each writes. Also the
# instruction count of one natmod link under callgrind (deterministic).
#
#   MPY_DIR=/path/to/micropython sh bench/bench_mpy.sh
#
# MPY_DIR: a MicroPython checkout whose examples/natmod were built with its
# own Makefiles (make ARCH=x64 / ARCH=armv7m ...), so build-ARCH/*.o and the
# config headers exist; mpy_ld.py needs python3-pyelftools (and the PyPI
# 'ar' package for -l, on PYTHONPATH). Without MPY_DIR only natmod's column
# is measured, on the repository's own test modules (tests/link/mpy).
# Targets (issue 5): natmod >= 50x faster per module; .mpy no larger.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${NATMOD_BUILD:-$top/build}
runs=${RUNS:-11}
pyruns=${PYRUNS:-5}
cmake -S "$top" -B "$build" -DNATMOD_FUZZ_SECONDS=0 >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
natmod="$build/tools/natmod/natmod"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -n "${MPY_DIR:-}" ] && MPY_DIR=$(cd "$MPY_DIR" && pwd)
cd "$work" # mpy_ld.py -l writes an archive cache into the current directory

now_us() { date +%s%N | cut -c1-16; }

# median wall time in microseconds of running "$@" $n times
median_us() {
    n=$1
    shift
    i=0
    : >"$work/times"
    while [ $i -lt "$n" ]; do
        t0=$(now_us)
        "$@" >/dev/null 2>&1 || return 1
        t1=$(now_us)
        echo $((t1 - t0)) >>"$work/times"
        i=$((i + 1))
    done
    sort -n "$work/times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

libs_for() {
    case $1 in
    x64) cc=gcc f="" ;; # glibc's libm.a is a linker script, and a module has no use for glibc
    armv6m) cc=arm-none-eabi-gcc f="-mthumb -mcpu=cortex-m0" ;;
    armv7m) cc=arm-none-eabi-gcc f="-mthumb -mcpu=cortex-m3" ;;
    armv7emsp) cc=arm-none-eabi-gcc f="-mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard" ;;
    esac
    command -v $cc >/dev/null || return 0
    # shellcheck disable=SC2086
    g=$($cc $f -print-libgcc-file-name)
    # shellcheck disable=SC2086
    m=$($cc $f -print-file-name=libm.a)
    [ -f "$g" ] && printf -- '-l %s ' "$g"
    [ "$cc" != gcc ] && [ -f "$m" ] && printf -- '-l %s ' "$m"
    return 0
}

printf '%-10s %-9s %10s %10s %8s %8s %8s %12s\n' module arch "natmod ms" "mpy_ld ms" speedup "natmod B" "mpy_ld B" "natmod Ir"
rows=0
bench_one() { # name arch config objs...
    name=$1 arch=$2 cfg=$3
    shift 3
    libs=$(libs_for "$arch")
    out_n="$work/$name-$arch-natmod.mpy"
    out_p="$work/$name-$arch-mpyld.mpy"
    # shellcheck disable=SC2086
    if ! "$natmod" mpy link --arch "$arch" --qstrs "$cfg" $libs -o "$out_n" "$@" 2>"$work/err"; then
        printf '%-10s %-9s natmod: %s\n' "$name" "$arch" "$(head -c 160 "$work/err")"
        return 0
    fi
    # shellcheck disable=SC2086
    tn=$(median_us "$runs" "$natmod" mpy link --arch "$arch" --qstrs "$cfg" $libs -o "$out_n" "$@")
    ir=-
    if command -v valgrind >/dev/null; then
        # shellcheck disable=SC2086
        valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$natmod" mpy link --arch "$arch" --qstrs "$cfg" \
            $libs -o "$out_n" "$@" >/dev/null 2>"$work/vg" &&
            ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg" | head -n 1)
    fi
    tp=- sp=- bp=-
    if [ -n "${MPY_DIR:-}" ]; then
        # shellcheck disable=SC2086
        if python3 "$MPY_DIR/tools/mpy_ld.py" --arch "$arch" --qstrs "$cfg" $libs -o "$out_p" "$@" >/dev/null 2>"$work/err"; then
            # shellcheck disable=SC2086
            tp=$(median_us "$pyruns" python3 "$MPY_DIR/tools/mpy_ld.py" --arch "$arch" --qstrs "$cfg" $libs -o "$out_p" "$@")
            sp=$(awk -v a="$tp" -v b="$tn" 'BEGIN {printf "%.0fx", a / b}')
            bp=$(stat -c %s "$out_p")
            tp=$(awk -v a="$tp" 'BEGIN {printf "%.2f", a / 1000}')
        else
            tp="fails: $(head -c 60 "$work/err" | tr '\n' ' ')"
        fi
    fi
    printf '%-10s %-9s %10s %10s %8s %8s %8s %12s\n' "$name" "$arch" "$(awk -v a="$tn" 'BEGIN {printf "%.2f", a / 1000}')" \
        "$tp" "$sp" "$(stat -c %s "$out_n")" "$bp" "$ir"
    rows=$((rows + 1))
}

if [ -n "${MPY_DIR:-}" ]; then
    for dir in "$MPY_DIR"/examples/natmod/*/; do
        name=$(basename "$dir")
        for arch in x64 armv6m armv7m armv7emsp; do
            b="$dir/build-$arch"
            [ -d "$b" ] || continue
            cfg=$(ls "$b"/*.config.h 2>/dev/null | head -n 1)
            [ -n "$cfg" ] || continue
            # shellcheck disable=SC2046
            bench_one "$name" "$arch" "$cfg" $(ls "$b"/*.o)
        done
    done
else
    obj="$build/tests/link/obj"
    printf '#include <stdint.h>\n#define MP_QSTR_answer (mp_native_qstr_table[1])\n#define MP_QSTR_buf (mp_native_qstr_table[2])\n#define MP_QSTR_type (mp_native_qstr_table[3])\n' >"$work/t.config.h"
    for m in mpy_a mpy_b; do
        bench_one "$m" x64 "$work/t.config.h" "$obj/${m}_x64.o"
        bench_one "$m" armv7m "$work/t.config.h" "$obj/${m}_m3.o"
    done
fi
echo "$rows modules linked"
