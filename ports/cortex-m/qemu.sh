# Sourced by the Cortex-M scripts.
# qemu_run MACHINE FW.ELF SCRIPT OUT FILE@ADDR... [-- EXTRA QEMU ARGS]
# Runs the firmware with the script at $NM_SCRIPT_ADDR (default 0x003F0000,
# the MPS2 boards; 0x0003F000 on the micro:bit), NUL-terminated, and each
# FILE loaded at ADDR; stdout+stderr to OUT; returns QEMU's exit status
# (the firmware's, through semihosting).
qemu_run() {
    _m=$1; _fw=$2; _sc=$3; _out=$4; shift 4
    _bin="$_out.script.bin" # beside the output: the source tree stays clean
    { cat "$_sc"; printf '\0'; } >"$_bin"
    _args=""
    _extra=""
    for _f in "$@"; do
        if [ "$_f" = "--" ]; then _extra=1; continue; fi
        if [ -n "$_extra" ]; then _args="$_args $_f"; continue; fi
        _args="$_args -device loader,file=${_f%@*},addr=${_f##*@}"
    done
    # shellcheck disable=SC2086
    timeout 120 qemu-system-arm -M "$_m" -nographic -monitor none \
        -semihosting-config enable=on,target=native -kernel "$_fw" \
        -device loader,file="$_bin",addr="${NM_SCRIPT_ADDR:-0x003F0000}" $_args >"$_out" 2>&1
}
