#!/bin/sh
# store-map.sh NATMOD TOP EXAMPLES_BUILD_DIR
# `natmod store map`: a store image drawn as SVG. Every map must be
# well-formed XML (tests/cli/svg-summary.py parses it with python3's
# xml.etree), name every installed module (a run of the grid and a row of
# the list, each with a title) and no removed one; free runs join after
# defrag; damaged extents and damaged metadata are drawn as damaged, a lost
# module's image as kept; 4 and 4,096 blocks both lay out; names with XML
# special characters, and bytes no installer would write, are escaped.
# Bad images give one line on stderr naming the image, a distinct exit
# status, never a crash.
set -u
natmod=$1; top=$2; exdir=$3
summary="$top/tests/cli/svg-summary.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! python3 -c 'import xml.etree.ElementTree' 2>/dev/null; then
    echo "FAIL python3 with xml.etree is needed to check the SVG (tools/deps.sh installs python3)"
    exit 1
fi

. "$top/tests/cli/testlib.sh"

eq() {
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi
}
# svg NAME FILE: FILE is a well-formed map; its summary goes to $tmp/sum.
svg() {
    if python3 "$summary" "$2" >"$tmp/sum" 2>"$tmp/sumerr"; then ok; else
        bad "$1: not a well-formed map: $(cat "$tmp/sumerr")"; : >"$tmp/sum"
    fi
}
# Fields of the summary: runs of a class (first word), names, blocks.
count() { awk -F'\t' -v c="$1" '$1 == c' "$tmp/sum" | wc -l | tr -d ' '; }
count_kind() { awk -F'\t' -v k="$1" '{ split($1, w, " ") } w[1] == k' "$tmp/sum" | wc -l | tr -d ' '; }
# (Names go through the environment: awk -v would read backslash escapes.)
named() { # CLASS NAME: lines of that exact class and data-name
    C=$1 N=$2 awk -F'\t' '$1 == ENVIRON["C"] && $3 == ENVIRON["N"]' "$tmp/sum" | wc -l | tr -d ' '
}
named_any() { N=$1 awk -F'\t' '$3 == ENVIRON["N"]' "$tmp/sum" | wc -l | tr -d ' '; }
grid() { awk -F'\t' '$1 == "grid" { print $2 "x" $3 }' "$tmp/sum"; }
stat_of() { # image label [geometry...]
    img=$1; label=$2; shift 2
    "$natmod" store stat "$img" "$@" 2>/dev/null | sed -n "s/^$label: *\([0-9][0-9]*\).*/\1/p"
}
flip() { printf 'Z' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }

# ---- the check can fail: malformed XML, an unescaped '&', a run without a title
printf '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1" viewBox="0 0 1 1"><g></svg>\n' >"$tmp/x1.svg"
printf '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1" viewBox="0 0 1 1"><text>a&b</text></svg>\n' >"$tmp/x2.svg"
printf '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1" viewBox="0 0 1 1"><g class="module"/></svg>\n' >"$tmp/x3.svg"
for x in x1 x2 x3; do
    if python3 "$summary" "$tmp/$x.svg" >/dev/null 2>&1; then bad "harness: svg-summary.py accepted $x.svg"; else ok; fi
done

# ---- before: five modules, one after the other, then the free run
img="$tmp/store.img"
mods="hello state callbacks mathlib driver"
t "format" 0 "$natmod" store format "$img" --size 64K
for m in $mods; do
    t "install $m" 0 "$natmod" store install "$img" "$exdir/$m/$m.nmod"
done
t "map before" 0 "$natmod" store map "$img" -o "$tmp/before.svg"
has "map before" "$tmp/out" "map of $img written to $tmp/before.svg: 16 blocks (16 per row), 5 modules (0 damaged), 1 free run"
svg "map before" "$tmp/before.svg"
for m in $mods; do
    eq "map before: $m is a run of the grid" "$(named module "$m")" 1
    eq "map before: $m is in the module list" "$(named module-row "$m")" 1
done
eq "map before: grid" "$(grid)" "16x1"
eq "map before: free runs" "$(count free)" 1
eq "map before: metadata runs" "$(count meta)" 2
eq "map before: nothing damaged" "$(count_kind damaged)" 0
has "map before: caption" "$tmp/sum" "65536 bytes: 16 blocks of 4096 bytes (prog 16, align 4096); 12 data blocks, 2 metadata areas of 2"
has "map before: caption" "$tmp/sum" "used: 5 modules"
has "map before: the legend says erase counts are not recorded" "$tmp/before.svg" "Erase counts: not shown"
# stdout: without -o, and with -o -
t "map to stdout" 0 "$natmod" store map "$img"
if cmp -s "$tmp/out" "$tmp/before.svg"; then ok; else bad "map to stdout differs from map -o FILE"; fi
t "map -o -" 0 "$natmod" store map "$img" -o -
if cmp -s "$tmp/out" "$tmp/before.svg"; then ok; else bad "map -o - differs from map -o FILE"; fi

