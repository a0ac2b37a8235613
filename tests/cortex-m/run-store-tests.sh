#!/bin/sh
# run-store-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# The module store on the Cortex-M board under QEMU, on mps2-an385
# (armv7m), mps2-an386 hard float (armv7emsp) and the micro:bit (armv6m,
# NVMC flash). Two boots per board:
#   boot 1  format; install hello, state and mathlib from the staging area;
#           list; run each from the store (`load NAME store`), output equal
#           to the example's expected.txt; remove hello; defrag, first with
#           a budget of one block, then the rest (state and mathlib move
#           down: the listing shows lower addresses) and run both again
#           (they were relinked for their new address); `store rm` of a
#           loaded module is refused with one error line; replace that
#           module while it is loaded (the running one keeps working and
#           `store stat` counts it as replaced while loaded; the next load
#           gets the new one); save the partition to a host file
#   boot 2  a fresh QEMU with only that file loaded at the partition (no
#           staged modules, no format): the firmware mounts the store it did
#           not format and runs all three modules with the expected output
# Lines the store commands print start with "store: "; they are checked
# apart (addresses, moves), the rest of the output is compared exactly.
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/cortex-m"
. "$port/qemu.sh"
mkdir -p "$work"
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -40 "$2"; }

# run NAME EX: load the store's module NAME, make example EX's calls, unload
run() {
    echo "load $1 store"
    for tok in $(cat "$top/examples/$2/calls.txt"); do
        case $tok in
        --periph) echo periph ;;
        *:*) echo "call $1 ${tok%%:*} $(echo "${tok#*:}" | tr ',' ' ')" ;;
        *) echo "call $1 $tok" ;;
        esac
    done
    echo "unload $1"
}
expect() { cat "$top/examples/$1/expected.txt"; }
# addr OUT NAME N: the address of NAME in the N-th `store ls` listing of OUT
# (listings are the runs of "store: NAME at ..." lines)
addr() {
    awk -v name="$2" -v want="$3" '
        /^store: [^ ]+ at 0x/ { if (!inls) { k++; inls = 1 } if (k == want && $2 == name) print $4; next }
        { inls = 0 }' "$1" | tr -d ','
}

