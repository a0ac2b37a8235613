#!/bin/sh
# test.sh: build everything and run every test (unit, examples, bad-input
# corpora, and each libFuzzer target for NATMOD_FUZZ_SECONDS, default 60).
# The last line is ctest's summary.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"
build=${NATMOD_BUILD:-$top/build}
# NATMOD_WERROR=ON (as CI sets it) makes warnings errors; off by default.
cmake -S "$top" -B "$build" -DNATMOD_FUZZ_SECONDS="${NATMOD_FUZZ_SECONDS:-60}" \
    -DNATMOD_WERROR="${NATMOD_WERROR:-OFF}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j2