# ---- rm two modules: three free runs; defrag: one, the modules packed from block 0
t "rm state" 0 "$natmod" store rm "$img" state
t "rm mathlib" 0 "$natmod" store rm "$img" mathlib
t "map holes" 0 "$natmod" store map "$img" -o "$tmp/holes.svg"
svg "map holes" "$tmp/holes.svg"
eq "map holes: free runs" "$(count free)" 3
eq "map holes: state is gone" "$(named_any state)" 0
t "defrag" 0 "$natmod" store defrag "$img"
t "map after" 0 "$natmod" store map "$img" -o "$tmp/after.svg"
has "map after" "$tmp/out" "3 modules (0 damaged), 1 free run"
svg "map after" "$tmp/after.svg"
for m in hello callbacks driver; do
    eq "map after: $m is named" "$(named module "$m")" 1
done
for m in state mathlib; do
    eq "map after: removed $m is not named" "$(named_any "$m")" 0
    if grep -qF "data-name=\"$m\"" "$tmp/after.svg"; then bad "map after: $m still in the SVG"; else ok; fi
done
eq "map after: free runs" "$(count free)" 1
eq "map after: extents packed from block 0" \
    "$(awk -F'\t' '$1 == "module" { print $2 }' "$tmp/sum" | tr '\n' ' ')" "0-0 1-1 2-2 "
eq "map after: the free run" "$(awk -F'\t' '$1 == "free" { print $2 }' "$tmp/sum")" "3-11"

# ---- damage
dimg="$tmp/damage.img"
t "damage: format" 0 "$natmod" store format "$dimg" --size 64K
for m in $mods; do
    t "damage: install $m" 0 "$natmod" store install "$dimg" "$exdir/$m/$m.nmod"
done
# A flipped byte in state's body: mount cannot see it, the map's CRC check does.
cp "$dimg" "$tmp/flip.img"
flip "$tmp/flip.img" $((4096 + 200))
t "flipped extent: map" 0 "$natmod" store map "$tmp/flip.img" -o "$tmp/flip.svg"
has "flipped extent: map" "$tmp/out" "5 modules (1 damaged)"
svg "flipped extent: map" "$tmp/flip.svg"
eq "flipped extent: state drawn damaged" "$(named "module damaged" state)" 1
eq "flipped extent: state listed damaged" "$(named "module-row damaged" state)" 1
eq "flipped extent: only state" "$(count_kind module)" 5
eq "flipped extent: one damaged run" "$(count "module damaged")" 1
# A flipped INSTALL record (callbacks'): that metadata block is damaged, and
# callbacks' image, which no record names now, is kept, not free.
data_blocks=$(stat_of "$dimg" "data blocks")
meta_at=$((data_blocks * 4096))
cp "$dimg" "$tmp/meta.img"
rec=$(LC_ALL=C grep -abo callbacks "$tmp/meta.img" | cut -d: -f1 | awk -v m="$meta_at" '$1 >= m { print; exit }')
if [ -n "$rec" ]; then ok; else bad "metadata: no record naming callbacks"; rec=$meta_at; fi
flip "$tmp/meta.img" "$rec"
t "bad record: map" 0 "$natmod" store map "$tmp/meta.img" -o "$tmp/meta.svg"
has "bad record: map" "$tmp/out" "1 damaged metadata block, 1 kept block"
svg "bad record: map" "$tmp/meta.svg"
eq "bad record: a damaged metadata run" "$(count "meta damaged")" 1
eq "bad record: callbacks' block is kept" "$(awk -F'\t' '$1 == "kept" { print $2 }' "$tmp/sum")" "2-2"
eq "bad record: callbacks is not a module" "$(named_any callbacks)" 0
# Random bytes over every data block: every module damaged, still a picture.
cp "$dimg" "$tmp/noise.img"
head -c "$meta_at" /dev/urandom | dd of="$tmp/noise.img" conv=notrunc 2>/dev/null
t "noise in the data: map" 0 "$natmod" store map "$tmp/noise.img" -o "$tmp/noise.svg"
svg "noise in the data: map" "$tmp/noise.svg"
eq "noise in the data: every module damaged" "$(count "module damaged")" 5
# Random bytes over the other (erased) metadata area: drawn damaged, the store still mounts.
cp "$dimg" "$tmp/noise2.img"
head -c 8192 /dev/urandom | dd of="$tmp/noise2.img" bs=1 seek=$((meta_at + 8192)) conv=notrunc 2>/dev/null
t "noise in the other area: map" 0 "$natmod" store map "$tmp/noise2.img" -o "$tmp/noise2.svg"
svg "noise in the other area: map" "$tmp/noise2.svg"
if [ "$(count "meta damaged")" -ge 1 ]; then ok; else bad "noise in the other area: not drawn damaged"; fi
eq "noise in the other area: modules" "$(count module)" 5
# Flipped bytes all over the metadata, one image each: a map or one line, never a crash.
python3 - "$dimg" "$meta_at" "$tmp" <<'EOF'
import random, sys
img, meta_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(img, "rb").read()
rng = random.Random(15)
for i in range(40):
    b = bytearray(data)
    for _ in range(1 + i % 4):
        at = rng.randrange(meta_at, meta_at + 4096 if i % 2 else len(b))
        b[at] ^= 1 << rng.randrange(8)
    open(f"{out}/fuzz{i}.img", "wb").write(b)
