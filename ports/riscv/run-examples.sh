#!/bin/sh
# run-examples.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR [BUILD-OPTION...]
# Builds the RISC-V firmware and runs every example, built for rv32imc,
# under QEMU virt in RAM mode and in XIP mode (installed into the module
# store on the CFI flash, run in place); the output must equal the
# example's expected.txt (the host board's), the store's own `store: `
# lines left out. The two modes of an example run at the same time, each
# QEMU with its own flash file. BUILD-OPTIONs go to natmod build: the
# tests also build the examples with `--cc clang` and with
# `--cflag -mno-relax` (gcc and clang relax by default).
set -u
natmod=$1; gen=$2; top=$3; work=$4
shift 4
how=${*:-gcc}
port="$top/ports/riscv"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
mkdir -p "$work"
pass=0; fail=0
stage=0x80400000

if ! "$port/build-fw.sh" "$gen" "$top" "$work"; then
    echo "FAIL firmware build"; exit 1
fi
for ex in $(cat "$top/examples/LIST"); do
    m="$work/$ex.nmod"
    if ! "$natmod" build -q --arch rv32imc "$@" --syms "$work/board.syms" -o "$m" "$top/examples/$ex/$ex.c"; then
        echo "FAIL $ex rv32imc ($how): build"; fail=$((fail + 1)); continue
    fi
    for mode in ram xip; do
        {
            [ $mode = xip ] && echo "store format" # XIP loads install into the module store
            example_script "$ex" "$ex" "load $ex $stage $mode"
        } >"$work/$ex.$mode.txt"
        rm -f "$work/$ex.$mode.flash"
        rv_run "$work/fw.elf" "$work/$ex.$mode.txt" "$work/$ex.$mode.out" "$work/$ex.$mode.flash" "$m@$stage" &
        eval "pid_$mode=\$!"
    done
    for mode in ram xip; do
        eval "wait \$pid_$mode"
        example_check "$ex" "$work/$ex.$mode.out" $? "$ex rv32imc ($how) $mode on virt"
    done
    rm -f "$work/$ex.ram.flash" "$work/$ex.xip.flash"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
