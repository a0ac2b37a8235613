# testlib.sh: sourced by the CLI test scripts (`. .../tests/cli/testlib.sh`
# after setting $tmp, a scratch folder). Counters, the checks they share,
# and the machine-readable summary line.
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# t NAME WANT CMD...: run CMD, keep stdout/stderr in $tmp/out, $tmp/err.
# WANT is the exit status; a failure must print exactly one line on stderr,
# a success nothing on stderr; a signal is a crash.
t() {
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    good=1
    if [ $st -ge 128 ]; then bad "$name: killed by signal $((st - 128)) (crash)"; good=0; fi
    if [ "$st" != "$want" ]; then bad "$name: exit $st, expected $want"; good=0; fi
    if [ "$want" != 0 ]; then
        nl=$(wc -l <"$tmp/err")
        if [ "$nl" -ne 1 ]; then bad "$name: $nl lines on stderr, expected 1"; good=0; fi
    elif [ -s "$tmp/err" ]; then
        bad "$name: unexpected stderr"; good=0
    fi
    if [ $good = 1 ]; then ok; else
        sed 's/^/    stderr: /' "$tmp/err"; head -n 20 "$tmp/out" | sed 's/^/    stdout: /'
    fi
}

# has NAME FILE TEXT: fixed text in the file.
has() {
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $(basename "$2")"; head -n 20 "$2" | sed 's/^/    | /'; fi
}

# finish: the summary line, and the exit status.
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
}