board() { # name machine board-arch board-float module-arch module-float cpu-flags...
    n=$1; machine=$2; barch=$3; bfloat=$4; ma=$5; mf=$6; shift 6
    d="$work/$n"
    if [ "$machine" = microbit ]; then
        stage=0x00028000; part=0x00030000; NM_SCRIPT_ADDR=0x0003F000; script_max=2047
    else
        stage=0x00200000; part=0x00300000; NM_SCRIPT_ADDR=0x003F0000; script_max=65535
    fi
    export NM_SCRIPT_ADDR
    "$port/build-fw.sh" "$gen" "$top" "$d" "$barch" "$bfloat" "$@" || { bad "$n: firmware build" /dev/null; return; }
    for ex in hello state mathlib; do
        "$natmod" build -q --arch "$ma" --float "$mf" --syms "$d/board.syms" -o "$d/$ex.nmod" \
            "$top/examples/$ex/$ex.c" || { bad "$n: build $ex" /dev/null; return; }
    done
    s0=$stage; s1=$(printf '0x%08x' $((stage + 0x1000))); s2=$(printf '0x%08x' $((stage + 0x2000)))

    # ---- boot 1
    {
        echo "store format"
        echo "store install hello $s0"
        echo "store install state $s1"
        echo "store install mathlib $s2"
        echo "store ls"
        run hello hello; run state state; run mathlib mathlib
        echo "store rm hello"
        echo "store defrag 1"
        echo "store defrag"
        echo "store ls"
        run mathlib mathlib; run state state
        echo "store install app $s0"
        echo "load app store"
        echo "call app hello 1"
        echo "store rm app"
        echo "store install app $s1"
        echo "store stat"
        echo "call app hello 2"
        echo "unload app"
        echo "load app store"
        echo "call app state_bump 5"
        echo "unload app"
        echo "store ls"
        echo "store save $d/store.bin"
    } >"$d/boot1.txt"
    if [ "$(wc -c <"$d/boot1.txt")" -gt $script_max ]; then
        bad "$n: boot 1 script is larger than the board's script area ($script_max bytes)" /dev/null; return
    fi
    rm_line=$(grep -n '^store rm app$' "$d/boot1.txt" | cut -d: -f1)
    {
        expect hello; expect state; expect mathlib; expect mathlib; expect state
        echo "hello: init"
        echo "hello, world from a module (n=1)"
        echo "hello(1) = 3"
        echo "error: line $rm_line: store rm app: busy: store: module 'app': is loaded (pinned): unload it first"
        echo "hello, world from a module (n=2)"
        echo "hello(2) = 5"
        echo "hello: deinit"
        echo "state: counter=100 nhist=0 history[3]=0"
        echo "state_bump(5) = 105"
    } >"$d/boot1.expected"
    rm -f "$d/store.bin"
    qemu_run "$machine" "$d/fw.elf" "$d/boot1.txt" "$d/boot1.out" \
        "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/mathlib.nmod@$s2"
    st=$?
    grep -v '^store: ' "$d/boot1.out" >"$d/boot1.mod"
    diff -u "$d/boot1.expected" "$d/boot1.mod" >"$d/boot1.diff"
    if [ $st -eq 19 ] && [ ! -s "$d/boot1.diff" ]; then
        ok "$n: format, install 3, run each from the store, replace while loaded, rm of a loaded module refused (exit 19)"
    else
        bad "$n: boot 1: exit $st (want 19)" "$d/boot1.diff"
    fi
    # the listings: 3 modules, then state and mathlib lower after rm + defrag
    s_a=$(addr "$d/boot1.out" state 1); m_a=$(addr "$d/boot1.out" mathlib 1)
    s_b=$(addr "$d/boot1.out" state 2); m_b=$(addr "$d/boot1.out" mathlib 2)
    h_b=$(addr "$d/boot1.out" hello 2); app=$(addr "$d/boot1.out" app 3)
    # a budget of one block moves state (one block) and stops before mathlib
    step=$(grep -c '^store: defrag moved 1 modules (1 blocks, [0-9]* bytes), budget spent$' "$d/boot1.out")
    moved=$(sed -n 's/^store: defrag moved \([0-9]*\) modules.*done$/\1/p' "$d/boot1.out")
    if [ -n "$s_a" ] && [ -n "$m_a" ] && [ -n "$s_b" ] && [ -n "$m_b" ] && [ -z "$h_b" ] &&
        [ $((s_b)) -lt $((s_a)) ] && [ $((m_b)) -lt $((m_a)) ] && [ "$step" = 1 ] && [ "${moved:-0}" -ge 1 ] && [ -n "$app" ]; then
        ok "$n: defrag moved state $s_a -> $s_b and mathlib $m_a -> $m_b; both ran after the move (relinked)"
    else
        bad "$n: listings: state $s_a -> $s_b, mathlib $m_a -> $m_b, hello after rm '$h_b', moved '$step' + '$moved', app '$app'" \
            "$d/boot1.out"
    fi
    size=$(($(wc -c <"$d/store.bin" 2>/dev/null || echo 0)))
    # the replaced version stays reserved while it runs (a zombie), then goes
    grep -q '^store: 3 modules .*, 1 loaded, 0 damaged, 1 replaced while loaded;' "$d/boot1.out" ||
        bad "$n: store stat after replacing a loaded module: want 1 replaced while loaded" "$d/boot1.out"
    if [ "$size" -eq 0 ] || ! grep -q "^store: saved $size bytes to $d/store.bin\$" "$d/boot1.out"; then
        bad "$n: store save (file $size bytes)" "$d/boot1.out"; return
    fi

    # ---- boot 2: the saved partition only; the firmware mounts it
    { run state state; run mathlib mathlib; run app state; echo "store stat"; } >"$d/boot2.txt"
    { expect state; expect mathlib; expect state; } >"$d/boot2.expected"
    qemu_run "$machine" "$d/fw.elf" "$d/boot2.txt" "$d/boot2.out" "$d/store.bin@$part"
    st=$?
    grep -v '^store: ' "$d/boot2.out" >"$d/boot2.mod"
    diff -u "$d/boot2.expected" "$d/boot2.mod" >"$d/boot2.diff"
    if [ $st -eq 0 ] && [ ! -s "$d/boot2.diff" ] && grep -q '^store: 3 modules' "$d/boot2.out"; then
        ok "$n: second boot mounts the saved store ($size bytes at $part) and runs state, mathlib, app from it"
    else
        bad "$n: boot 2: exit $st" "$d/boot2.diff"
    fi
}

board m3 mps2-an385 NM_ARCH_ARMV7M NM_FLOAT_SOFT armv7m soft -mcpu=cortex-m3 -mfloat-abi=soft
board m4f mps2-an386 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD armv7em hard -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
board m0 microbit NM_ARCH_ARMV6M NM_FLOAT_SOFT armv6m soft -mcpu=cortex-m0 -mfloat-abi=soft
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
