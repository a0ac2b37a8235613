#!/bin/sh
# run-board-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# Cortex-M board tests under QEMU beyond the examples:
#   proof    XIP is real: the PC of a module function lies in the module's
#            text in flash, the text's CRC is the same before load and after
#            the calls, and the module RAM high-water mark is below text size
#            (armv7m on mps2-an385, armv7emsp on an386, armv6m on an386 soft,
#            armv6m on the micro:bit, whose flash only the NVMC can write)
#   multi    two modules loaded at once in XIP mode (plus one in RAM mode),
#            both calling the firmware; unload and reload; output compared
#   badinput an x86-64 module, a hard-float module on the soft-float M3, an
#            armv7em module on the M3, a corrupted image and a missing
#            import each print one error line and are skipped; the next
#            command still runs; the exit status is the first error's code;
#            bad store commands too (format while a module from the store
#            runs, an address outside staging, an unknown module, a bad
#            budget, an unknown subcommand, a name too long)
set -u
natmod=$1; gen=$2; top=$3; work=$4
here="$top/tests/cortex-m"
port="$top/ports/cortex-m"
. "$port/qemu.sh"
mkdir -p "$work"
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -30 "$2"; }

fw() { # name board-arch board-float cpu-flags...
    n=$1; shift
    "$port/build-fw.sh" "$gen" "$top" "$work/$n" "$@" || { bad "firmware $n" /dev/null; return 1; }
}
mod() { # out arch float syms src...
    o=$1; a=$2; f=$3; s=$4; shift 4
    "$natmod" build -q --arch "$a" --float "$f" --syms "$s" -o "$o" "$@" || { bad "build $o" /dev/null; return 1; }
}

fw m3 NM_ARCH_ARMV7M NM_FLOAT_SOFT -mcpu=cortex-m3 -mfloat-abi=soft
fw m4f NM_ARCH_ARMV7EMSP NM_FLOAT_HARD -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
fw m4soft NM_ARCH_ARMV7EM NM_FLOAT_SOFT -mcpu=cortex-m4 -mfloat-abi=soft
fw m0 NM_ARCH_ARMV6M NM_FLOAT_SOFT -mcpu=cortex-m0 -mfloat-abi=soft

# ---- proof
for b in m3:mps2-an385:armv7m:soft:0x00200000:0x003F0000 m4f:mps2-an386:armv7em:hard:0x00200000:0x003F0000 \
         m4soft:mps2-an386:armv6m:soft:0x00200000:0x003F0000 m0:microbit:armv6m:soft:0x00028000:0x0003F000; do
    IFS=: read -r n machine a f stage script <<E
$b
E
    d="$work/$n"
    mod "$d/proof.nmod" "$a" "$f" "$d/board.syms" "$here/modules/proof.c" || continue
    printf 'store format\nproof p %s\n' "$stage" >"$d/proof.txt"
    NM_SCRIPT_ADDR=$script qemu_run "$machine" "$d/fw.elf" "$d/proof.txt" "$d/proof.out" "$d/proof.nmod@$stage"
    st=$?
    if [ $st -eq 0 ] && [ "$(grep -c ': yes$\|: unchanged$' "$d/proof.out")" = 4 ]; then
        ok "proof $a/$f XIP on $n: $(tr '\n' ' ' <"$d/proof.out")"
    else
        bad "proof $a/$f XIP on $n: exit $st" "$d/proof.out"
    fi
done

# ---- multi: two XIP modules and one RAM module at once, unload, reload
d="$work/m3"
mod "$d/hello.nmod" armv7m soft "$d/board.syms" "$top/examples/hello/hello.c"
mod "$d/state.nmod" armv6m soft "$d/board.syms" "$top/examples/state/state.c"
mod "$d/driver.nmod" armv7m soft "$d/board.syms" "$top/examples/driver/driver.c"
qemu_run mps2-an385 "$d/fw.elf" "$here/multi.script" "$d/multi.out" \
    "$d/hello.nmod@0x00200000" "$d/state.nmod@0x00210000" "$d/driver.nmod@0x00220000"
st=$?
if [ $st -eq 0 ] && diff -u "$here/multi.expected" "$d/multi.out" >"$d/multi.diff"; then
    ok "multi: two XIP modules + one RAM module at once, unload and reload"
else
    bad "multi: exit $st" "$d/multi.diff"
fi

# ---- bad input on the M3 board
mod "$d/x64.nmod" x86_64 hard "$d/board.syms" "$top/examples/hello/hello.c"
mod "$d/hard.nmod" armv7em hard "$work/m4f/board.syms" "$top/examples/hello/hello.c"
mod "$d/v7em.nmod" armv7em soft "$d/board.syms" "$top/examples/hello/hello.c"
{ cat "$d/board.syms"; echo "hal_not_on_this_board 0x$(printf '%08x' 0)"; } >"$d/more.syms"
mod "$d/missing.nmod" armv7m soft "$d/more.syms" "$here/modules/missing.c"
# corrupt one text byte of a good module (its CRC no longer matches)
cp "$d/hello.nmod" "$d/corrupt.nmod"
printf '\377' | dd of="$d/corrupt.nmod" bs=1 seek=80 conv=notrunc 2>/dev/null
qemu_run mps2-an385 "$d/fw.elf" "$here/badinput.script" "$d/badinput.out" \
    "$d/x64.nmod@0x00200000" "$d/hard.nmod@0x00210000" "$d/v7em.nmod@0x00220000" \
    "$d/corrupt.nmod@0x00230000" "$d/missing.nmod@0x00240000" "$d/hello.nmod@0x00250000"
st=$?
if [ $st -eq 6 ] && diff -u "$here/badinput.expected" "$d/badinput.out" >"$d/badinput.diff"; then
    ok "badinput: wrong arch, wrong float ABI, newer core, bad CRC, missing import skipped; exit 6"
else
    bad "badinput: exit $st (want 6)" "$d/badinput.diff"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
