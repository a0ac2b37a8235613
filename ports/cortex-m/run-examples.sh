#!/bin/sh
# run-examples.sh NATMOD NM_GEN_EXPORTS TOP WORKDIR
# Builds the Cortex-M firmware for three boards and runs every example, built
# for each module arch the board accepts, under QEMU in RAM mode; the output
# must equal the example's expected.txt (the same file the host board uses).
#   mps2-an385 (Cortex-M3, armv7m soft):   armv7m and armv6m modules
#   mps2-an386 (Cortex-M4F, hard float):   armv7emsp modules
#   mps2-an386 built soft (armv7em soft):  armv7em modules
set -u
natmod=$1; gen=$2; top=$3; work=$4
port="$top/ports/cortex-m"
mkdir -p "$work"
pass=0; fail=0

board() { # name machine cpu-flags board-arch board-float module-arches...
    name=$1; machine=$2; cflags=$3; barch=$4; bfloat=$5; shift 5
    d="$work/$name"; mkdir -p "$d"
    cf="-mthumb $cflags -O2 -std=c11 -Wall -Wextra -Werror -ffunction-sections -fdata-sections
        -I$top/include -I$top/src -I$top/ports/host -DBOARD_ARCH=$barch -DBOARD_FLOAT=$bfloat"
    # shellcheck disable=SC2086
    if ! arm-none-eabi-gcc $cf -E "$port/hal.c" -o "$d/hal.i" ||
       ! "$gen" -o "$d/exports.c" -s "$d/board.syms" "$d/hal.i" >/dev/null ||
       ! arm-none-eabi-gcc $cf --specs=rdimon.specs -nostartfiles -T "$port/link.ld" -Wl,--gc-sections \
            -o "$d/fw.elf" "$port/startup.c" "$port/main.c" "$port/hal.c" "$d/exports.c" \
            "$top"/src/loader/*.c "$top"/src/format/crc32.c "$top"/src/format/read.c \
            "$top"/src/format/universal.c "$top"/src/format/detail.c; then
        echo "FAIL $name: firmware build"; fail=$((fail + 1)); return
    fi
    for mod in "$@"; do
        march=${mod%:*}; mfloat=${mod#*:}
        for ex in hello state callbacks mathlib driver; do
            m="$d/$ex.$march.nmod"
            if ! "$natmod" build -q --arch "$march" --float "$mfloat" --syms "$d/board.syms" -o "$m" \
                    "$top/examples/$ex/$ex.c"; then
                echo "FAIL $ex $march on $name: build"; fail=$((fail + 1)); continue
            fi
            printf '%s\0' "$(cat "$top/examples/$ex/calls.txt")" >"$d/calls.bin"
            timeout 60 qemu-system-arm -M "$machine" -nographic -monitor none \
                -semihosting-config enable=on,target=native -kernel "$d/fw.elf" \
                -device loader,file="$m",addr=0x00300000 -device loader,file="$d/calls.bin",addr=0x003F0000 \
                >"$d/out.txt" 2>&1
            st=$?
            if [ $st -eq 0 ] && diff -u "$top/examples/$ex/expected.txt" "$d/out.txt" >"$d/diff.txt"; then
                pass=$((pass + 1))
                echo "ok   $ex $march/$mfloat on $name ($machine)"
            else
                fail=$((fail + 1))
                echo "FAIL $ex $march/$mfloat on $name ($machine): exit $st"
                cat "$d/diff.txt" "$d/out.txt" | head -20
            fi
        done
    done
}

board m3 mps2-an385 "-mcpu=cortex-m3 -mfloat-abi=soft" NM_ARCH_ARMV7M NM_FLOAT_SOFT armv7m:soft armv6m:soft
board m4f mps2-an386 "-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" NM_ARCH_ARMV7EMSP NM_FLOAT_HARD armv7em:hard
board m4soft mps2-an386 "-mcpu=cortex-m4 -mfloat-abi=soft" NM_ARCH_ARMV7EM NM_FLOAT_SOFT armv7em:soft
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
