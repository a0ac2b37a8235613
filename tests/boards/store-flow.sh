# Sourced by the bare-metal boards' store tests (tests/cortex-m,
# tests/riscv): the module store's two-boot flow, the same on every board.
# Needs $top, ok/bad (which count passes and failures) and
# ports/common/examples.sh.
#
#   boot 1  format; install hello, state and mathlib from the staging area;
#           list; run each from the store (`load NAME store`), output equal
#           to the example's expected.txt; remove hello; defrag, first with
#           a budget of one block, then the rest (state and mathlib move
#           down: the listing shows lower addresses) and run both again
#           (they were relinked for their new address); `store rm` of a
#           loaded module is refused with one error line; replace that
#           module while it is loaded (the running one keeps working and
#           `store stat` counts it as replaced while loaded; the next load
#           gets the new one); list
#   boot 2  a fresh QEMU with only the flash the first boot left (no staged
#           modules, no format): the firmware mounts the store it did not
#           format and runs all three modules with the expected output
# Lines the store commands print start with "store: "; they are checked
# apart (addresses, moves), the rest of the output is compared exactly.
# The third module is mathlib unless the board sets store_third (the
# Xtensa toolchains have no soft-float helpers: it uses callbacks).
# shellcheck disable=SC2154 # top: the caller's
store_third=${store_third:-mathlib}

# run NAME EX: load the store's module NAME, make example EX's calls, unload
store_run() { example_script "$1" "$2" "load $1 store"; }
store_expect() { cat "$top/examples/$1/expected.txt"; }

# store_boot1_script S0 S1 S2: staged hello, state and mathlib at S0, S1, S2
store_boot1_script() {
    echo "store format"
    echo "store install hello $1"
    echo "store install state $2"
    echo "store install $store_third $3"
    echo "store ls"
    store_run hello hello; store_run state state; store_run "$store_third" "$store_third"
    echo "store rm hello"
    echo "store defrag 1"
    echo "store defrag"
    echo "store ls"
    store_run "$store_third" "$store_third"; store_run state state
    echo "store install app $1"
    echo "load app store"
    echo "call app hello 1"
    echo "store rm app"
    echo "store install app $2"
    echo "store stat"
    echo "call app hello 2"
    echo "unload app"
    echo "load app store"
    echo "call app state_bump 5"
    echo "unload app"
    echo "store ls"
}

# store_boot1_expected SCRIPT: the non-store lines boot 1 prints
store_boot1_expected() {
    _rm_line=$(grep -n '^store rm app$' "$1" | cut -d: -f1)
    store_expect hello; store_expect state; store_expect "$store_third"; store_expect "$store_third"; store_expect state
    echo "hello: init"
    echo "hello, world from a module (n=1)"
    echo "hello(1) = 3"
    echo "error: line $_rm_line: store rm app: busy: store: module 'app': is loaded (pinned): unload it first"
    echo "hello, world from a module (n=2)"
    echo "hello(2) = 5"
    echo "hello: deinit"
    echo "state: counter=100 nhist=0 history[3]=0"
    echo "state_bump(5) = 105"
}

# store_addr OUT NAME N: the address of NAME in the N-th `store ls` listing
# of OUT (listings are the runs of "store: NAME at ..." lines)
store_addr() {
    awk -v name="$2" -v want="$3" '
        /^store: [^ ]+ at 0x/ { if (!inls) { k++; inls = 1 } if (k == want && $2 == name) print $4; next }
        { inls = 0 }' "$1" | tr -d ','
}

# store_boot1_check LABEL DIR STATUS: boot 1's output DIR/boot1.out
store_boot1_check() {
    _n=$1; _d=$2; _st=$3
    grep -v '^store: ' "$_d/boot1.out" >"$_d/boot1.mod"
    diff -u "$_d/boot1.expected" "$_d/boot1.mod" >"$_d/boot1.diff"
    if [ "$_st" -eq 19 ] && [ ! -s "$_d/boot1.diff" ]; then
        ok "$_n: format, install 3, run each from the store, replace while loaded, rm of a loaded module refused (exit 19)"
    else
        bad "$_n: boot 1: exit $_st (want 19)" "$_d/boot1.diff"
    fi
    # the listings: 3 modules, then state and mathlib lower after rm + defrag
    _s_a=$(store_addr "$_d/boot1.out" state 1); _m_a=$(store_addr "$_d/boot1.out" "$store_third" 1)
    _s_b=$(store_addr "$_d/boot1.out" state 2); _m_b=$(store_addr "$_d/boot1.out" "$store_third" 2)
    _h_b=$(store_addr "$_d/boot1.out" hello 2); _app=$(store_addr "$_d/boot1.out" app 3)
    # a budget of one block moves state (one block) and stops before mathlib
    _step=$(grep -c '^store: defrag moved 1 modules (1 blocks, [0-9]* bytes), budget spent$' "$_d/boot1.out")
    _moved=$(sed -n 's/^store: defrag moved \([0-9]*\) modules.*done$/\1/p' "$_d/boot1.out")
    if [ -n "$_s_a" ] && [ -n "$_m_a" ] && [ -n "$_s_b" ] && [ -n "$_m_b" ] && [ -z "$_h_b" ] &&
        [ $((_s_b)) -lt $((_s_a)) ] && [ $((_m_b)) -lt $((_m_a)) ] && [ "$_step" = 1 ] &&
        [ "${_moved:-0}" -ge 1 ] && [ -n "$_app" ]; then
        ok "$_n: defrag moved state $_s_a -> $_s_b and $store_third $_m_a -> $_m_b; both ran after the move (relinked)"
    else
        bad "$_n: listings: state $_s_a -> $_s_b, $store_third $_m_a -> $_m_b, hello after rm '$_h_b', moved '$_step' + '$_moved', app '$_app'" \
            "$_d/boot1.out"
    fi
    # the replaced version stays reserved while it runs (a zombie), then goes
    grep -q '^store: 3 modules .*, 1 loaded, 0 damaged, 1 replaced while loaded;' "$_d/boot1.out" ||
        bad "$_n: store stat after replacing a loaded module: want 1 replaced while loaded" "$_d/boot1.out"
}

store_boot2_script() { store_run state state; store_run "$store_third" "$store_third"; store_run app state; echo "store stat"; }
store_boot2_expected() { store_expect state; store_expect "$store_third"; store_expect state; }

# store_boot2_check LABEL DIR STATUS WHAT: boot 2's output DIR/boot2.out
store_boot2_check() {
    grep -v '^store: ' "$2/boot2.out" >"$2/boot2.mod"
    diff -u "$2/boot2.expected" "$2/boot2.mod" >"$2/boot2.diff"
    if [ "$3" -eq 0 ] && [ ! -s "$2/boot2.diff" ] && grep -q '^store: 3 modules' "$2/boot2.out"; then
        ok "$1: second boot mounts $4 and runs state, $store_third, app from it"
    else
        bad "$1: boot 2: exit $3" "$2/boot2.diff"
    fi
}
