#!/bin/sh
# bench/xtensa-load.sh: instructions and RAM to load each example on the
# Xtensa board (qemu-system-xtensa -M sim), RAM mode vs XIP mode, on both
# cores: lx106 (call0, xtensa) and de212 (windowed, xtensawin).
#
# QEMU runs with -icount shift=0: every guest instruction advances virtual
# time by 1 ns, and the sim cores' CCOUNT follows virtual time at 40 MHz
# (one count per 25 instructions), so the counts are the same on every
# run. The firmware's `bench` command times N loader calls (nm_load or
# nm_load_xip, the module's init included, the unload not) and reports
# module RAM at its high-water mark; a calibration loop of 100000
# instructions converts counts (at 25 instructions a count, N loads are
# averaged to keep the rounding small). RAM bytes include the nm_module_t
# descriptor. The XIP bound is the issue's: data + bss + 4 x GOT entries +
# thunks (none) + 64. Install instructions include programming the flash
# window byte by byte with the NOR check. mathlib's soft-float and 64-bit
# helpers are the firmware's (ports/common/softfp.c), bound as imports.
# Usage: bench/xtensa-load.sh [BUILD_DIR]   (natmod and nm-gen-exports built there)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${NATMOD_BUILD:-$top/build}}
natmod="$build/tools/natmod/natmod"
gen="$build/ports/host/nm-gen-exports"
port="$top/ports/xtensa"
. "$port/qemu.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
loads=${LOADS:-50}

echo "== Xtensa load cost under QEMU -icount shift=0 (target: XIP < RAM instructions; XIP RAM <= bound)"
printf "%-7s %-10s %-10s %11s %11s %11s %9s %9s %9s %7s %12s\n" board arch example "RAM insns" "XIP insns" \
    "XIP 1st" "RAM bytes" "XIP bytes" "XIP bound" "ok" "install insns"
for abi in xtensa xtensawin; do
    cpu=$(xt_cpu "$abi")
    d="$work/$abi"
    mkdir -p "$d"
    "$port/build-fw.sh" "$gen" "$top" "$d" "$abi"
    echo "store format" >"$d/script.txt" # bench installs into the module store
    files=""
    at=$((0x60400000))
    for ex in $(cat "$top/examples/LIST"); do
        "$natmod" build -q --arch "$abi" --syms "$d/board.syms" -o "$d/$ex.nmod" "$top/examples/$ex/$ex.c"
        addr=$(printf '0x%08x' "$at")
        echo "bench $ex $addr $loads" >>"$d/script.txt"
        files="$files $d/$ex.nmod@$addr"
        at=$(( (at + $(wc -c <"$d/$ex.nmod") + 1023) / 1024 * 1024 )) # staged back to back
    done
    # shellcheck disable=SC2086
    xt_run "$cpu" "$d/fw.elf" "$d/script.txt" "$d/out.txt" none $files -- -icount shift=0 || true
    grep -q '^bench .* xip loads' "$d/out.txt" || { echo "bench on $cpu failed:"; tail -5 "$d/out.txt"; exit 1; }
    awk -v board="$cpu" -v arch="$abi" -f "$top/bench/board-load.awk" "$d/out.txt"
done
