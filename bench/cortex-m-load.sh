#!/bin/sh
# bench/cortex-m-load.sh: instructions and RAM to load each example on the
# Cortex-M board under QEMU, RAM mode vs XIP mode.
#
# QEMU runs with -icount shift=0: every guest instruction advances virtual
# time by 1 ns, so SysTick (25 MHz) counts one tick per 40 instructions and
# the counts are the same on every run, whatever the machine's load. The
# firmware's `bench` command times N loader calls (nm_load or nm_load_xip,
# the module's init included, the unload not) and reports module RAM at its
# high-water mark; a calibration loop of 100000 instructions converts ticks.
# RAM bytes include the 28-byte nm_module_t descriptor. The micro:bit
# (Cortex-M0, 16 KB RAM, 16 MHz SysTick) has 4 KB of module RAM: a module
# whose text does not fit runs only in XIP mode ("no RAM"). The XIP bound is the
# issue's: data + bss + 4 x GOT entries + thunks (none) + 64.
# XIP loads go through the store (nm_store_load): "XIP insns" is a load in
# the mount that installed the module (the whole CRC was checked then);
# "XIP 1st" is the first load after a fresh mount, whose pin checks the
# whole CRC again (what catches a flipped text bit at boot). The line after
# each board's table is nm_store_check over every installed module.
# Usage: bench/cortex-m-load.sh [BUILD_DIR]   (natmod and nm-gen-exports built there)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${NATMOD_BUILD:-$top/build}}
natmod="$build/tools/natmod/natmod"
gen="$build/ports/host/nm-gen-exports"
port="$top/ports/cortex-m"
. "$port/qemu.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
loads=${LOADS:-20}

echo "== Cortex-M load cost under QEMU -icount shift=0 (target: XIP < RAM instructions; XIP RAM <= bound)"
printf "%-7s %-10s %-10s %11s %11s %11s %9s %9s %9s %7s %12s\n" board arch example "RAM insns" "XIP insns" \
    "XIP 1st" "RAM bytes" "XIP bytes" "XIP bound" "ok" "install insns"
bench_board() { # name machine board-arch board-float module-arch module-float cpu-flags...
    n=$1; machine=$2; barch=$3; bfloat=$4; ma=$5; mf=$6; shift 6
    d="$work/$n"
    "$port/build-fw.sh" "$gen" "$top" "$d" "$barch" "$bfloat" "$@"
    echo "store format" >"$d/script.txt" # bench installs into the module store
    files=""
    if [ "$machine" = microbit ]; then
        at=$((0x00028000)); export NM_SCRIPT_ADDR=0x0003F000
    else
        at=$((0x00200000)); export NM_SCRIPT_ADDR=0x003F0000
    fi
    for ex in $(cat "$top/examples/LIST"); do
        "$natmod" build -q --arch "$ma" --float "$mf" --syms "$d/board.syms" -o "$d/$ex.nmod" \
            "$top/examples/$ex/$ex.c"
        addr=$(printf '0x%08x' "$at")
        echo "bench $ex $addr $loads" >>"$d/script.txt"
        files="$files $d/$ex.nmod@$addr"
        at=$(( (at + $(wc -c <"$d/$ex.nmod") + 1023) / 1024 * 1024 )) # staged back to back
    done
    # shellcheck disable=SC2086
    # A module that does not fit RAM mode makes the run exit non-zero; the
    # table shows it, so only a run with no results at all is a failure.
    qemu_run "$machine" "$d/fw.elf" "$d/script.txt" "$d/out.txt" $files -- -icount shift=0 || true
    grep -q '^bench .* xip loads' "$d/out.txt" || { echo "bench on $n failed:"; tail -5 "$d/out.txt"; return 1; }
    awk -v board="$n" -v arch="$ma" -f "$top/bench/board-load.awk" "$d/out.txt"
}
bench_board m3 mps2-an385 NM_ARCH_ARMV7M NM_FLOAT_SOFT armv7m soft -mcpu=cortex-m3 -mfloat-abi=soft
bench_board m3 mps2-an385 NM_ARCH_ARMV7M NM_FLOAT_SOFT armv6m soft -mcpu=cortex-m3 -mfloat-abi=soft
bench_board m0 microbit NM_ARCH_ARMV6M NM_FLOAT_SOFT armv6m soft -mcpu=cortex-m0 -mfloat-abi=soft
bench_board m4f mps2-an386 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD armv7emsp hard -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
