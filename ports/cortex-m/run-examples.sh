#!/bin/sh
# run-examples.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# Builds the Cortex-M firmware for three boards and runs every example, built
# for each module arch the board accepts, under QEMU in RAM mode and in XIP
# mode; the output must equal the example's expected.txt (the same file the
# host board uses). XIP mode formats the module store first and installs
# the module into it; the store's own `store: ` lines are left out of the
# comparison.
#   mps2-an385 (Cortex-M3, armv7m soft):   armv7m and armv6m modules
#   mps2-an386 (Cortex-M4F, hard float):   armv7emsp modules
#   mps2-an386 built soft (armv7em soft):  armv7em, armv7m and armv6m modules
#   microbit (nRF51, Cortex-M0, armv6m):   armv6m modules; XIP through the NVMC
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/cortex-m"
. "$port/qemu.sh"
. "$top/ports/common/examples.sh"
mkdir -p "$work"
pass=0; fail=0

# a board script for module EX in MODE
script_for() { # ex mode
    [ "$2" = xip ] && echo "store format" # XIP loads install into the module store
    example_script "$1" "$1" "load $1 $stage $2"
}

board() { # name machine board-arch board-float cpu-flags module-arches...
    name=$1; machine=$2; barch=$3; bfloat=$4; cflags=$5; shift 5
    d="$work/$name"
    if [ "$machine" = microbit ]; then
        stage=0x00028000; NM_SCRIPT_ADDR=0x0003F000
    else
        stage=0x00200000; NM_SCRIPT_ADDR=0x003F0000
    fi
    export NM_SCRIPT_ADDR
    # shellcheck disable=SC2086
    if ! "$port/build-fw.sh" "$gen" "$top" "$d" "$barch" "$bfloat" $cflags; then
        echo "FAIL $name: firmware build"; fail=$((fail + 1)); return
    fi
    for mod in "$@"; do
        march=${mod%:*}; mfloat=${mod#*:}
        for ex in $(cat "$top/examples/LIST"); do
            m="$d/$ex.$march.nmod"
            if ! "$natmod" build -q --arch "$march" --float "$mfloat" --syms "$d/board.syms" -o "$m" \
                    "$top/examples/$ex/$ex.c"; then
                echo "FAIL $ex $march on $name: build"; fail=$((fail + 1)); continue
            fi
            for mode in ram xip; do
                script_for "$ex" "$mode" >"$d/script.txt"
                qemu_run "$machine" "$d/fw.elf" "$d/script.txt" "$d/out.txt" "$m@$stage"
                st=$?
                if [ "$machine" = microbit ] && [ "$ex" = mathlib ] && [ $mode = ram ]; then
                    # 10 KB of text (soft-float libgcc) in 4 KB of module RAM: refused
                    # cleanly in RAM mode; the XIP run below is the one that works.
                    if [ $st -eq 12 ] && grep -q "^error: line 1: load mathlib: out of memory" "$d/out.txt"; then
                        pass=$((pass + 1)); echo "ok   $ex $march ram on $name refused: text does not fit RAM (XIP next)"
                    else
                        fail=$((fail + 1)); echo "FAIL $ex $march ram on $name: exit $st, want 12"
                    fi
                    continue
                fi
                example_check "$ex" "$d/out.txt" $st "$ex $march/$mfloat $mode on $name ($machine)"
            done
        done
    done
}

board m3 mps2-an385 NM_ARCH_ARMV7M NM_FLOAT_SOFT "-mcpu=cortex-m3 -mfloat-abi=soft" armv7m:soft armv6m:soft
board m4f mps2-an386 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD "-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" armv7em:hard
board m4soft mps2-an386 NM_ARCH_ARMV7EM NM_FLOAT_SOFT "-mcpu=cortex-m4 -mfloat-abi=soft" armv7em:soft armv7m:soft armv6m:soft
board m0 microbit NM_ARCH_ARMV6M NM_FLOAT_SOFT "-mcpu=cortex-m0 -mfloat-abi=soft" armv6m:soft
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
