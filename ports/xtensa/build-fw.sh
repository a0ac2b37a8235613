#!/bin/sh
# build-fw.sh NM_GEN_EXPORTS TOP OUTDIR [xtensa|xtensawin]
# Builds the Xtensa firmware for qemu-system-xtensa -M sim into
# OUTDIR/fw.elf and the board's symbol list (for `natmod build --syms`)
# into OUTDIR/board.syms: ports/common (fw_build) plus this board's files.
#   xtensa     call0 ABI, core lx106: Debian's xtensa-lx106-elf-gcc and
#              picolibc (console, files and exit through simcall, startup.c)
#   xtensawin  windowed ABI, core de212: Debian's clang-22 (--target=xtensa,
#              +windowed and the de212's integer options), linked by the
#              lx106 binutils' ld; no C library from Debian (picolibc is
#              call0 only): libc_mini.c, with picolibc's headers
# shellcheck disable=SC2034 # cc, cflags, ldflags, board_srcs, board_dir: read by fw_build
set -eu
gen=$1; top=$2; out=$3; abi=${4:-xtensa}
port="$top/ports/xtensa"
. "$top/ports/common/build-fw.sh"
case $abi in
xtensa)
    cc=xtensa-lx106-elf-gcc
    cflags="--specs=/usr/lib/xtensa-lx106-elf/picolibc.specs -mlongcalls -DBOARD_ARCH=NM_ARCH_XTENSA -DBOARD_FLOAT=NM_FLOAT_SOFT
        -DBOARD_FLUSH_ICACHE=1 -DBOARD_EXPORTS=\"board_exports.h\""
    ldflags="-nostartfiles -T $port/link.ld -Wl,--no-warn-rwx-segments"
    ;;
xtensawin)
    cc=xt_clang
    feats=""
    for f in windowed mul32 div32 mul16 nsa minmax sext clamps loop mac16 exception interrupt highpriinterrupts timers3 debug prid rvector s32c1i; do
        feats="$feats -Xclang -target-feature -Xclang +$f"
    done
    cflags="--target=xtensa -mcpu=generic $feats -fomit-frame-pointer -ffreestanding -fno-builtin -isystem /usr/lib/xtensa-lx106-elf/include
        -DNEWLIB_GLOBAL_ERRNO -DXT_WINDOWED=1 -DBOARD_ARCH=NM_ARCH_XTENSAWIN -DBOARD_FLOAT=NM_FLOAT_SOFT
        -DBOARD_FLUSH_ICACHE=1 -DBOARD_EXPORTS=\"board_exports.h\""
    ldflags="-T $port/link.ld -Wl,--no-warn-rwx-segments"
    ;;
*) echo "build-fw.sh: unknown ABI '$abi' (xtensa, xtensawin)" >&2; exit 2 ;;
esac
board_srcs="$port/startup.c $port/hal.c $port/flash_nor.c $port/libgcc_div.c $top/ports/common/softfp.c"
[ "$abi" = xtensawin ] && board_srcs="$board_srcs $port/libc_mini.c"

# clang-22 drives no Xtensa linker: compile each source with it, link with
# the lx106 binutils (the same ELF machine; ld does not care about the ABI).
xt_clang() {
    _objs=""; _cargs=""; _largs=""; _o=""; _srcs=""; _pre=0
    while [ $# -gt 0 ]; do
        case $1 in
        -E) _pre=1; _cargs="$_cargs $1" ;;
        # clang places a function's literal pool in the previous function's
        # section, unaligned once ld lays sections out apart: one section.
        -ffunction-sections | -fdata-sections | -Wl,--gc-sections) ;;
        -o) _o=$2; shift ;;
        -T) _largs="$_largs -T $2"; shift ;;
        -Wl,*) _largs="$_largs $(echo "${1#-Wl,}" | tr ',' ' ')" ;;
        *.c) _srcs="$_srcs $1" ;;
        *) _cargs="$_cargs $1" ;;
        esac
        shift
    done
    if [ $_pre = 1 ]; then
        # shellcheck disable=SC2086
        clang-22 $_cargs $_srcs -o "$_o"; return
    fi
    _i=0
    for _s in $_srcs; do
        _i=$((_i + 1))
        # clang's integrated assembler leaves literal pools unaligned (l32r
        # needs 4): compile to assembly, align each pool, then assemble
        # (-mcpu=esp32 only so that the assembler takes every instruction).
        # shellcheck disable=SC2086
        clang-22 $_cargs -S "$_s" -o "$_o.$_i.s" || return 1
        sed 's/^\t\.literal_position/\t.p2align 2\n&/' "$_o.$_i.s" >"$_o.$_i.a.s"
        clang-22 --target=xtensa -mcpu=esp32 -c "$_o.$_i.a.s" -o "$_o.$_i.o" || return 1
        rm -f "$_o.$_i.s" "$_o.$_i.a.s"
        _objs="$_objs $_o.$_i.o"
    done
    # shellcheck disable=SC2086
    xtensa-lx106-elf-ld $_largs -o "$_o" $_objs
    _st=$?
    # shellcheck disable=SC2086
    rm -f $_objs
    return $_st
}
board_dir=$port
fw_build "$gen" "$top" "$out"
