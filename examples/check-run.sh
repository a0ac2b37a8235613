#!/bin/sh
# check-run.sh NATMOD MODULE CALLS_FILE EXPECTED_FILE [RUN_OPTIONS...]
# Runs the module on the host board with the calls listed in CALLS_FILE and
# compares everything it printed (stdout) with EXPECTED_FILE. RUN_OPTIONS go
# to `natmod run` (e.g. --xip: the same output when text runs from flash).
set -eu
natmod=$1; mod=$2; calls=$3; expected=$4
shift 4
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2046
"$natmod" run "$@" "$mod" $(cat "$calls") >"$out"
if ! diff -u "$expected" "$out"; then
    echo "FAIL: output of $mod${*:+ ($*)} differs from $expected"
    exit 1
fi
echo "ok: $mod${*:+ ($*)} output matches $(basename "$(dirname "$expected")")/expected.txt ($(wc -l <"$out") lines)"
