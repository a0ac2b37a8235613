#!/bin/sh
# run-board-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# RISC-V board tests under QEMU virt beyond the examples:
#   boot       the firmware boots, runs a script and exits with its status
#   selftest   `flash selftest` on pflash1: the CFI query's geometry, erase
#              to 0xFF, program and read back, the NOR rule (0 -> 1
#              refused, more zeros accepted), unaligned bytes, erase per
#              block, bad ranges refused, and code erased and programmed
#              again runs as written (the driver makes QEMU drop what it
#              translated from the old bytes)
#   readonly   pflash0 read-only: `store format` fails on the status
#              register's erase error, one line, and the script goes on
#   badinput   an armv7m module (RAM and XIP), an x86-64 one, a universal
#              module without an rv32imc slice, a corrupted image, and bad
#              store commands each print one error line; the exit status is
#              the first error's code
#   proof      XIP is real: the PC of a module function lies in its text in
#              flash, the text's CRC is the same before load and after the
#              calls and unload, module RAM high-water below text size
#   timer      the machine timer interrupt calls a static function of an XIP
#              module; the PC it ran at lies in flash
#   multi      two XIP modules and one RAM module at once, unload, reload
#   badinput   an rv32imc image with a flipped byte, an import the firmware
#              lacks: one line each, then a good module still runs
# The QEMU runs of each group go two at a time (CI has two cores).
set -u
natmod=$1; gen=$2; top=$3; work=$4
here="$top/tests/riscv"
port="$top/ports/riscv"
. "$port/qemu.sh"
mkdir -p "$work"
pass=0; fail=0
d=$work
s0=0x80400000; s1=0x80410000; s2=0x80420000; s3=0x80430000

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -30 "$2"; }
mod() { # out arch syms src...
    o=$1; a=$2; s=$3; shift 3
    "$natmod" build -q --arch "$a" --syms "$s" -o "$o" "$@" 2>"$o.err"
}

"$port/build-fw.sh" "$gen" "$top" "$d" || { echo "FAIL firmware build"; exit 1; }

# ---- selftest and read-only flash (in parallel)
printf 'stats\nflash selftest\n' >"$d/selftest.txt"
rm -f "$d/selftest.flash"
rv_run "$d/fw.elf" "$d/selftest.txt" "$d/selftest.out" "$d/selftest.flash" &
p1=$!
rv_blank_flash "$d/ro.flash"
printf 'store format\nstore ls\nstats\n' >"$d/ro.txt"
rv_run "$d/fw.elf" "$d/ro.txt" "$d/ro.out" "$d/ro.flash,readonly=on" &
p2=$!
wait $p1
st=$?
if [ $st -eq 0 ] && [ "$(grep -c '^flash: ' "$d/selftest.out")" = 10 ] &&
    grep -q '^flash: pflash1 at 0x22000000: CFI command set 0x0001, 2 x16 devices, 33554432 bytes, 128 blocks of 262144 bytes' "$d/selftest.out" &&
    grep -q '^flash: execute in place: code at 0x22000000 returns 1, erased and reprogrammed returns 2$' "$d/selftest.out" &&
    grep -q '^flash: selftest passed$' "$d/selftest.out"; then
    ok "boot and flash selftest: CFI geometry read, NOR rule, erase per block, reprogrammed code runs as written"
else
    bad "flash selftest: exit $st" "$d/selftest.out"
fi
wait $p2
st=$?
if [ $st -eq 2 ] && grep -q '^error: line 1: store format: I/O error' "$d/ro.out" &&
    grep -q "^error: line 2: store ls: no module store" "$d/ro.out" && grep -q '^stats: ' "$d/ro.out"; then
    ok "read-only flash: the erase error in the status register fails store format with one line (exit 2)"
else
    bad "read-only flash: exit $st (want 2)" "$d/ro.out"
fi

# ---- bad input: modules of other arches, a corrupted image, bad commands
if ! { mod "$d/v7m.nmod" armv7m "$d/board.syms" "$top/examples/hello/hello.c" &&
        mod "$d/x64.nmod" x86_64 "$d/board.syms" "$top/examples/hello/hello.c" &&
        "$natmod" pack -o "$d/uni.nmod" "$d/v7m.nmod" "$d/x64.nmod" >/dev/null; }; then
    bad "build the foreign modules" "$d/v7m.nmod.err"
fi
cp "$d/v7m.nmod" "$d/corrupt.nmod"
printf '\377' | dd of="$d/corrupt.nmod" bs=1 seek=80 conv=notrunc 2>/dev/null
rv_run "$d/fw.elf" "$here/badinput.script" "$d/badinput.out" "$d/badinput.flash" \
    "$d/v7m.nmod@$s0" "$d/x64.nmod@$s1" "$d/uni.nmod@$s2" "$d/corrupt.nmod@$s3"