EOF
i=0; drawn=""
while [ $i -lt 40 ]; do
    f="$tmp/fuzz$i.img"
    "$natmod" store map "$f" -o "$tmp/fuzz$i.svg" >"$tmp/out" 2>"$tmp/err"
    st=$?
    if [ $st -ge 128 ]; then bad "flipped metadata $i: crash (signal $((st - 128)))"
    elif [ $st = 0 ]; then drawn="$drawn $tmp/fuzz$i.svg"; ok
    elif [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF "$f" "$tmp/err"; then ok
    else bad "flipped metadata $i: exit $st without one line naming the image"; cat "$tmp/err"; fi
    i=$((i + 1))
done
# One python3 for all of them (it takes a while to start).
# shellcheck disable=SC2086
if [ -n "$drawn" ] && python3 -c '
import sys, xml.etree.ElementTree as ET
for f in sys.argv[1:]:
    ET.parse(f)
' $drawn; then ok; else bad "flipped metadata: no map drawn, or one not well-formed"; fi

# ---- 4 blocks and 4,096 blocks
t "4 blocks: format" 0 "$natmod" store format "$tmp/four.img" --blocks 4 --meta-blocks 1
t "4 blocks: install" 0 "$natmod" store install "$tmp/four.img" "$exdir/hello/hello.nmod"
t "4 blocks: map" 0 "$natmod" store map "$tmp/four.img" -o "$tmp/four.svg"
svg "4 blocks: map" "$tmp/four.svg"
eq "4 blocks: one row of four" "$(grid)" "4x1"
eq "4 blocks: hello" "$(named module hello)" 1
has "4 blocks: caption" "$tmp/sum" "4 blocks of 4096 bytes"
g512="--block-size 512 --align 512"
# shellcheck disable=SC2086
t "4096 blocks: format" 0 "$natmod" store format "$tmp/big.img" --blocks 4096 $g512
for m in $(cat "$top/examples/LIST"); do
    # shellcheck disable=SC2086
    t "4096 blocks: install $m" 0 "$natmod" store install "$tmp/big.img" "$exdir/$m/$m.nmod" $g512
done
# shellcheck disable=SC2086
t "4096 blocks: map" 0 "$natmod" store map "$tmp/big.img" -o "$tmp/big.svg" $g512
svg "4096 blocks: map" "$tmp/big.svg"
eq "4096 blocks: 64 x 64" "$(grid)" "64x64"
for m in $(cat "$top/examples/LIST"); do
    eq "4096 blocks: $m" "$(named module "$m")" 1
done
size=$(wc -c <"$tmp/big.svg" | tr -d ' ')
if [ "$size" -lt 200000 ]; then ok; else bad "4096 blocks: the SVG is $size bytes"; fi
# More blocks than a map draws: one line.
t "65537 blocks: format" 0 "$natmod" store format "$tmp/huge.img" --blocks 65537 --block-size 64 --prog-size 16 --align 64
t "65537 blocks: map refused" 17 "$natmod" store map "$tmp/huge.img" --block-size 64 --align 64
has "65537 blocks: map refused" "$tmp/err" "store $tmp/huge.img: 65537 blocks: a map draws 1 to 65536"

# ---- names: XML special characters (the installer allows them), then bytes only a crafted image holds
nimg="$tmp/names.img"
t "names: format" 0 "$natmod" store format "$nimg" --size 64K
t "names: install a<b&c\"d>" 0 "$natmod" store install "$nimg" "$exdir/hello/hello.nmod" --name 'a<b&c"d>'
t "names: install it's" 0 "$natmod" store install "$nimg" "$exdir/state/state.nmod" --name "it's"
t "names: map" 0 "$natmod" store map "$nimg" -o "$tmp/names.svg"
svg "names: map" "$tmp/names.svg"
eq "names: a<b&c\"d> named exactly" "$(named module 'a<b&c"d>')" 1
eq "names: it's named exactly" "$(named module "it's")" 1
eq "names: titles carry the name" "$(awk -F'\t' '$1 == "module" && $3 == $4' "$tmp/sum" | wc -l | tr -d ' ')" 2
# Rewrite hello's INSTALL record with a name of control, '<' and non-ASCII bytes (record CRC made right).
cp "$img" "$tmp/hostile.img"
python3 - "$tmp/hostile.img" "$meta_at" <<'EOF'
import sys, zlib
path, meta_at = sys.argv[1], int(sys.argv[2])
b = bytearray(open(path, "rb").read())
n = 0
at = b.find(b"hello\0", meta_at)
while at >= 0:
    rec = at - 8
    if (rec - meta_at) % 64 == 0 and b[rec] in (2, 5):
        b[rec + 8:rec + 32] = b"\x01<&\xff\"]]>\x7f".ljust(24, b"\0")
        b[rec + 60:rec + 64] = zlib.crc32(bytes(b[rec:rec + 60])).to_bytes(4, "little")
        n += 1
    at = b.find(b"hello\0", at + 1)
open(path, "wb").write(b)
sys.exit(0 if n else 1)
EOF
if [ $? = 0 ]; then ok; else bad "hostile name: no record of hello to rewrite"; fi
t "hostile name: map" 0 "$natmod" store map "$tmp/hostile.img" -o "$tmp/hostile.svg"
svg "hostile name: map" "$tmp/hostile.svg"
eq "hostile name: shown as escapes" "$(named module '\x01<&\xFF"]]>\x7F')" 1
if LC_ALL=C grep -q "$(printf '[\001\177\377]')" "$tmp/hostile.svg"; then bad "hostile name: raw bytes in the SVG"; else ok; fi

