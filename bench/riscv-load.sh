#!/bin/sh
# bench/riscv-load.sh: instructions and RAM to load each example on the
# RISC-V board (QEMU virt, rv32imc) under QEMU, RAM mode vs XIP mode.
#
# QEMU runs with -icount shift=0: every guest instruction advances virtual
# time by 1 ns and mcycle counts instructions, so the counts are the same
# on every run, whatever the machine's load. The firmware's `bench` command
# times N loader calls (nm_load or nm_load_xip, the module's init included,
# the unload not) and reports module RAM at its high-water mark; a
# calibration loop of 100000 instructions converts counts. RAM bytes include
# the 28-byte nm_module_t descriptor. The XIP bound is the issue's:
# data + bss + 4 x GOT entries + thunks (none) + 64. Install instructions
# include programming the CFI flash word by word (and, QEMU only, the
# driver's semihosting round trip that drops stale translations).
# Usage: bench/riscv-load.sh [BUILD_DIR]   (natmod and nm-gen-exports built there)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${NATMOD_BUILD:-$top/build}}
natmod="$build/tools/natmod/natmod"
gen="$build/ports/host/nm-gen-exports"
port="$top/ports/riscv"
. "$port/qemu.sh"
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
loads=${LOADS:-20}

echo "== RISC-V load cost under QEMU -icount shift=0 (target: XIP < RAM instructions; XIP RAM <= bound)"
printf "%-7s %-10s %-10s %11s %11s %11s %9s %9s %9s %7s %12s\n" board arch example "RAM insns" "XIP insns" \
    "XIP 1st" "RAM bytes" "XIP bytes" "XIP bound" "ok" "install insns"
d=$work
"$port/build-fw.sh" "$gen" "$top" "$d"
echo "store format" >"$d/script.txt" # bench installs into the module store
files=""
at=$((0x80400000))
for ex in $(cat "$top/examples/LIST"); do
    "$natmod" build -q --arch rv32imc --syms "$d/board.syms" -o "$d/$ex.nmod" "$top/examples/$ex/$ex.c"
    addr=$(printf '0x%08x' "$at")
    echo "bench $ex $addr $loads" >>"$d/script.txt"
    files="$files $d/$ex.nmod@$addr"
    at=$(( (at + $(wc -c <"$d/$ex.nmod") + 1023) / 1024 * 1024 )) # staged back to back
done
# shellcheck disable=SC2086
rv_run "$d/fw.elf" "$d/script.txt" "$d/out.txt" "$d/flash.img" $files -- -icount shift=0 || true
grep -q '^bench .* xip loads' "$d/out.txt" || { echo "bench on virt failed:"; tail -5 "$d/out.txt"; exit 1; }
awk -v board=virt -v arch=rv32imc -f "$top/bench/board-load.awk" "$d/out.txt"
