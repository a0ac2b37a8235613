#!/bin/sh
# store-cli.sh NATMOD TOP EXAMPLES_BUILD_DIR
# `natmod store` and `natmod run --store` end to end on the examples built
# by the tree: format an image, install every example (universal modules:
# only the x86_64 slice is written), list it, run each module in place from
# the image and compare its output with the example's expected.txt (the
# same check as the host example tests, examples/check-run.sh), replace,
# remove, defragment, stat, check; then bad images and bad modules: every
# failure is one line on stderr naming the image, a distinct exit status,
# and never a crash.
set -u
natmod=$1; top=$2; exdir=$3
checkrun="$top/examples/check-run.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
examples=$(cat "$top/examples/LIST")

. "$top/tests/cli/testlib.sh"

lacks() {
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' should not be in $(basename "$2")"; sed 's/^/    | /' "$2"; else ok; fi
}
# eq NAME GOT WANT
eq() {
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi
}
# The example's calls and expected output, run from the store (check-run.sh
# passes the options before the module: natmod run --store IMG NAME CALLS).
runs() { # name image module-name example [run options...]
    rname=$1; rimg=$2; rmod=$3; rex=$4; shift 4
    if sh "$checkrun" "$natmod" "$rmod" "$top/examples/$rex/calls.txt" "$top/examples/$rex/expected.txt" \
        --store "$rimg" "$@" >"$tmp/run" 2>&1; then ok; else bad "$rname"; sed 's/^/    /' "$tmp/run"; fi
}
# A field of `natmod store stat`: the first number after "LABEL:".
stat_of() { # image label [geometry...]
    img=$1; label=$2; shift 2
    "$natmod" store stat "$img" "$@" 2>/dev/null | sed -n "s/^$label: *\([0-9][0-9]*\).*/\1/p"
}
# The offset column of NAME in `natmod store ls`.
offset_of() { # image name
    "$natmod" store ls "$1" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}