# The image's own name goes into the caption: escaped too.
cp "$img" "$tmp/a&b<c\"d'$(printf '\001\377').img"
t "image name: map" 0 "$natmod" store map "$tmp/a&b<c\"d'$(printf '\001\377').img" -o "$tmp/iname.svg"
svg "image name: map" "$tmp/iname.svg"
has "image name: caption" "$tmp/sum" "a&b<c\"d'\x01\xFF.img: natmod module store"

# ---- bad images: one line naming the image, never a crash
head -c 65536 /dev/zero >"$tmp/zero.img"
t "not a store" 9 "$natmod" store map "$tmp/zero.img"
has "not a store" "$tmp/err" "store $tmp/zero.img: no store here"
head -c 65536 /dev/urandom >"$tmp/random.img"
t "random bytes" 9 "$natmod" store map "$tmp/random.img" -o "$tmp/r.svg"
if [ -e "$tmp/r.svg" ]; then bad "random bytes: an SVG was written"; else ok; fi
head -c 32768 "$img" >"$tmp/half.img"
t "truncated to half" 9 "$natmod" store map "$tmp/half.img"
has "truncated to half" "$tmp/err" "half.img"
head -c 10000 "$img" >"$tmp/cut.img"
t "truncated mid-block" 1 "$natmod" store map "$tmp/cut.img"
has "truncated mid-block" "$tmp/err" "cut.img"
: >"$tmp/empty.img"
t "empty image" 1 "$natmod" store map "$tmp/empty.img"
t "missing image" 14 "$natmod" store map "$tmp/no-such.img"
has "missing image" "$tmp/err" "no-such.img"
t "directory as image" 2 "$natmod" store map "$tmp"
t "wrong geometry" 9 "$natmod" store map "$img" --block-size 8192
cp "$img" "$tmp/hdr.img"
for off in $(LC_ALL=C grep -abo NMST "$tmp/hdr.img" | cut -d: -f1); do
    [ "$off" -ge "$meta_at" ] && flip "$tmp/hdr.img" $((off + 1))
done
t "no intact metadata" 9 "$natmod" store map "$tmp/hdr.img"
has "no intact metadata" "$tmp/err" "store $tmp/hdr.img:"

# ---- usage
t "map without IMAGE" 1 "$natmod" store map
t "map unknown option" 1 "$natmod" store map "$img" --frob
t "map -o without a file" 1 "$natmod" store map "$img" -o
# Not a regular file: written in place, never renamed over (as root that would replace /dev/null).
t "map -o /dev/null" 0 "$natmod" store map "$img" -o /dev/null
if [ -c /dev/null ]; then ok; else bad "map -o /dev/null: /dev/null is no longer a device"; fi
t "map to a missing directory" 2 "$natmod" store map "$img" -o "$tmp/no/such/dir/m.svg"
has "map to a missing directory" "$tmp/err" "$tmp/no/such/dir/m.svg"
t "store help" 0 "$natmod" store --help
has "store help" "$tmp/out" "map     IMAGE [-o OUT.svg]"

finish
