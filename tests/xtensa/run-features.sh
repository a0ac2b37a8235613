#!/bin/sh
# run-features.sh NATMOD NM_GEN_EXPORTS FEATURES_NATIVE TOP WORKDIR
# tests/link/src/features.c (a static function-pointer table, initialised
# .data holding pointers to data, functions and strings, a dense switch,
# 64-bit division, soft float and double, bss, a call into the firmware)
# as an Xtensa module (features_board.c), built for xtensa and xtensawin,
# run on the lx106 and de212 cores in RAM and XIP mode: every call must
# print what the same source compiled natively prints (features_native).
set -u
natmod=$1; gen=$2; native=$3; top=$4; work=$5
port="$top/ports/xtensa"
here="$top/tests/xtensa"
. "$port/qemu.sh"
mkdir -p "$work"
stage=0x60400000
"$native" "$here/features.script" >"$work/native.out" || { echo "FAIL native run"; echo "0 passed, 1 failed"; exit 1; }
run_abi() {
    abi=$1; cpu=$(xt_cpu "$abi"); d="$work/$abi"
    mkdir -p "$d"
    NATMOD_WERROR=${NATMOD_WERROR:-ON} "$port/build-fw.sh" "$gen" "$top" "$d" "$abi" >"$d/fw.log" 2>&1 ||
        { echo "FAIL $abi: firmware build"; head -20 "$d/fw.log"; return; }
    "$natmod" build -q --arch "$abi" --syms "$d/board.syms" -o "$d/feat.nmod" "$here/features_board.c" 2>"$d/build.err" ||
        { echo "FAIL $abi: module build"; cat "$d/build.err"; return; }
    for mode in ram xip; do
        {
            [ $mode = xip ] && echo "store format"
            sed "s/STAGE/$stage/; s/MODE/$mode/" "$here/features.script"
        } >"$d/$mode.txt"
        xt_run "$cpu" "$d/fw.elf" "$d/$mode.txt" "$d/$mode.out" none "$d/feat.nmod@$stage"
        st=$?
        grep -v '^store: \|^stats: ' "$d/$mode.out" >"$d/$mode.calls"
        if [ $st -eq 0 ] && diff -u "$work/native.out" "$d/$mode.calls" >"$d/$mode.diff"; then
            echo "ok   $abi on $cpu, $mode: $(wc -l <"$d/$mode.calls") calls equal the native results"
        else
            echo "FAIL $abi on $cpu, $mode: exit $st"; head -30 "$d/$mode.diff"
        fi
    done
}
run_abi xtensa >"$work/xtensa.log" 2>&1 &
p1=$!
run_abi xtensawin >"$work/xtensawin.log" 2>&1 &
p2=$!
wait $p1 $p2
cat "$work/xtensa.log" "$work/xtensawin.log"
pass=$(cat "$work/xtensa.log" "$work/xtensawin.log" | grep -c '^ok ')
fail=$(cat "$work/xtensa.log" "$work/xtensawin.log" | grep -c '^FAIL ')
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -eq 4 ]
