#!/bin/sh
# build-fw.sh NM_GEN_EXPORTS TOP OUTDIR BOARD_ARCH BOARD_FLOAT CPU-FLAGS...
# Builds the Cortex-M firmware into OUTDIR/fw.elf and the board's symbol
# list (for `natmod build --syms`) into OUTDIR/board.syms. An armv6m board
# is the QEMU micro:bit (nRF51, 16 KB RAM, NVMC flash); the others are MPS2.
# The firmware is ports/common (fw_build) plus this board's files.
# shellcheck disable=SC2034 # cc, cflags, ldflags, board_srcs, board_dir: read by fw_build
set -eu
gen=$1; top=$2; out=$3; barch=$4; bfloat=$5; shift 5
port="$top/ports/cortex-m"
. "$top/ports/common/build-fw.sh"
if [ "$barch" = NM_ARCH_ARMV6M ]; then
    layout="-DBOARD_CPU_HZ=16000000u -DSTAGE_LO=0x00028000u -DSTAGE_HI=0x00030000u
        -DFLASH_LO=0x00030000u -DFLASH_HI=0x0003F000u -DSCRIPT_ADDR=0x0003F000u -DSCRIPT_MAX=0x800u
        -DMEM_POOL=4096u -DMEM_ARENA=1024u -DSTORE_META=2u -DSTORE_ENTRIES=11u"
    ld="$port/link-microbit.ld"; flash="$port/flash_nrf51.c"
else
    layout="-DBOARD_CPU_HZ=25000000u"
    ld="$port/link.ld"; flash="$port/flash_mps2.c"
fi
cc=arm-none-eabi-gcc
cflags="-mthumb $* -DBOARD_ARCH=$barch -DBOARD_FLOAT=$bfloat $layout"
ldflags="--specs=rdimon.specs -nostartfiles -L$port -T $ld"
board_srcs="$port/startup.c $port/hal.c $flash"
board_dir=$port
fw_build "$gen" "$top" "$out"
