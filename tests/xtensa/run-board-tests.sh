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
#   proof      XIP is real: the PC in the module function lies in its text
#              in flash, the text's CRC is the same before load and after
#              the calls and unload, module RAM high-water below text size
#   multi      two XIP modules and one RAM module at once, unload, reload
#              from the same install
#   alloca     tests/xtensa/alloca.c: a VLA and __builtin_alloca sized by a
#              call argument, and MOVSPs reached through call4 and call12,
#              each after a recursion that spilled every older window, in
#              RAM and XIP: the same results on both cores. On de212 the
#              module's text has MOVSPs (checked in the object file), and
#              QEMU's exception log (-d int) shows the Alloca exceptions
#              they raised in RAM and in flash, from call4, call8 and call12
#              frames, that the firmware's handler resolved
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

    rm -rf "$d/alloca.keep"
    mod "$d/alloca.nmod" "$abi" "$d/board.syms" --keep "$d/alloca.keep" "$top/tests/xtensa/alloca.c"
    {
        echo "store format"
        for mode in ram xip; do
            echo "load a $s0 $mode"
            echo "call a vla_sum 20 10"
            echo "call a alloca_sum 300 16"
            echo "call a vla_sum 1 0"
            echo "call a movsp_call4 10"
            echo "call a movsp_call12 12"
            echo "unload a"
        done
    } >"$d/alloca.txt"
    {
        for mode in ram xip; do
            echo "vla_sum(20, 10) = 2525"
            echo "alloca_sum(300, 16) = 8955186"
            echo "vla_sum(1, 0) = 0"
            echo "movsp_call4(10) = 110"
            echo "movsp_call12(12) = 156"
        done
    } >"$d/alloca.expected"
    rm -f "$d/alloca.int"
    xt_run "$cpu" "$d/fw.elf" "$d/alloca.txt" "$d/alloca.out" none "$d/alloca.nmod@$s0" -- -d int -D "$d/alloca.int"
    st=$?
    grep -v '^store: ' "$d/alloca.out" >"$d/alloca.mod"
    if [ $st -eq 0 ] && diff -u "$d/alloca.expected" "$d/alloca.mod" >"$d/alloca.diff"; then
        alloca_ok=1
    else
        alloca_ok=0
        bad "$cpu: alloca: exit $st" "$d/alloca.diff"
    fi
    if [ $alloca_ok = 1 ] && [ "$abi" = xtensawin ]; then
        # MOVSP is RRR with op0 = op1 = op2 = 0 and r = 1: 0x001st0. The
        # lx106 objdump has no windowed option and names it "excw".
        movsp=$(xtensa-lx106-elf-objdump -d "$d/alloca.keep/0_alloca.c.o" |
            awk '/^Disassembly of section/ { text = ($4 ~ /^\.text/) } text && $2 ~ /^001[0-9a-f][0-9a-f]0$/' | wc -l)
        # A user exception (11) that no level-1 interrupt (EXC_IRQ) led to,
        # at a PC in module RAM (0x602...) or module flash (0x610...), is
        # an Alloca exception: the module raises no other. a0's top two
        # bits are the faulting function's call increment: 1, 2 or 3.
        kinds=$(awk '/EXC_IRQ/ { irq = 1; next }
            /do_interrupt\(11\)/ && !irq && match($0, /pc = (602|610)/) {
                where = substr($0, RSTART + 5, 3) == "602" ? "ram" : "flash"
                match($0, /a0 = [0-9a-f]/); top = index("0123456789abcdef", substr($0, RSTART + 5, 1)) - 1
                print where, "call" (4 * int(top / 4))
            } { irq = 0 }' "$d/alloca.int" | sort | uniq -c | awk '{ printf "%s %s %s; ", $2, $3, $1 }')
        for k in "ram call4" "ram call8" "ram call12" "flash call4" "flash call8" "flash call12"; do
            case $kinds in *"$k "*) ;; *) alloca_ok=0 ;; esac
        done
        if [ "$movsp" -lt 3 ] || [ $alloca_ok = 0 ]; then
            alloca_ok=0
            bad "$cpu: alloca: $movsp MOVSP in the text, Alloca exceptions: $kinds" "$d/alloca.out"
        else
            ok "$cpu: alloca: VLA, alloca and MOVSP after call4/call12 with the caller spilled, in RAM and XIP: right results; $movsp MOVSP in the module text, Alloca exceptions handled: $kinds"
        fi
    elif [ $alloca_ok = 1 ]; then
        ok "$cpu: alloca: the same module source (call0: no MOVSP) in RAM and XIP: the same results as de212"
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
[ "$fail" -eq 0 ] && [ "$pass" -eq 10 ]
