# Sourced by the Xtensa scripts.
# xt_run CPU FW.ELF SCRIPT OUT FLASH.IMG FILE@ADDR... [-- EXTRA QEMU ARGS]
# Runs the firmware on qemu-system-xtensa -M sim -cpu CPU (lx106: call0,
# de212: windowed) with the script at 0x60800000 (NUL-terminated) and each
# FILE loaded at ADDR; stdout+stderr to OUT; returns QEMU's exit status
# (the firmware's, through simcall). The sim machine has no flash device:
# module flash is a RAM window (0x61000000, 1 MB) that the firmware's
# driver treats as NOR. FLASH.IMG, if it exists, is loaded into bank 0 (a
# store saved by a first boot with `store save`); otherwise the window
# starts erased (all 0xFF, loaded from a file beside OUT). FLASH.IMG
# "none": erased.
xt_blank_flash() { # FILE BLOCKS-OF-64K
    dd if=/dev/zero bs=64k count="$2" 2>/dev/null | tr '\000' '\377' >"$1"
}

xt_cpu() { # ABI -> QEMU core
    case $1 in xtensawin) echo de212 ;; *) echo lx106 ;; esac
}

xt_run() {
    _cpu=$1; _fw=$2; _sc=$3; _out=$4; _flash=$5; shift 5
    _bin="$_out.script.bin" # beside the output: the source tree stays clean
    { cat "$_sc"; printf '\0'; } >"$_bin"
    _blank="$_out.blank"
    _args=""
    _extra=""
    if [ -f "$_flash" ]; then # bank 0 from the file, bank 1 erased
        xt_blank_flash "$_blank" 1
        _args="-device loader,file=$_flash,addr=0x61000000,force-raw=on"
        _args="$_args -device loader,file=$_blank,addr=0x61100000,force-raw=on"
    else # both banks erased
        xt_blank_flash "$_blank" 17
        _args="-device loader,file=$_blank,addr=0x61000000,force-raw=on"
    fi
    for _f in "$@"; do
        if [ "$_f" = "--" ]; then _extra=1; continue; fi
        if [ -n "$_extra" ]; then _args="$_args $_f"; continue; fi
        _args="$_args -device loader,file=${_f%@*},addr=${_f##*@},force-raw=on"
    done
    # shellcheck disable=SC2086
    timeout 120 qemu-system-xtensa -M sim -cpu "$_cpu" -nographic -monitor none -semihosting \
        -kernel "$_fw" -device loader,file="$_bin",addr=0x60800000,force-raw=on $_args >"$_out" 2>&1
    _st=$?
    rm -f "$_blank"
    return $_st
}
