#!/bin/sh
# demo.sh: the main job. Builds the natmod CLI and the host board, builds
# every example for the host (x86_64) with `natmod build`, and runs each on
# the host board, showing what it printed and what its functions returned.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"
build=${NATMOD_BUILD:-$top/build}
cmake -S "$top" -B "$build" -DNATMOD_FUZZ_SECONDS=0 >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
natmod="$build/tools/natmod/natmod"
for ex in hello state callbacks mathlib driver; do
    mod="$build/examples/$ex/$ex.x86_64.nmod"
    echo "=== $ex: natmod build --arch x86_64 examples/$ex/$ex.c ($(wc -c <"$mod") bytes)"
    # shellcheck disable=SC2046
    "$natmod" run "$mod" $(cat "$top/examples/$ex/calls.txt")
    echo
done
echo "=== one universal module, five architectures:"
"$natmod" info "$build/examples/mathlib/mathlib.nmod" | grep -E "universal|slice|crc32"
echo
echo "=== install over the asi2c link (simulated I2C bus; the host side crashes half-way, is reset, resumes):"
img="$build/demo-link.img"
rm -f "$img"
"$natmod" store format "$img" --size 256K >/dev/null
"$natmod" send --sim --store "$img" --t-poll-us 5000 --crash-responder-at-ms 1290 "$build/examples/mathlib/mathlib.nmod"
echo "=== run it in place from the target's store (--map: its flash pages, then its RAM right after, via vmap):"
# shellcheck disable=SC2046
"$natmod" run --store "$img" --map mathlib $(cat "$top/examples/mathlib/calls.txt")
