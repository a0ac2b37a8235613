#!/bin/sh
# build-fw.sh NM_GEN_EXPORTS TOP OUTDIR BOARD_ARCH BOARD_FLOAT CPU-FLAGS...
# Builds the Cortex-M firmware into OUTDIR/fw.elf and the board's symbol
# list (for `natmod build --syms`) into OUTDIR/board.syms. An armv6m board
# is the QEMU micro:bit (nRF51, 16 KB RAM, NVMC flash); the others are MPS2.
set -eu
gen=$1; top=$2; out=$3; barch=$4; bfloat=$5; shift 5
port="$top/ports/cortex-m"
mkdir -p "$out"
if [ "$barch" = NM_ARCH_ARMV6M ]; then
    layout="-DBOARD_CPU_HZ=16000000u -DSTAGE_LO=0x00028000u -DSTAGE_HI=0x00030000u
        -DFLASH_LO=0x00030000u -DFLASH_HI=0x0003F000u -DSCRIPT_ADDR=0x0003F000u -DSCRIPT_MAX=0x800u
        -DMEM_POOL=4096u -DMEM_ARENA=1024u -DSTORE_BLOCK=1024u -DSTORE_META=2u -DSTORE_ENTRIES=12u"
    ld="$port/link-microbit.ld"; flash="$port/flash_nrf51.c"
else
    layout="-DBOARD_CPU_HZ=25000000u"
    ld="$port/link.ld"; flash="$port/flash_mps2.c"
fi
# Warnings are errors only where asked (NATMOD_WERROR=ON: CI, tools/test.sh).
werror=""
case "${NATMOD_WERROR:-OFF}" in ON|on|1|YES|yes|TRUE|true) werror=-Werror ;; esac
cf="-mthumb $* -O2 -std=c11 -Wall -Wextra $werror -ffunction-sections -fdata-sections
    -I$top/include -I$top/src -I$top/ports/host -DBOARD_ARCH=$barch -DBOARD_FLOAT=$bfloat $layout"
# shellcheck disable=SC2086
arm-none-eabi-gcc $cf -E "$port/hal.c" -o "$out/hal.i"
"$gen" -o "$out/exports.c" -s "$out/board.syms" "$out/hal.i" >/dev/null
# shellcheck disable=SC2086
arm-none-eabi-gcc $cf --specs=rdimon.specs -nostartfiles -L"$port" -T "$ld" -Wl,--gc-sections \
    -o "$out/fw.elf" "$port/startup.c" "$port/main.c" "$port/mem.c" "$port/hal.c" "$flash" "$port/store_bd.c" \
    "$out/exports.c" "$top"/src/loader/*.c "$top"/src/store/store.c "$top"/src/format/crc32.c "$top"/src/format/read.c \
    "$top"/src/format/universal.c "$top"/src/format/detail.c
