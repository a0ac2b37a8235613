#!/bin/sh
# run-fuzzer.sh BINARY SECONDS SEED_DIR...
# Runs a libFuzzer target for SECONDS on a scratch copy of the seed corpora
# (the committed corpora are never written) and fails on any finding.
set -eu
bin=$1; secs=$2; shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
for d in "$@"; do
    [ -d "$d" ] && find "$d" -type f -size -256k -exec cp {} "$work/corpus/" \;
done
# -rss_limit_mb keeps a runaway allocation a finding, not a machine problem.
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" 2>"$work/log" || {
    tail -n 60 "$work/log"
    echo "fuzzer $bin found a problem; reproducer(s):"
    ls -l "$work/artifacts"
    for f in "$work/artifacts"/*; do [ -f "$f" ] && od -An -tx1 "$f" | head -n 8; done
    exit 1
}
grep -E "stat::number_of_executed_units|Done" "$work/log" | tail -n 2
