#!/bin/sh
# run-examples.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR [ABI...]
# Builds the Xtensa firmware for each ABI (xtensa: call0 on the lx106 core,
# xtensawin: windowed on the de212 core; both by default) and runs every
# example, built for that ABI, under qemu-system-xtensa -M sim in RAM mode
# and in XIP mode (installed into the module store on the board's NOR
# flash window, run in place); the output must equal the example's
# expected.txt (the host board's), the store's own `store: ` lines left
# out. The two modes of an example run at the same time.
# mathlib's soft-float and 64-bit helpers (__addsf3, __muldf3, __udivdi3,
# ...), which neither Debian's lx106 libgcc nor clang-22 provides for
# Xtensa, come from the firmware (libgcc_div.c, ports/common/softfp.c).
set -u
natmod=$1; gen=$2; top=$3; work=$4
shift 4
abis=${*:-xtensa xtensawin}
port="$top/ports/xtensa"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
pass=0; fail=0
stage=0x60400000

for abi in $abis; do
    cpu=$(xt_cpu "$abi")
    d="$work/$abi"
    mkdir -p "$d"
    if ! NATMOD_WERROR=${NATMOD_WERROR:-ON} "$port/build-fw.sh" "$gen" "$top" "$d" "$abi"; then
        echo "FAIL firmware build ($abi)"; fail=$((fail + 1)); continue
    fi
    for ex in $(cat "$top/examples/LIST"); do
        m="$d/$ex.nmod"
        if ! "$natmod" build -q --arch "$abi" --syms "$d/board.syms" -o "$m" "$top/examples/$ex/$ex.c"; then
            echo "FAIL $ex $abi: build"; fail=$((fail + 1)); continue
        fi
        for mode in ram xip; do
            {
                [ $mode = xip ] && echo "store format" # XIP loads install into the module store
                example_script "$ex" "$ex" "load $ex $stage $mode"
            } >"$d/$ex.$mode.txt"
            xt_run "$cpu" "$d/fw.elf" "$d/$ex.$mode.txt" "$d/$ex.$mode.out" none "$m@$stage" &
            eval "pid_$mode=\$!"
        done
        for mode in ram xip; do
            eval "wait \$pid_$mode"
            example_check "$ex" "$d/$ex.$mode.out" $? "$ex $abi $mode on $cpu"
        done
    done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
