# Sourced by the bare-metal boards' test scripts: an example's calls.txt
# ("fn:a,b fn2 --periph", the host board's `natmod run` arguments) as
# board script lines. Needs $top (the source tree).
# shellcheck disable=SC2154 # top: the caller's
#   example_script NAME EX LOAD-LINE
# loads module NAME with LOAD-LINE, makes example EX's calls on it, unloads
# it; --periph dumps the simulated peripherals after the calls and again
# after the unload (the host board prints them at those two points).
example_script() {
    _periph=0
    echo "$3"
    for _tok in $(cat "$top/examples/$2/calls.txt"); do
        case $_tok in
        --periph) _periph=1 ;;
        *:*) echo "call $1 ${_tok%%:*} $(echo "${_tok#*:}" | tr ',' ' ')" ;;
        *) echo "call $1 $_tok" ;;
        esac
    done
    [ $_periph = 1 ] && echo periph
    echo "unload $1"
    [ $_periph = 1 ] && echo periph
    return 0
}

# example_check EX OUT STATUS LABEL: did the run whose output is OUT and
# exit status STATUS print example EX's expected.txt (the store's own
# `store: ` lines left out)? Counts into $pass / $fail and says so.
example_check() {
    grep -v '^store: ' "$2" >"$2.mod"
    if [ "$3" -eq 0 ] && diff -u "$top/examples/$1/expected.txt" "$2.mod" >"$2.diff"; then
        pass=$((pass + 1))
        echo "ok   $4"
    else
        fail=$((fail + 1))
        echo "FAIL $4: exit $3"
        cat "$2.diff" "$2" | head -20
    fi
}
