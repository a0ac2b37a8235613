# Sourced by the RISC-V scripts.
# rv_run FW.ELF SCRIPT OUT FLASH.IMG FILE@ADDR... [-- EXTRA QEMU ARGS]
# Runs the firmware on QEMU virt (rv32, -bios none) with the script at
# 0x80800000 (NUL-terminated) and each FILE loaded at ADDR; stdout+stderr to
# OUT; returns QEMU's exit status (the firmware's, through semihosting).
# FLASH.IMG backs pflash0 (0x20000000), the module store's flash: QEMU
# writes every program and erase through to it, so a second run with the
# same file boots with what the first left. Created erased (32 MB of 0xFF)
# if it does not exist; QEMU wants the file exactly the bank's size.
# FLASH.IMG,readonly=on gives the firmware a flash that refuses to change.
#
# The firmware is loaded with -device loader (which also sets the PC to its
# entry), not -kernel: on QEMU 7.2's virt a pflash0 drive makes the hart
# start at the flash instead of the kernel, and a pflash1 drive makes QEMU
# hand the kernel to firmware through fw_cfg instead of loading it.
rv_blank_flash() { # FILE
    dd if=/dev/zero bs=1M count=32 2>/dev/null | tr '\000' '\377' >"$1"
}

rv_run() {
    _fw=$1; _sc=$2; _out=$3; _flash=$4; shift 4
    _bin="$_out.script.bin" # beside the output: the source tree stays clean
    { cat "$_sc"; printf '\0'; } >"$_bin"
    [ -f "${_flash%%,*}" ] || rv_blank_flash "${_flash%%,*}"
    _args=""
    _extra=""
    for _f in "$@"; do
        if [ "$_f" = "--" ]; then _extra=1; continue; fi
        if [ -n "$_extra" ]; then _args="$_args $_f"; continue; fi
        _args="$_args -device loader,file=${_f%@*},addr=${_f##*@}"
    done
    # shellcheck disable=SC2086
    timeout 120 qemu-system-riscv32 -M virt -bios none -nographic -monitor none \
        -semihosting-config enable=on,target=native \
        -device loader,file="$_fw",cpu-num=0 \
        -drive if=pflash,unit=0,format=raw,file="$_flash" \
        -device loader,file="$_bin",addr=0x80800000 $_args >"$_out" 2>&1
}
