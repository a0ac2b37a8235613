#!/bin/sh
# run-store-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# The module store on the Xtensa board, both cores (lx106 call0, de212
# windowed): the flow every bare-metal board runs (tests/boards/store-flow.sh:
# format, install, run, rm, defrag, replace while loaded, second boot
# mounts) on the board's NOR flash window (256 sectors of 4 KB). The sim
# machine's flash is RAM, so boot 1 ends with `store save` and boot 2 is a
# fresh QEMU with only that file loaded into the flash window. The third
# module is mathlib, as on every board: its soft-float helpers come from
# the firmware (ports/common/softfp.c). The two cores run at the same time.
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/xtensa"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
. "$top/tests/boards/store-flow.sh"
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -40 "$2"; }

s0=0x60400000; s1=0x60410000; s2=0x60420000
flow() { # ABI: both boots; status 0 if both passed
    abi=$1; cpu=$(xt_cpu "$abi"); d="$work/$abi"
    mkdir -p "$d"
    NATMOD_WERROR=${NATMOD_WERROR:-ON} "$port/build-fw.sh" "$gen" "$top" "$d" "$abi" || { bad "$cpu: firmware build" /dev/null; return; }
    for ex in hello state mathlib; do
        "$natmod" build -q --arch "$abi" --syms "$d/board.syms" -o "$d/$ex.nmod" \
            "$top/examples/$ex/$ex.c" || { bad "$cpu: build $ex" /dev/null; return; }
    done
    { store_boot1_script $s0 $s1 $s2; echo "store save $d/store.bin"; } >"$d/boot1.txt"
    store_boot1_expected "$d/boot1.txt" >"$d/boot1.expected"
    rm -f "$d/store.bin"
    xt_run "$cpu" "$d/fw.elf" "$d/boot1.txt" "$d/boot1.out" none \
        "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/mathlib.nmod@$s2"
    store_boot1_check "$cpu" "$d" $?
    store_boot2_script >"$d/boot2.txt"
    store_boot2_expected >"$d/boot2.expected"
    xt_run "$cpu" "$d/fw.elf" "$d/boot2.txt" "$d/boot2.out" "$d/store.bin"
    store_boot2_check "$cpu" "$d" $? "the store boot 1 saved"
    [ $fail -eq 0 ]
}
flow xtensa >"$work.xtensa.log" 2>&1 &
p1=$!
flow xtensawin >"$work.xtensawin.log" 2>&1 &
p2=$!
wait $p1; st1=$?
wait $p2; st2=$?
cat "$work.xtensa.log" "$work.xtensawin.log"
pass=$(grep -c '^ok ' "$work.xtensa.log" "$work.xtensawin.log" | awk -F: '{s += $2} END {print s}')
fail=$(grep -c '^FAIL ' "$work.xtensa.log" "$work.xtensawin.log" | awk -F: '{s += $2} END {print s}')
echo "$pass passed, $fail failed"
[ $st1 -eq 0 ] && [ $st2 -eq 0 ] && [ "$fail" -eq 0 ]
