#!/bin/sh
# run-board-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# Xtensa board tests under qemu-system-xtensa -M sim beyond the examples,
# on both cores (lx106: call0 firmware and modules, de212: windowed):
#   selftest   boot, `flash selftest` on bank 1 of the NOR flash window
#              (erase to 0xFF, more zeros accepted, 0 -> 1 refused with
#              nothing written, single bytes, erase per sector, bad ranges)
#   badinput   a Thumb (armv7m) module, an rv32imc one, a module of the
#              other Xtensa ABI (call0 on the windowed board and the
#              reverse), a corrupted image and a missing import each print
#              one error line; the script goes on and a good module runs;
#              the exit status is the first error's code
#   proof      XIP is real: the module function's address lies in its text
#              in flash, the text's CRC is the same before load and after
#              the calls and unload, module RAM high-water below text size
#   multi      two XIP modules and one RAM module at once, unload, reload
#              from the same install
# The tick interrupt calling into an XIP module is the ticker example's
# (ports/xtensa/run-examples.sh). The two cores run at the same time.
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/xtensa"
. "$port/qemu.sh"
s0=0x60400000; s1=0x60410000; s2=0x60420000; s3=0x60430000; s4=0x60440000

ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; [ -f "$2" ] && head -30 "$2"; }
mod() { # out arch syms src...
    _o=$1; _a=$2; _s=$3; shift 3
    "$natmod" build -q --arch "$_a" --syms "$_s" -o "$_o" "$@" 2>"$_o.err" || bad "build $_o" "$_o.err"
}

board() { # ABI OTHER-ABI
    abi=$1; other=$2; cpu=$(xt_cpu "$abi"); d="$work/$abi"
    mkdir -p "$d"
    NATMOD_WERROR=${NATMOD_WERROR:-ON} "$port/build-fw.sh" "$gen" "$top" "$d" "$abi" || { bad "$cpu: firmware build"; return; }

    printf 'stats\nflash selftest\n' >"$d/selftest.txt"
    xt_run "$cpu" "$d/fw.elf" "$d/selftest.txt" "$d/selftest.out" none
    st=$?
    if [ $st -eq 0 ] && [ "$(grep -c ': ok$' "$d/selftest.out")" = 7 ] &&
        grep -q '^flash: selftest passed$' "$d/selftest.out"; then
        ok "$cpu: boot and flash selftest: erase, NOR rule (0 -> 1 refused), single bytes, erase per sector, bad ranges refused"
    else
        bad "$cpu: flash selftest: exit $st" "$d/selftest.out"
    fi

    h="$top/examples/hello/hello.c"
    mod "$d/v7m.nmod" armv7m "$d/board.syms" "$h"
    mod "$d/rv.nmod" rv32imc "$d/board.syms" "$h"
    mod "$d/other.nmod" "$other" "$d/board.syms" "$h"
    mod "$d/hello.nmod" "$abi" "$d/board.syms" "$h"
    { cat "$d/board.syms"; echo "hal_not_on_this_board 0x00000000"; } >"$d/more.syms"
    mod "$d/missing.nmod" "$abi" "$d/more.syms" "$top/tests/cortex-m/modules/missing.c"
    cp "$d/hello.nmod" "$d/corrupt.nmod"
    printf '\377' | dd of="$d/corrupt.nmod" bs=1 seek=100 conv=notrunc 2>/dev/null # in the text
    {
        echo "store format"
        echo "load thumb $s0 ram"
        echo "load rv $s1 xip"
        echo "load other $s2 ram"
        echo "load corrupt $s3 xip"
        echo "load missing $s4 ram"
        echo "load good 0x60450000 xip"
        echo "call good hello 3"
    } >"$d/bad.txt"
    xt_run "$cpu" "$d/fw.elf" "$d/bad.txt" "$d/bad.out" none "$d/v7m.nmod@$s0" "$d/rv.nmod@$s1" \
        "$d/other.nmod@$s2" "$d/corrupt.nmod@$s3" "$d/missing.nmod@$s4" "$d/hello.nmod@0x60450000"
    st=$?
    if [ $st -eq 6 ] && [ "$(grep -c '^error: ' "$d/bad.out")" = 5 ] &&
        grep -q "^error: line 2: load thumb: wrong architecture: module 'hello' is armv7m/soft; this board is $abi/soft$" "$d/bad.out" &&
        grep -q "^error: line 3: load rv: wrong architecture: module 'hello' is rv32imc/soft; this board is $abi/soft$" "$d/bad.out" &&
        grep -q "^error: line 4: load other: wrong architecture: module 'hello' is $other/soft; this board is $abi/soft$" "$d/bad.out" &&
        grep -q '^error: line 5: load corrupt: bad CRC: ' "$d/bad.out" &&
        grep -q "^error: line 6: load missing: undefined symbol: undefined import 'hal_not_on_this_board'" "$d/bad.out" &&
        grep -q '^hello(3) = 7$' "$d/bad.out"; then
        ok "$cpu: badinput: Thumb, rv32imc, $other, a corrupted image, a missing import: one line each, then a module runs (exit 6)"
    else
        bad "$cpu: badinput: exit $st (want 6)" "$d/bad.out"
    fi

    mod "$d/proof.nmod" "$abi" "$d/board.syms" "$top/tests/cortex-m/modules/proof.c"
    printf 'store format\nproof p %s\n' $s0 >"$d/proof.txt"
    xt_run "$cpu" "$d/fw.elf" "$d/proof.txt" "$d/proof.out" none "$d/proof.nmod@$s0"
    st=$?
    if [ $st -eq 0 ] && [ "$(grep -c ': yes$\|: unchanged$' "$d/proof.out")" = 4 ]; then
        ok "$cpu: proof XIP: $(grep '^proof' "$d/proof.out" | tr '\n' ' ')"
    else
        bad "$cpu: proof: exit $st" "$d/proof.out"
    fi

    mod "$d/state.nmod" "$abi" "$d/board.syms" "$top/examples/state/state.c"
    mod "$d/driver.nmod" "$abi" "$d/board.syms" "$top/examples/driver/driver.c"
    sed "s/0x80400000/$s0/; s/0x80410000/$s1/; s/0x80420000/$s2/" "$top/tests/riscv/multi.script" >"$d/multi.txt"
    xt_run "$cpu" "$d/fw.elf" "$d/multi.txt" "$d/multi.out" none \
        "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/driver.nmod@$s2"
    st=$?
    grep -v '^stats: \|^store: ' "$d/multi.out" >"$d/multi.mod"
    grep -v '^store: ' "$top/tests/riscv/multi.expected" >"$d/multi.expected"
    if [ $st -eq 0 ] && diff -u "$d/multi.expected" "$d/multi.mod" >"$d/multi.diff" &&
        grep -q '^stats: module RAM in use [1-9][0-9]* bytes' "$d/multi.out" &&
        grep -q '^stats: module RAM in use 0 bytes' "$d/multi.out"; then
        ok "$cpu: multi: two XIP modules + one RAM module at once, unload and reload"
    else
        bad "$cpu: multi: exit $st" "$d/multi.diff"
    fi
}
board xtensa xtensawin >"$work.xtensa.log" 2>&1 &
p1=$!
board xtensawin xtensa >"$work.xtensawin.log" 2>&1 &
p2=$!
wait $p1 $p2
cat "$work.xtensa.log" "$work.xtensawin.log"
pass=$(cat "$work.xtensa.log" "$work.xtensawin.log" | grep -c '^ok ')
fail=$(cat "$work.xtensa.log" "$work.xtensawin.log" | grep -c '^FAIL ')
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -eq 8 ]
