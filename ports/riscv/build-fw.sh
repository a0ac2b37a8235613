#!/bin/sh
# build-fw.sh NM_GEN_EXPORTS TOP OUTDIR
# Builds the RISC-V firmware (QEMU virt, rv32imc, machine mode, soft float)
# into OUTDIR/fw.elf and the board's symbol list (for `natmod build --syms`)
# into OUTDIR/board.syms: ports/common (fw_build) plus this board's files,
# with Debian's riscv64-unknown-elf-gcc and picolibc (semihosting console,
# files and exit status).
# -misa-spec=2.2: its rv32imc includes the CSR and fence.i instructions
# the board uses, and still selects the rv32im/ilp32 multilib (libgcc,
# picolibc); -march=rv32imc_zicsr_zifencei would select the rv64 default.
# shellcheck disable=SC2034 # cc, cflags, ldflags, board_srcs, board_dir: read by fw_build
set -eu
gen=$1; top=$2; out=$3
port="$top/ports/riscv"
. "$top/ports/common/build-fw.sh"
cc=riscv64-unknown-elf-gcc
cflags="-march=rv32imc -misa-spec=2.2 -mabi=ilp32 --specs=picolibc.specs
    -DBOARD_ARCH=NM_ARCH_RV32IMC -DBOARD_FLOAT=NM_FLOAT_SOFT"
ldflags="--oslib=semihost -nostartfiles -T $port/link.ld -Wl,--no-warn-rwx-segments"
board_srcs="$port/startup.c $port/hal.c $port/flash_cfi.c"
board_dir=$port
fw_build "$gen" "$top" "$out"
