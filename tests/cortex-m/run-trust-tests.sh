#!/bin/sh
# run-trust-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# The signature policy on the Cortex-M board (docs/trust.md), on the M0
# (micro:bit, armv6m soft float) and the M4F (mps2-an386, armv7emsp hard
# float), each firmware built with one trusted key (NATMOD_TRUST):
#   - an unsigned module, one signed by an unknown key, and a signed one
#     with a bit of its text flipped (CRC made right) are refused in RAM
#     mode and in XIP mode (store install), one line each naming the
#     module and the reason; none of them runs its init;
#   - a good one installs and runs in place; an older version of it
#     (rollback) is refused; the store, saved before the refusals and
#     after them, is byte-identical;
#   - a second boot mounts the store and loads the installed module in
#     place without verifying its signature again (the install did).
# A firmware without keys takes the unsigned module (run-board-tests.sh
# and the examples).
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/cortex-m"
. "$port/qemu.sh"
mkdir -p "$work"
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -30 "$2"; }

rm -f "$work/dev.key" "$work/dev.pub" "$work/other.key" "$work/other.pub"
"$natmod" keygen "$work/dev" >/dev/null && "$natmod" keygen "$work/other" >/dev/null ||
    { bad "keygen" /dev/null; echo "$pass passed, $fail failed"; exit 1; }

# a copy of a module with one text byte flipped and the CRC made right
tamper() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], 'rb').read())
b[70] ^= 1
b[12:16] = struct.pack('<I', zlib.crc32(bytes(b[:12]) + bytes(b[16:])) & 0xffffffff)
open(sys.argv[2], 'wb').write(b)
EOF
}

board() { # name machine arch float stage script-addr cpu-flags...
    n=$1; machine=$2; a=$3; f=$4; stage=$5; script=$6; shift 6
    d="$work/$n"
    mkdir -p "$d"
    NATMOD_TRUST="$work/dev.pub" "$port/build-fw.sh" "$gen" "$top" "$d" "$@" >"$d/fw.log" 2>&1 ||
        { bad "$n: firmware with a trusted key" "$d/fw.log"; return; }
    h="$top/examples/hello/hello.c"
    b() { "$natmod" build -q --arch "$a" --float "$f" --syms "$d/board.syms" "$@" "$h"; }
    b -o "$d/u.nmod" && b --sign "$work/other.key" -o "$d/o.nmod" &&
        b --sign "$work/dev.key" --version 2 -o "$d/g.nmod" &&
        b --sign "$work/dev.key" --version 1 -o "$d/old.nmod" && tamper "$d/g.nmod" "$d/t.nmod" ||
        { bad "$n: modules" /dev/null; return; }
    s0=$stage
    s1=$(printf '0x%08x' $((stage + 0x1000))); s2=$(printf '0x%08x' $((stage + 0x2000)))
    s3=$(printf '0x%08x' $((stage + 0x3000))); s4=$(printf '0x%08x' $((stage + 0x4000)))
    {
        echo "store format"
        echo "load u $s0 ram"
        echo "load o $s1 ram"
        echo "load t $s2 ram"
        echo "store install g $s3"
        echo "load g store"
        echo "call g hello 3"
        echo "store save $d/before.bin"
        echo "load u2 $s0 xip"
        echo "load o2 $s1 xip"
        echo "load t2 $s2 xip"
        echo "store install old $s4"
        echo "store save $d/after.bin"
        echo "call g hello 4"
    } >"$d/boot1.txt"
    NM_SCRIPT_ADDR=$script qemu_run "$machine" "$d/fw.elf" "$d/boot1.txt" "$d/boot1.out" \
        "$d/u.nmod@$s0" "$d/o.nmod@$s1" "$d/t.nmod@$s2" "$d/g.nmod@$s3" "$d/old.nmod@$s4"
    st=$?
    e="$d/boot1.out"
    if [ $st -eq 24 ] && [ "$(grep -c '^error: ' "$e")" = 7 ] && grep -q '^store: installed g ' "$e" &&
        grep -q "^error: line 2: load u: not trusted: module 'hello': not signed" "$e" &&
        grep -q "^error: line 3: load o: not trusted: module 'hello' key [0-9a-f]\{16\}: signed by a key this board does not trust" "$e" &&
        grep -q "^error: line 4: load t: not trusted: module 'hello' key [0-9a-f]\{16\}: bad signature" "$e" &&
        grep -q "^error: line 9: load u2: not trusted: module 'hello': not signed" "$e" &&
        grep -q "^error: line 10: load o2: not trusted: .*does not trust" "$e" &&
        grep -q "^error: line 11: load t2: not trusted: .*bad signature" "$e" &&
        grep -q "^error: line 12: store install old: not trusted: module 'hello' version 1 is older than installed 'g' version 2" "$e" &&
        [ "$(grep -c '^hello: init' "$e")" = 1 ] && grep -q '^hello(3) = 7$' "$e" && grep -q '^hello(4) = 9$' "$e"; then
        ok "$n ($a/$f): unsigned, unknown key, tampered (RAM and XIP) and rollback refused, one line each; a good one runs in place"
    else
        bad "$n ($a/$f): refusals: exit $st (want 24)" "$e"
    fi
    if [ -s "$d/before.bin" ] && cmp -s "$d/before.bin" "$d/after.bin"; then
        ok "$n: the store is byte-identical before and after the refused installs"
    else
        bad "$n: the store changed across refused installs" /dev/null
    fi
    # boot 2: the saved store put back; the installed module loads in place
    printf 'store ls\nload g store\ncall g hello 5\n' >"$d/boot2.txt"
    flash=$(sed -n 's/^store: formatted .* at \(0x[0-9a-f]*\) .*/\1/p' "$e")
    NM_SCRIPT_ADDR=$script qemu_run "$machine" "$d/fw.elf" "$d/boot2.txt" "$d/boot2.out" "$d/after.bin@$flash"
    st=$?
    if [ $st -eq 0 ] && grep -q '^hello(5) = 11$' "$d/boot2.out"; then
        ok "$n: second boot: the verified install loads in place (flag SIG_CHECKED, no second verify)"
    else
        bad "$n: second boot: exit $st" "$d/boot2.out"
    fi
}

board m0 microbit armv6m soft 0x00028000 0x0003F000 NM_ARCH_ARMV6M NM_FLOAT_SOFT -mcpu=cortex-m0 -mfloat-abi=soft \
    >"$work/m0.log" 2>&1 &
p1=$!
board m4f mps2-an386 armv7em hard 0x00200000 0x003F0000 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD -mcpu=cortex-m4 \
    -mfloat-abi=hard -mfpu=fpv4-sp-d16 >"$work/m4f.log" 2>&1 &
p2=$!
wait $p1 $p2
cat "$work/m0.log" "$work/m4f.log"
pass=$(cat "$work/m0.log" "$work/m4f.log" | grep -c '^ok ')
fail=$(cat "$work/m0.log" "$work/m4f.log" | grep -c '^FAIL ')
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -eq 6 ]
