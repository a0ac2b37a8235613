#!/bin/sh
# run-store-tests.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# The module store on the Cortex-M board under QEMU, on mps2-an385
# (armv7m), mps2-an386 hard float (armv7emsp) and the micro:bit (armv6m,
# NVMC flash). Two boots per board, the flow every bare-metal board runs
# (tests/boards/store-flow.sh: format, install, run, rm, defrag, replace
# while loaded, second boot mounts). Here boot 1 ends with `store save`,
# the partition written to a host file through semihosting, and boot 2 is
# a fresh QEMU with only that file loaded at the partition address.
# Boots 3 and 4 flip a bit in a module's text in that file: `store check`
# and the first load after the mount find it.
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/cortex-m"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
. "$top/tests/boards/store-flow.sh"
mkdir -p "$work"
pass=0; fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "$2" ] && head -40 "$2"; }

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
    { store_boot1_script "$s0" "$s1" "$s2"; echo "store save $d/store.bin"; } >"$d/boot1.txt"
    if [ "$(wc -c <"$d/boot1.txt")" -gt $script_max ]; then
        bad "$n: boot 1 script is larger than the board's script area ($script_max bytes)" /dev/null; return
    fi
    store_boot1_expected "$d/boot1.txt" >"$d/boot1.expected"
    rm -f "$d/store.bin"
    qemu_run "$machine" "$d/fw.elf" "$d/boot1.txt" "$d/boot1.out" \
        "$d/hello.nmod@$s0" "$d/state.nmod@$s1" "$d/mathlib.nmod@$s2"
    store_boot1_check "$n" "$d" $?
    size=$(($(wc -c <"$d/store.bin" 2>/dev/null || echo 0)))
    if [ "$size" -eq 0 ] || ! grep -q "^store: saved $size bytes to $d/store.bin\$" "$d/boot1.out"; then
        bad "$n: store save (file $size bytes)" "$d/boot1.out"; return
    fi

    # ---- boot 2: the saved partition only; the firmware mounts it
    store_boot2_script >"$d/boot2.txt"
    store_boot2_expected >"$d/boot2.expected"
    qemu_run "$machine" "$d/fw.elf" "$d/boot2.txt" "$d/boot2.out" "$d/store.bin@$part"
    store_boot2_check "$n" "$d" $? "the saved store ($size bytes at $part)"

    # ---- boots 3 and 4: a bit of state's text flipped in the saved
    # partition (flash bit rot after install). The mount reads headers only;
    # `store check` finds it (boot 3), and so does the first load after a
    # mount (boot 4), whose pin checks the whole CRC; the others still run.
    at=$(grep '^store: state at ' "$d/boot1.out" | tail -1 | sed 's/^store: state at \(0x[0-9a-f]*\),.*/\1/')
    off=$((at - part + 64 + 100)) # inside state's text (360 bytes)
    cp "$d/store.bin" "$d/rot.bin"
    byte=$(od -An -tu1 -j "$off" -N1 "$d/rot.bin" | tr -d ' ')
    printf "$(printf '\\%03o' $((byte ^ 0x10)))" | dd of="$d/rot.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null
    { echo "store check"; store_run "$store_third" "$store_third"; echo "store ls"; } >"$d/boot3.txt"
    qemu_run "$machine" "$d/fw.elf" "$d/boot3.txt" "$d/boot3.out" "$d/rot.bin@$part"
    st=$?
    if [ $st -eq 8 ] && grep -q "^error: line 1: store check: bad CRC: store: module 'state': damaged" "$d/boot3.out" &&
        grep -q '^store: state at .*, DAMAGED$' "$d/boot3.out" && ! grep -q '^store: .*app at .*DAMAGED' "$d/boot3.out" &&
        store_expect "$store_third" | cmp -s - "$(grep -v '^store: \|^error: ' "$d/boot3.out" >"$d/boot3.mod"; echo "$d/boot3.mod")"; then
        ok "$n: a text bit flipped after install: store check finds it (exit 8), the other modules still run"
    else
        bad "$n: boot 3 (store check over a flipped text bit): exit $st" "$d/boot3.out"
    fi
    { echo "load state store"; echo "store ls"; } >"$d/boot4.txt"
    qemu_run "$machine" "$d/fw.elf" "$d/boot4.txt" "$d/boot4.out" "$d/rot.bin@$part"
    st=$?
    if [ $st -eq 8 ] && grep -q "^error: line 1: load state: bad CRC: store: module 'state': damaged in the store" "$d/boot4.out" &&
        grep -q '^store: state at .*, DAMAGED$' "$d/boot4.out" && ! grep -q '^state: ' "$d/boot4.out"; then
        ok "$n: the same flip: the first load after a mount refuses it before any module code runs"
    else
        bad "$n: boot 4 (load after a mount over a flipped text bit): exit $st" "$d/boot4.out"
    fi
}

board m3 mps2-an385 NM_ARCH_ARMV7M NM_FLOAT_SOFT armv7m soft -mcpu=cortex-m3 -mfloat-abi=soft
board m4f mps2-an386 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD armv7em hard -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
board m0 microbit NM_ARCH_ARMV6M NM_FLOAT_SOFT armv6m soft -mcpu=cortex-m0 -mfloat-abi=soft
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
