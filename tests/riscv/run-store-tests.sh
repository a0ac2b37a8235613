#!/bin/sh
# run-store-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# The module store on the RISC-V board: QEMU virt, the store on the CFI
# flash (pflash0, 128 blocks of 256 KB, programmed and erased through its
# command set). Two boots, the flow every bare-metal board runs
# (tests/boards/store-flow.sh: format, install, run, rm, defrag, replace
# while loaded, second boot mounts). The flash is a file QEMU writes
# through to, so boot 2 is a fresh QEMU on the same file: no staged
# modules, no format.
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/riscv"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
. "$top/tests/boards/store-flow.sh"
mkdir -p "$work"
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -40 "$2"; }

d=$work
"$port/build-fw.sh" "$gen" "$top" "$d" || { echo "FAIL firmware build"; exit 1; }
s0=0x80400000; s1=0x80410000; s2=0x80420000
rm -f "$d/flash.img"
for ex in hello state mathlib; do
    "$natmod" build -q --arch rv32imc --syms "$d/board.syms" -o "$d/$ex.nmod" \
        "$top/examples/$ex/$ex.c" || { echo "FAIL build $ex for rv32imc"; exit 1; }
done

# ---- boot 1
store_boot1_script $s0 $s1 $s2 >"$d/boot1.txt"
store_boot1_expected "$d/boot1.txt" >"$d/boot1.expected"
rv_run "$d/fw.elf" "$d/boot1.txt" "$d/boot1.out" "$d/flash.img" \
    "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/mathlib.nmod@$s2"
store_boot1_check virt "$d" $?

# ---- boot 2: the same flash file, nothing staged
store_boot2_script >"$d/boot2.txt"
store_boot2_expected >"$d/boot2.expected"
rv_run "$d/fw.elf" "$d/boot2.txt" "$d/boot2.out" "$d/flash.img"
store_boot2_check virt "$d" $? "the store boot 1 left on the CFI flash"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
