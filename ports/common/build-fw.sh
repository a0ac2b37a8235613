# Sourced by each board's build-fw.sh: the build of the shared firmware.
#   fw_build GEN TOP OUT
# with the board's settings in variables:
#   cc          its cross compiler
#   cflags      its compile flags (CPU, ABI, -DBOARD_ARCH=..., memory map)
#   ldflags     its link flags (C library specs, -T linker script, ...)
#   board_srcs  its own sources (startup, HAL half, flash driver)
#   board_dir   the directory of its board.h
# Writes OUT/fw.elf and the board's symbol list OUT/board.syms (for
# `natmod build --syms`), through the export table generator GEN
# (nm-gen-exports) run over the preprocessed board API (hal_common.c).
# Warnings are errors only where asked (NATMOD_WERROR=ON: CI, tools/test.sh).
# shellcheck disable=SC2154 # cc, cflags, ldflags, board_srcs, board_dir: the caller's
fw_build() {
    _gen=$1; _top=$2; _out=$3
    _common="$_top/ports/common"
    mkdir -p "$_out"
    _werror=""
    case "${NATMOD_WERROR:-OFF}" in ON|on|1|YES|yes|TRUE|true) _werror=-Werror ;; esac
    _cf="$cflags -O2 -std=c11 -Wall -Wextra $_werror -ffunction-sections -fdata-sections
        -I$board_dir -I$_common -I$_top/include -I$_top/src -I$_top/ports/host"
    # shellcheck disable=SC2086
    $cc $_cf -E "$_common/hal_common.c" -o "$_out/hal.i" || return 1
    "$_gen" -o "$_out/exports.c" -s "$_out/board.syms" "$_out/hal.i" >/dev/null || return 1
    # shellcheck disable=SC2086
    $cc $_cf $ldflags -Wl,--gc-sections -o "$_out/fw.elf" $board_srcs \
        "$_common/main.c" "$_common/mem.c" "$_common/hal_common.c" "$_common/store_bd.c" \
        "$_out/exports.c" "$_top"/src/loader/*.c "$_top"/src/store/store.c "$_top"/src/format/crc32.c \
        "$_top"/src/format/read.c "$_top"/src/format/universal.c "$_top"/src/format/detail.c
}