st=$?
if [ $st -eq 6 ] && diff -u "$here/badinput.expected" "$d/badinput.out" >"$d/badinput.diff"; then
    ok "badinput: armv7m, x86_64, no rv32imc slice, bad CRC, bad store commands: one line each (exit 6)"
else
    bad "badinput: exit $st (want 6)" "$d/badinput.diff"
fi

# ---- rv32imc modules
for m in hello:"$top/examples/hello/hello.c" proof:"$top/tests/cortex-m/modules/proof.c" timer:"$here/modules/timer_pc.c" \
         state:"$top/examples/state/state.c" driver:"$top/examples/driver/driver.c"; do
    mod "$d/${m%%:*}.nmod" rv32imc "$d/board.syms" "${m#*:}" || bad "build ${m%%:*}" "$d/${m%%:*}.nmod.err"
done
{ cat "$d/board.syms"; echo "hal_not_on_this_board 0x00000000"; } >"$d/more.syms"
mod "$d/missing.nmod" rv32imc "$d/more.syms" "$top/tests/cortex-m/modules/missing.c" || bad "build missing" "$d/missing.nmod.err"
cp "$d/hello.nmod" "$d/rvcorrupt.nmod"
printf '\377' | dd of="$d/rvcorrupt.nmod" bs=1 seek=80 conv=notrunc 2>/dev/null

# ---- proof and timer (in parallel)
printf 'store format\nproof p %s\n' $s0 >"$d/proof.txt"
rv_run "$d/fw.elf" "$d/proof.txt" "$d/proof.out" "$d/proof.flash" "$d/proof.nmod@$s0" &
p1=$!
printf 'store format\nload t %s xip\ncall t timer_pc 3\nunload t\n' $s0 >"$d/timer.txt"
rv_run "$d/fw.elf" "$d/timer.txt" "$d/timer.out" "$d/timer.flash" "$d/timer.nmod@$s0" &
p2=$!
wait $p1
st=$?
if [ $st -eq 0 ] && [ "$(grep -c ': yes$\|: unchanged$' "$d/proof.out")" = 4 ]; then
    ok "proof rv32imc XIP on virt: $(grep '^proof' "$d/proof.out" | tr '\n' ' ')"
else
    bad "proof: exit $st" "$d/proof.out"
fi
wait $p2
st=$?
pc=$(sed -n 's/^timer_pc(3) = \(-\{0,1\}[0-9]*\)$/\1/p' "$d/timer.out")
if [ $st -eq 0 ] && [ -n "$pc" ] && [ $((pc & 0xFFFFFFFF)) -ge $((0x20000000)) ] &&
    [ $((pc & 0xFFFFFFFF)) -lt $((0x22000000)) ]; then
    ok "timer: the machine timer interrupt ran the XIP module's static callback at $(printf '0x%08x' $((pc & 0xFFFFFFFF))) in flash"
else
    bad "timer: exit $st, callback pc '$pc'" "$d/timer.out"
fi

# ---- multi, and bad rv32imc input (in parallel)
rv_run "$d/fw.elf" "$here/multi.script" "$d/multi.out" "$d/multi.flash" \
    "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/driver.nmod@$s2" &
p1=$!
rv_run "$d/fw.elf" "$here/badinput-rv32.script" "$d/badrv.out" "$d/badrv.flash" \
    "$d/rvcorrupt.nmod@$s0" "$d/missing.nmod@$s1" "$d/hello.nmod@$s2" &
p2=$!
wait $p1
st=$?
grep -v '^stats: ' "$d/multi.out" >"$d/multi.mod"
if [ $st -eq 0 ] && diff -u "$here/multi.expected" "$d/multi.mod" >"$d/multi.diff" &&
    grep -q '^stats: module RAM in use [1-9][0-9]* bytes' "$d/multi.out" &&
    grep -q '^stats: module RAM in use 0 bytes' "$d/multi.out"; then
    ok "multi: two XIP modules + one RAM module at once, unload and reload"
else
    bad "multi: exit $st" "$d/multi.diff"
fi
wait $p2
st=$?
if [ $st -eq 8 ] && grep -q '^error: line 3: load corrupt: bad CRC: ' "$d/badrv.out" &&
    grep -q "^error: line 4: load missing: undefined symbol: undefined import 'hal_not_on_this_board' (hash 0xb2a6c8ba): the firmware does not export it$" "$d/badrv.out" &&
    grep -q '^hello(3) = 7$' "$d/badrv.out" && [ "$(grep -c '^error: ' "$d/badrv.out")" = 2 ]; then
    ok "badinput rv32imc: a corrupted image and a missing import refused with one line each, the next module runs (exit 8)"
else
    bad "badinput rv32imc: exit $st (want 8)" "$d/badrv.out"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
