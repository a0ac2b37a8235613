#!/bin/sh
# send-cli.sh NATMOD EXAMPLES_BUILD_DIR
# `natmod send --sim --store IMAGE` end to end: install examples over the
# simulated link (universal modules: only the board's slice travels), with
# the host side crashing mid-way, then `natmod store ls` / `check` show
# them; bad input: one line on stderr, a distinct non-zero exit, no crash,
# and the image unchanged.
set -u
natmod=$1; exdir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/../cli/testlib.sh"


img="$tmp/store.img"
t "format" 0 "$natmod" store format "$img" --size 256K

# a universal module: the x86_64 slice is installed
t "send hello" 0 "$natmod" send --sim --store "$img" "$exdir/hello/hello.nmod"
has "send hello" "$tmp/out" "installed hello"
has "send hello" "$tmp/out" "100%"
has "send hello" "$tmp/out" "simulated; link:"
cp "$tmp/out" "$tmp/send1"
t "ls" 0 "$natmod" store ls "$img"
has "ls" "$tmp/out" "x86_64/hard"
# the crc the board reported is the one the store lists
crc=$(sed -n 's/^installed hello: .*crc \(0x[0-9a-f]*\).*/\1/p' "$tmp/send1")
if [ -n "$crc" ] && awk -v c="$crc" '$1 == "hello" && $6 == c { f = 1 } END { exit !f }' "$tmp/out"; then ok; else
    bad "ls: hello with crc '$crc' not listed"; sed 's/^/    | /' "$tmp/out"; fi
t "check" 0 "$natmod" store check "$img"

# the host side crashes during the transfer; the target resets it, it resumes
t "send with a crash" 0 "$natmod" send --sim --store "$img" --name ticker2 --t-poll-us 20000 \
    --crash-responder-at-ms 1400 "$exdir/ticker/ticker.nmod"
has "send with a crash" "$tmp/out" "host side reset by the target"
has "send with a crash" "$tmp/out" "installed ticker2"
has "send with a crash" "$tmp/out" "1 host reset"
t "send corrupted transfers" 0 "$natmod" send --sim --store "$img" --name state --corrupt-xfer 40 \
    --corrupt-xfer 45 --corrupt-xfer 50 "$exdir/state/state.nmod"
t "ls after" 0 "$natmod" store ls "$img"
has "ls after" "$tmp/out" "3 modules"
has "ls after" "$tmp/out" "ticker2"
t "check after" 0 "$natmod" store check "$img"
cp "$img" "$tmp/before.img"

# bad input: one line, distinct exit, image untouched
t "wrong arch" 6 "$natmod" send --sim --store "$img" --board-arch armv7m "$exdir/hello/hello.x86_64.nmod"
has "wrong arch" "$tmp/err" "x86_64/hard"
has "wrong arch" "$tmp/err" "armv7m/soft"
t "missing module" 2 "$natmod" send --sim --store "$img" "$tmp/nope.nmod"
printf 'not a module at all, just some text\n' >"$tmp/text.nmod"
t "not a module" 4 "$natmod" send --sim --store "$img" "$tmp/text.nmod"
t "missing image" 14 "$natmod" send --sim --store "$tmp/none.img" "$exdir/hello/hello.nmod"
t "no mode" 1 "$natmod" send "$exdir/hello/hello.nmod"
t "both modes" 1 "$natmod" send --sim --store "$img" --port /dev/null "$exdir/hello/hello.nmod"
t "unknown option" 1 "$natmod" send --sim --store "$img" --bogus "$exdir/hello/hello.nmod"
t "bad number" 1 "$natmod" send --sim --store "$img" --frame 9999 "$exdir/hello/hello.nmod"
t "missing port" 2 "$natmod" send --port "$tmp/no-such-tty" "$exdir/hello/hello.nmod"
# a port nobody answers on: retries, then a timeout naming what it waited for
t "silent port" 22 "$natmod" send --port /dev/null --timeout-ms 20 "$exdir/hello/hello.nmod"
has "silent port" "$tmp/err" "no answer from the board"
if cmp -s "$img" "$tmp/before.img"; then ok; else bad "image changed by refused sends"; fi

echo "send-cli: $pass passed, $fail failed"
[ $fail = 0 ]
