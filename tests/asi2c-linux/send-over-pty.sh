#!/bin/bash
# natmod send over the asi2c pty end to end: asi2c-simbus --store IMAGE hosts
# the simulated bus with an Initiator that is a target board receiving
# modules (xfer) into the store image, asi2c-pty --sim is its Responder and
# exposes the link as a pty, and `natmod send --port LINK` is the sender.
# Then SIGTERM ends both, asi2c-simbus closes the image, and
# `natmod store ls IMAGE` lists what was installed. Bad input over the same
# link (a module for another arch, a missing file): one line on stderr, a
# non-zero exit, nothing installed.
#
# usage: send-over-pty.sh NATMOD ASI2C_PTY ASI2C_SIMBUS EXAMPLES_BUILD_DIR
set -u
NATMOD=$1
PTY=$2
SIMBUS=$3
EXDIR=$4
dir=$(mktemp -d /tmp/asi2c-send-test.XXXXXX) || exit 1
SB= PT=
cleanup() {
    [ -n "$PT" ] && kill "$PT" 2>/dev/null
    [ -n "$SB" ] && kill "$SB" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fails=$((fails + 1))
}
show() { for f in "$@"; do [ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f"; done; }
ms() { date +%s%3N; }

img="$dir/store.img"
if ! "$NATMOD" store format "$img" --size 256K >"$dir/format.out" 2>&1; then
    bad "store_format"; show "$dir/format.out"; exit 1
fi

# ---- the chain -------------------------------------------------------------
t0=$(ms)
"$SIMBUS" "$dir/bus.sock" --store "$img" --t-poll 2000 >"$dir/simbus.out" 2>"$dir/simbus.err" &
SB=$!
for _ in $(seq 100); do [ -S "$dir/bus.sock" ] && break; sleep 0.05; done
"$PTY" --sim "$dir/bus.sock" --link "$dir/tty" >"$dir/pty.out" 2>"$dir/pty.err" &
PT=$!
for _ in $(seq 100); do [ -e "$dir/tty" ] && break; sleep 0.05; done
if [ ! -e "$dir/tty" ]; then
    bad "the_pty_link_appears"; show "$dir"/simbus.* "$dir"/pty.*; exit 1
fi

# t NAME WANT CMD...: exit 0, or non-zero with exactly one line on stderr.
t() {
    local name=$1 want=$2; shift 2
    local s=$(ms)
    timeout 60 "$@" >"$dir/out" 2>"$dir/err"
    local st=$? good=1
    local took=$(($(ms) - s))
    if [ "$want" = 0 ]; then
        [ $st -eq 0 ] && [ ! -s "$dir/err" ] || good=0
    else
        [ $st -ne 0 ] && [ $st -lt 124 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] || good=0
    fi
    if [ $good = 1 ]; then
        ok "$name (exit $st, ${took} ms)"
        [ "$want" = 0 ] || sed 's/^/       /' "$dir/err"
    else
        bad "$name (exit $st, ${took} ms)"; show "$dir/out" "$dir/err"
    fi
    return $st
}

t "send_hello_x86_64_over_the_pty_exits_0" 0 "$NATMOD" send --port "$dir/tty" "$EXDIR/hello/hello.x86_64.nmod"
if grep -q "^installed hello: " "$dir/out"; then ok "the_board_says_installed_hello"; else
    bad "the_board_says_installed_hello"; show "$dir/out"; fi
t "send_a_module_for_another_arch_fails_with_one_line" 1 \
    "$NATMOD" send --port "$dir/tty" --name other "$EXDIR/hello/hello.armv7m.nmod"
grep -q "armv7m" "$dir/err" || bad "the_arch_refusal_names_the_arch"
t "send_a_missing_module_fails_with_one_line" 1 "$NATMOD" send --port "$dir/tty" "$dir/nothing.nmod"
grep -q "$dir/nothing.nmod" "$dir/err" || bad "the_missing_module_error_names_the_file"
# the link still works after the refusals
t "send_again_as_hello2_over_the_same_link_exits_0" 0 \
    "$NATMOD" send --port "$dir/tty" --name hello2 "$EXDIR/hello/hello.x86_64.nmod"

# ---- stop: SIGTERM, clean exits, the image closed --------------------------
kill -TERM "$PT"; wait "$PT"; st=$?; PT=
[ $st -eq 0 ] && ok "asi2c_pty_exits_0_on_sigterm" || { bad "asi2c_pty_exits_0_on_sigterm (exit $st)"; show "$dir"/pty.*; }
kill -TERM "$SB"; wait "$SB"; st=$?; SB=
[ $st -eq 0 ] && ok "asi2c_simbus_exits_0_on_sigterm" || { bad "asi2c_simbus_exits_0_on_sigterm (exit $st)"; show "$dir"/simbus.*; }
if grep -q "2 installs, 0 failed" "$dir/simbus.out"; then ok "the_target_installed_twice"; else
    bad "the_target_installed_twice"; show "$dir"/simbus.*; fi

if "$NATMOD" store ls "$img" >"$dir/ls.out" 2>"$dir/ls.err"; then
    if grep -Eq "^hello +0x[0-9a-f]+ +381 .*x86_64/hard" "$dir/ls.out" && grep -Eq "^hello2 " "$dir/ls.out" &&
        ! grep -Eq "^other " "$dir/ls.out" && grep -q "^2 modules" "$dir/ls.out"; then
        ok "store_ls_lists_hello_and_hello2_and_not_the_refused_one"
    else
        bad "store_ls_lists_hello_and_hello2_and_not_the_refused_one"; show "$dir/ls.out"
    fi
else
    bad "store_ls_exits_0"; show "$dir"/ls.*
fi
if "$NATMOD" store check "$img" >"$dir/check.out" 2>&1; then ok "store_check_passes"; else
    bad "store_check_passes"; show "$dir/check.out"; fi
echo "total $(($(ms) - t0)) ms"
show "$dir/simbus.out"
[ $fails -eq 0 ] && echo "all passed" || echo "$fails failed"
exit $((fails != 0))