flip() { # file byte-offset: write 0x5A there (a different byte from anything erased or zero)
    printf 'Z' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

img="$tmp/store.img"

# ---- the harness can fail: output compared against another example's expected output
if sh "$checkrun" "$natmod" "$exdir/hello/hello.x86_64.nmod" "$top/examples/hello/calls.txt" \
    "$top/examples/state/expected.txt" >/dev/null 2>&1; then
    bad "harness: check-run.sh accepted the wrong expected output"
else ok; fi

# ---- format, empty store
t "format" 0 "$natmod" store format "$img"
has "format" "$tmp/out" "256 blocks of 4096 bytes (1048576 bytes), prog 16, align 4096"
eq "format: image size" "$(wc -c <"$img" | tr -d ' ')" 1048576
t "ls empty" 0 "$natmod" store ls "$img"
has "ls empty" "$tmp/out" "(no modules)"
t "check empty" 0 "$natmod" store check "$img"
has "check empty" "$tmp/out" "0 modules ok"
eq "stat empty: modules" "$(stat_of "$img" modules)" 0

# ---- install every example (the universal module: its x86_64 slice)
n=0
for ex in $examples; do
    t "install $ex" 0 "$natmod" store install "$img" "$exdir/$ex/$ex.nmod"
    has "install $ex" "$tmp/out" "installed $ex: offset 0x"
    has "install $ex" "$tmp/out" "slice of a universal module"
    # x86_64 only: the slice alone is written, never the container.
    has "install $ex" "$tmp/out" "(x86_64/hard"
    if grep -q "offset 0x[0-9a-f]*000," "$tmp/out"; then ok; else bad "install $ex: extent not on a 4096-byte page"; cat "$tmp/out"; fi
    slice=$(wc -c <"$exdir/$ex/$ex.x86_64.nmod" | tr -d ' ')
    has "install $ex: slice bytes written" "$tmp/out" ", $slice bytes,"
    n=$((n + 1))
done
t "ls" 0 "$natmod" store ls "$img"
for ex in $examples; do
    if grep -q "^$ex " "$tmp/out"; then ok; else bad "ls: $ex not listed"; fi
done
has "ls" "$tmp/out" "$n modules"
eq "stat: modules" "$(stat_of "$img" modules)" "$n"
t "stat" 0 "$natmod" store stat "$img"
for f in "geometry:" "data blocks:" "meta blocks:" "used blocks:" "free blocks:" "largest free:" \
    "modules:" "generation:" "sequence:" "log:" "bad records:   0" "rw arena:" "erases:" \
    "most worn:     block 0 (1 erase)" "wear spread:" "(0 malformed, ignored)"; do
    has "stat" "$tmp/out" "$f"
done

# ---- run every example in place from the store: the same output as from RAM
for ex in $examples; do
    runs "run --store $ex" "$img" "$ex" "$ex"
done
t "check" 0 "$natmod" store check "$img"
has "check" "$tmp/out" "$n modules ok"
lacks "check" "$tmp/out" "DAMAGED"

# ---- replace: installing a name again commits the new content
t "install swap (hello)" 0 "$natmod" store install "$img" "$exdir/hello/hello.x86_64.nmod" --name swap
lacks "install swap (hello)" "$tmp/out" "universal"
t "run swap (hello)" 0 "$natmod" run --store "$img" swap hello:1
has "run swap (hello)" "$tmp/out" "hello(1) = 3"
# --map: the board's vmap after the load: the window region, the module's
# flash pages (FLASH0, read+execute, from the image) and its RAM right after.
t "run --map swap (hello)" 0 "$natmod" run --store "$img" --map swap hello:1
has "run --map swap (hello)" "$tmp/out" "region 0 host"
has "run --map swap (hello)" "$tmp/out" "-> flash 0x"
has "run --map swap (hello)" "$tmp/out" "caps XR-32-"
has "run --map swap (hello)" "$tmp/out" "-> psram 0x"
has "run --map swap (hello)" "$tmp/out" "caps -RW328"
has "run --map swap (hello)" "$tmp/out" "hello(1) = 3"
# The RAM block starts where the flash block ends (MMU adjacency).
flash_end=$(sed -n 's/^  0x[0-9a-f]*-\(0x[0-9a-f]*\) -> flash.*/\1/p' "$tmp/out")
ram_start=$(sed -n 's/^  \(0x[0-9a-f]*\)-0x[0-9a-f]* -> psram.*/\1/p' "$tmp/out")
if [ -n "$flash_end" ]; then ok; else bad "run --map: no flash block line"; fi
eq "run --map: RAM right after flash" "$ram_start" "$flash_end"
t "replace swap (state)" 0 "$natmod" store install "$img" "$exdir/state/state.x86_64.nmod" --name swap
has "replace swap (state)" "$tmp/out" "replaces the swap at"
t "run swap (state)" 0 "$natmod" run --store "$img" swap state_bump:5
has "run swap (state)" "$tmp/out" "state_bump(5) = 105"
t "run swap: the old content is gone" 14 "$natmod" run --store "$img" swap hello:1
has "run swap: old" "$tmp/err" "no export 'hello'"
eq "ls: swap listed once" "$("$natmod" store ls "$img" | grep -c '^swap ')" 1
eq "stat: replace adds one module" "$(stat_of "$img" modules)" $((n + 1))

# ---- remove
t "rm swap" 0 "$natmod" store rm "$img" swap
has "rm swap" "$tmp/out" "removed swap"
t "ls after rm" 0 "$natmod" store ls "$img"
lacks "ls after rm" "$tmp/out" "swap "
t "run removed" 14 "$natmod" run --store "$img" swap hello:1
has "run removed" "$tmp/err" "store $img: module 'swap' is not installed"
t "rm again" 14 "$natmod" store rm "$img" swap
has "rm again" "$tmp/err" "store $img"
eq "stat after rm" "$(stat_of "$img" modules)" "$n"

# ---- an image a module runs from is locked against changes by another process
"$natmod" run --store "$img" ticker ticker_start:50 ticker_wait:40 ticker_stop >"$tmp/bg" 2>&1 &
bg=$!
i=0
while ! grep -q 'ticker_start(50) = 0' "$tmp/bg" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
t "locked: rm while running" 19 "$natmod" store rm "$img" hello
has "locked: rm while running" "$tmp/err" "in use by another process"
t "locked: ls while running" 0 "$natmod" store ls "$img"
wait $bg
has "locked: the runner" "$tmp/bg" "ticker_wait(40) = 40"

# ---- defragment: remove a module in the middle, the free space joins up
dimg="$tmp/defrag.img"
t "defrag: format" 0 "$natmod" store format "$dimg" --size 64K
for ex in hello state callbacks mathlib; do
    t "defrag: install $ex" 0 "$natmod" store install "$dimg" "$exdir/$ex/$ex.x86_64.nmod"
done
t "defrag: rm state" 0 "$natmod" store rm "$dimg" state
before=$(stat_of "$dimg" "largest free")
t "defrag" 0 "$natmod" store defrag "$dimg"
has "defrag" "$tmp/out" "moved callbacks:"
has "defrag" "$tmp/out" "moved mathlib:"
has "defrag" "$tmp/out" "2 moves, 2 blocks"
has "defrag" "$tmp/out" "largest free run $before -> $((before + 1)) blocks; done"
after=$(stat_of "$dimg" "largest free")
eq "defrag: largest free run grows by the hole" "$after" $((before + 1))
offs=$("$natmod" store ls "$dimg" | awk '$2 ~ /^0x/ { print $2 }' | sort | tr '\n' ' ')
eq "defrag: extents packed from the start" "$offs" "0x00000000 0x00001000 0x00002000 "
for ex in hello callbacks mathlib; do
    runs "defrag: $ex runs after the move" "$dimg" "$ex" "$ex"
done
t "defrag: check" 0 "$natmod" store check "$dimg"
has "defrag: check" "$tmp/out" "3 modules ok"
t "defrag: nothing left" 0 "$natmod" store defrag "$dimg"
has "defrag: nothing left" "$tmp/out" "0 moves"
# With a budget: one block per call.
t "defrag: rm hello" 0 "$natmod" store rm "$dimg" hello
t "defrag --budget 1" 0 "$natmod" store defrag "$dimg" --budget 1
has "defrag --budget 1" "$tmp/out" "1 move, 1 block"
has "defrag --budget 1" "$tmp/out" "budget spent"
t "defrag --budget 1 again" 0 "$natmod" store defrag "$dimg" --budget 1
has "defrag --budget 1 again" "$tmp/out" "1 move, 1 block"
t "defrag: done" 0 "$natmod" store defrag "$dimg" --budget 1
has "defrag: done" "$tmp/out" "0 moves"
has "defrag: done" "$tmp/out" "; done"
t "defrag --budget x" 1 "$natmod" store defrag "$dimg" --budget x

# ---- other geometries: the options of format are needed to open the image
gimg="$tmp/geom.img"
t "format geometry" 0 "$natmod" store format "$gimg" --blocks 32 --block-size 8K --prog-size 64 --meta-blocks 2
has "format geometry" "$tmp/out" "32 blocks of 8192 bytes (262144 bytes), prog 64"
eq "format geometry: meta blocks" "$(stat_of "$gimg" "meta blocks" --block-size 8192 --prog-size 64)" 4
t "install geometry" 0 "$natmod" store install "$gimg" "$exdir/callbacks/callbacks.nmod" --block-size 8192 --prog-size 64
runs "run --store geometry" "$gimg" callbacks callbacks --block-size 8192 --prog-size 64
t "run --store --block-size" 0 "$natmod" run --store "$gimg" --block-size 8192 --prog-size 64 callbacks callbacks_sort
has "run --store --block-size" "$tmp/out" "callbacks_sort() = 91"
t "geometry: wrong block size" 9 "$natmod" store ls "$gimg"
has "geometry: wrong block size" "$tmp/err" "store $gimg:"
aimg="$tmp/align.img"
t "format --align 64K" 0 "$natmod" store format "$aimg" --size 512K --align 64K
t "install --align 64K (1)" 0 "$natmod" store install "$aimg" "$exdir/hello/hello.nmod" --align 64K
t "install --align 64K (2)" 0 "$natmod" store install "$aimg" "$exdir/state/state.nmod" --align 64K
has "install --align 64K" "$tmp/out" "offset 0x00010000"
t "format --size not whole blocks" 1 "$natmod" store format "$tmp/x.img" --size 1000
has "format --size not whole blocks" "$tmp/err" "store $tmp/x.img"
t "format --block-size 3000" 1 "$natmod" store format "$tmp/x.img" --block-size 3000
t "format --size 8K (no room)" 1 "$natmod" store format "$tmp/x.img" --size 8K
if [ -e "$tmp/x.img" ] || [ -e "$tmp/x.img.tmp" ]; then bad "format: a failed format left a file"; else ok; fi
# A failed format leaves an existing image as it was.
cp "$img" "$tmp/keep.img"
t "format over an image, bad size" 1 "$natmod" store format "$tmp/keep.img" --size 1000
if cmp -s "$img" "$tmp/keep.img"; then ok; else bad "format: a failed format changed the image"; fi

# ---- bad images: one line naming the image, never a crash
head -c 1048576 /dev/zero >"$tmp/zero.img"
for cmd in ls stat check defrag; do
    t "not a store: $cmd" 9 "$natmod" store "$cmd" "$tmp/zero.img"
    has "not a store: $cmd" "$tmp/err" "store $tmp/zero.img: no store here"
done
t "not a store: rm" 9 "$natmod" store rm "$tmp/zero.img" hello
t "not a store: install" 9 "$natmod" store install "$tmp/zero.img" "$exdir/hello/hello.nmod"
t "not a store: run" 9 "$natmod" run --store "$tmp/zero.img" hello hello:1
head -c 1048576 /dev/urandom >"$tmp/random.img"
t "random bytes: ls" 9 "$natmod" store ls "$tmp/random.img"
t "random bytes: run" 9 "$natmod" run --store "$tmp/random.img" hello
t "module as image" 1 "$natmod" store ls "$exdir/hello/hello.nmod"
has "module as image" "$tmp/err" "hello.nmod"
t "missing image" 14 "$natmod" store ls "$tmp/no-such.img"
has "missing image" "$tmp/err" "no-such.img"
t "directory as image" 2 "$natmod" store ls "$tmp"
# Truncated: half the blocks (the metadata at the end is gone), not whole blocks, empty.
head -c 524288 "$img" >"$tmp/half.img"
t "truncated to half: ls" 9 "$natmod" store ls "$tmp/half.img"
t "truncated to half: run" 9 "$natmod" run --store "$tmp/half.img" hello hello:1
head -c 100000 "$img" >"$tmp/cut.img"
t "truncated mid-block" 1 "$natmod" store ls "$tmp/cut.img"
has "truncated mid-block" "$tmp/err" "cut.img"
: >"$tmp/empty.img"
t "empty image" 1 "$natmod" store check "$tmp/empty.img"

# ---- damaged metadata: one record (a module's INSTALL record) ...
data_blocks=$(stat_of "$img" "data blocks")
meta_at=$((data_blocks * 4096))
cp "$img" "$tmp/meta.img"
rec=$(LC_ALL=C grep -abo callbacks "$tmp/meta.img" | cut -d: -f1 | awk -v m="$meta_at" '$1 >= m { print; exit }')
if [ -n "$rec" ]; then ok; else bad "metadata: no record naming callbacks after $meta_at"; rec=$meta_at; fi
flip "$tmp/meta.img" "$rec"
t "bad record: ls" 0 "$natmod" store ls "$tmp/meta.img"
lacks "bad record: ls" "$tmp/out" "callbacks "
has "bad record: ls" "$tmp/out" "1 metadata record"
t "bad record: check" 9 "$natmod" store check "$tmp/meta.img"
has "bad record: check" "$tmp/err" "store $tmp/meta.img: 1 damaged metadata record"
eq "bad record: stat" "$(stat_of "$tmp/meta.img" "bad records")" 1
runs "bad record: hello still runs" "$tmp/meta.img" hello hello
t "bad record: lost module" 14 "$natmod" run --store "$tmp/meta.img" callbacks callbacks_sort
# ... in a small store: the lost module's image is kept (docs/store.md §4,
# degraded): installs fill every other block and never overwrite it.
kimg="$tmp/kept.img"
t "kept: format" 0 "$natmod" store format "$kimg" --size 64K
for ex in hello state callbacks mathlib; do
    t "kept: install $ex" 0 "$natmod" store install "$kimg" "$exdir/$ex/$ex.nmod"
done
koff=$(offset_of "$kimg" callbacks)
kmeta=$(($(stat_of "$kimg" "data blocks") * 4096))
rec=$(LC_ALL=C grep -abo callbacks "$kimg" | cut -d: -f1 | awk -v m="$kmeta" '$1 >= m { print; exit }')
flip "$kimg" "${rec:-$kmeta}"
k=0
while [ $k -lt 20 ] && "$natmod" store install "$kimg" "$exdir/hello/hello.nmod" --name "fill$k" >/dev/null 2>&1; do
    k=$((k + 1))
done
eq "kept: every other data block filled" "$k" 8
t "kept: then full" 21 "$natmod" store install "$kimg" "$exdir/hello/hello.nmod" --name last
slice="$exdir/callbacks/callbacks.x86_64.nmod"
if dd if="$kimg" bs=4096 skip=$((koff / 4096)) count=1 2>/dev/null | head -c "$(wc -c <"$slice")" | cmp -s - "$slice"; then
    ok
else
    bad "kept: the lost module's image was overwritten"
fi
# ... and the area headers (every "NMST" magic): no intact metadata at all.
cp "$img" "$tmp/hdr.img"
for off in $(LC_ALL=C grep -abo NMST "$tmp/hdr.img" | cut -d: -f1); do
    [ "$off" -ge "$meta_at" ] && flip "$tmp/hdr.img" $((off + 1))
done
t "bad header: ls" 9 "$natmod" store ls "$tmp/hdr.img"
has "bad header: ls" "$tmp/err" "store $tmp/hdr.img:"
t "bad header: run" 9 "$natmod" run --store "$tmp/hdr.img" hello hello:1
t "bad header: install" 9 "$natmod" store install "$tmp/hdr.img" "$exdir/hello/hello.nmod"

# ---- a flipped byte inside an installed extent (state's body)
cp "$img" "$tmp/flip.img"
off=$(offset_of "$tmp/flip.img" state)
flip "$tmp/flip.img" $((off + 200))
t "flipped extent: check" 8 "$natmod" store check "$tmp/flip.img"
has "flipped extent: check" "$tmp/out" "DAMAGED state"
has "flipped extent: check" "$tmp/err" "store $tmp/flip.img: 1 of $n modules damaged: state"
eq "flipped extent: others ok" "$(grep -c '^ok ' "$tmp/out")" $((n - 1))
t "flipped extent: run refused" 8 "$natmod" run --store "$tmp/flip.img" state state_sum
has "flipped extent: run refused" "$tmp/err" "module 'state': damaged"
if [ -s "$tmp/out" ]; then bad "flipped extent: the damaged module ran (printed)"; else ok; fi
for ex in $examples; do
    [ "$ex" = state ] && continue
    runs "flipped extent: $ex still runs" "$tmp/flip.img" "$ex" "$ex"
done
t "flipped extent: rm" 0 "$natmod" store rm "$tmp/flip.img" state
t "flipped extent: reinstall" 0 "$natmod" store install "$tmp/flip.img" "$exdir/state/state.nmod"
runs "flipped extent: reinstalled state runs" "$tmp/flip.img" state state
# In its header: seen at mount, so ls flags it.
cp "$img" "$tmp/fliph.img"
off=$(offset_of "$tmp/fliph.img" state)
flip "$tmp/fliph.img" $((off + 13))
t "flipped header: ls" 0 "$natmod" store ls "$tmp/fliph.img"
if grep -q '^state .*damaged' "$tmp/out"; then ok; else bad "flipped header: ls does not flag state damaged"; cat "$tmp/out"; fi
t "flipped header: check" 8 "$natmod" store check "$tmp/fliph.img"

# ---- bad modules and a full store
head -c 100 "$exdir/hello/hello.x86_64.nmod" >"$tmp/cut.nmod"
t "install truncated module" 3 "$natmod" store install "$img" "$tmp/cut.nmod"
has "install truncated module" "$tmp/err" "store $img: install $tmp/cut.nmod"
if [ -f "$exdir/hello/hello.armv7m.nmod" ]; then
    t "install thumb slice" 6 "$natmod" store install "$img" "$exdir/hello/hello.armv7m.nmod"
    has "install thumb slice" "$tmp/err" "armv7m"
fi
t "install missing module" 2 "$natmod" store install "$img" "$tmp/no-such.nmod"
t "install bad name" 1 "$natmod" store install "$img" "$exdir/hello/hello.nmod" --name "a b"
timg="$tmp/tiny.img"
t "tiny: format" 0 "$natmod" store format "$timg" --size 32K
k=0
for ex in $examples; do
    "$natmod" store install "$timg" "$exdir/$ex/$ex.nmod" >"$tmp/out" 2>"$tmp/err" && k=$((k + 1)) && continue
    t "tiny: full" 21 "$natmod" store install "$timg" "$exdir/$ex/$ex.nmod"
    has "tiny: full" "$tmp/err" "no free run"
    break
done
eq "tiny: modules that fit" "$(stat_of "$timg" modules)" "$k"

# ---- usage errors
t "unknown store command" 1 "$natmod" store frob "$img"
t "run --store without NAME" 1 "$natmod" run --store "$img"
t "geometry without --store" 1 "$natmod" run --block-size 8192 "$exdir/hello/hello.nmod"
t "store help" 0 "$natmod" store --help
has "store help" "$tmp/out" "natmod store COMMAND IMAGE"

finish
