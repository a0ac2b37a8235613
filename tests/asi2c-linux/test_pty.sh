#!/bin/bash
# asi2c-pty end to end: a simulated bus host with an echoing Initiator
# (asi2c-simbus --echo), the daemon as its Responder (asi2c-pty --sim), and
# a user of the pty writing lines and binary bytes into the --link symlink
# and reading them back. Then SIGTERM removes the link. Bad input: a missing
# I2C device and a missing bus socket fail with one line naming them.
#
# usage: test_pty.sh ASI2C_PTY ASI2C_SIMBUS
set -u
PTY=$1
SIMBUS=$2
dir=$(mktemp -d /tmp/asi2c-pty-test.XXXXXX) || exit 1
SB= PT=
cleanup() {
    exec 3>&- 2>/dev/null
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
show_logs() {
    for f in "$dir"/*.out "$dir"/*.err; do [ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f"; done
}

# ---- bad input -------------------------------------------------------------
out=$("$PTY" --i2c /dev/i2c-99 --chip gpiochip0 --sync 17 --ack 27 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *"/dev/i2c-99"* ]]; then
    ok "missing_i2c_device_fails_with_one_line_naming_it ($out; exit $rc)"
else
    bad "missing_i2c_device_fails_with_one_line_naming_it (exit $rc: $out)"
fi
out=$("$PTY" --sim "$dir/nobody.sock" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *"$dir/nobody.sock"* ]]; then
    ok "missing_bus_socket_fails_with_one_line_naming_it"
else
    bad "missing_bus_socket_fails_with_one_line_naming_it (exit $rc: $out)"
fi
out=$("$PTY" --sim "$dir/x.sock" --sync 3 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"either --sim"* ]]; then
    ok "mixing_sim_and_hardware_options_is_refused"
else
    bad "mixing_sim_and_hardware_options_is_refused (exit $rc: $out)"
fi

# ---- the echo link ---------------------------------------------------------
"$SIMBUS" "$dir/bus.sock" --echo --t-poll 2000 --scl 400000 >"$dir/simbus.out" 2>"$dir/simbus.err" &
SB=$!
for _ in $(seq 100); do [ -S "$dir/bus.sock" ] && break; sleep 0.05; done
"$PTY" --sim "$dir/bus.sock" --link "$dir/tty" -v >"$dir/pty.out" 2>"$dir/pty.err" &
PT=$!
for _ in $(seq 100); do [ -L "$dir/tty" ] && break; sleep 0.05; done
slave=$(head -n1 "$dir/pty.out")
if [ -L "$dir/tty" ] && [[ $slave == /dev/pts/* ]] && [ "$(readlink "$dir/tty")" = "$slave" ]; then
    ok "prints_the_pty_path_and_links_it ($slave)"
else
    bad "prints_the_pty_path_and_links_it (stdout '$slave')"
    show_logs
    exit 1
fi

# Lines, through bash's own fd. The link comes up after the Initiator's
# reset pulse and settle time (~1.3 s); the bytes wait in the pty till then.
exec 3<>"$dir/tty"
line1="hello asi2c"
line2=$(printf 'x%.0s' $(seq 300))   # longer than one 200-byte payload
printf '%s\n%s\n' "$line1" "$line2" >&3
got1= got2=
read -r -t 15 got1 <&3
read -r -t 15 got2 <&3
if [ "$got1" = "$line1" ] && [ "$got2" = "$line2" ]; then
    ok "lines_written_to_the_pty_come_back_echoed"
else
    bad "lines_written_to_the_pty_come_back_echoed (got '${got1}' and ${#got2} bytes)"
fi
exec 3>&-

# Every byte value, and the round-trip time of single bytes.
if command -v python3 >/dev/null; then
    python3 - "$dir/tty" <<'EOF'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
def read_n(n, timeout):
    got = b""
    end = time.monotonic() + timeout
    while len(got) < n:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        got += os.read(fd, n - len(got))
    return got
data = bytes(range(256)) * 4
os.write(fd, data)
back = read_n(len(data), 20)
if back != data:
    print("FAIL binary_bytes_come_back_unchanged (%d of %d bytes, first difference at %d)" % (
        len(back), len(data), next((i for i, (a, b) in enumerate(zip(back, data)) if a != b), len(back))))
    sys.exit(1)
print("ok   binary_bytes_come_back_unchanged (%d bytes, all 256 values)" % len(data))
rtts = []
for i in range(20):
    t = time.monotonic()
    os.write(fd, bytes([i]))
    if read_n(1, 5) != bytes([i]):
        print("FAIL single_byte_round_trip (byte %d lost)" % i)
        sys.exit(1)
    rtts.append((time.monotonic() - t) * 1000)
rtts.sort()
print("ok   single_byte_round_trip (20 bytes: min %.1f ms, median %.1f ms, max %.1f ms)" % (
    rtts[0], rtts[len(rtts) // 2], rtts[-1]))
EOF
    [ $? -eq 0 ] || fails=$((fails + 1))
else
    echo "skip binary_bytes_come_back_unchanged (no python3)"
fi

# ---- shutdown --------------------------------------------------------------
kill -TERM "$PT"
wait "$PT"
rc=$?
PT=
if [ $rc -eq 0 ] && [ ! -e "$dir/tty" ] && [ ! -L "$dir/tty" ]; then
    ok "sigterm_ends_the_daemon_cleanly_and_removes_the_link"
else
    bad "sigterm_ends_the_daemon_cleanly_and_removes_the_link (exit $rc)"
fi
kill -TERM "$SB"
wait "$SB"
rc=$?
SB=
stats=$(cat "$dir/simbus.out")
if [ $rc -eq 0 ] && [[ $stats == *" 0 responder failures"* ]] && [ ! -e "$dir/bus.sock" ]; then
    ok "bus_host_prints_statistics_and_removes_its_socket"
else
    bad "bus_host_prints_statistics_and_removes_its_socket (exit $rc)"
fi

# A bus host that goes away ends the daemon: non-zero, one line, no link.
"$SIMBUS" "$dir/bus2.sock" >"$dir/simbus2.out" 2>"$dir/simbus2.err" &
SB=$!
for _ in $(seq 100); do [ -S "$dir/bus2.sock" ] && break; sleep 0.05; done
"$PTY" --sim "$dir/bus2.sock" --link "$dir/tty2" >"$dir/pty2.out" 2>"$dir/pty2.err" &
PT=$!
for _ in $(seq 100); do [ -L "$dir/tty2" ] && break; sleep 0.05; done
kill -TERM "$SB"
wait "$SB"
SB=
wait "$PT"
rc=$?
PT=
msg=$(cat "$dir/pty2.err")
if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && [[ $msg == *"$dir/bus2.sock"* ]] &&
    [ ! -L "$dir/tty2" ]; then
    ok "daemon_exits_with_one_line_and_removes_its_link_when_the_bus_host_goes ($msg)"
else
    bad "daemon_exits_with_one_line_and_removes_its_link_when_the_bus_host_goes (exit $rc: $msg)"
fi

echo "$stats"
grep -h "exchanges" "$dir/pty.err"
[ $fails -eq 0 ] || show_logs
echo "$fails failed"
[ $fails -eq 0 ]
