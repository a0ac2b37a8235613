#!/bin/sh
# bench/trust-verify.sh: the cost of the signature policy on Cortex-M under
# QEMU -icount shift=0 (deterministic: one instruction per virtual ns; see
# bench/cortex-m-load.sh): instructions per signature check of a signed
# 1 KB and 16 KB module on the M0 (micro:bit) and the M4F (mps2-an386),
# the check's peak stack (measured: the firmware paints the stack below
# its frame and finds the deepest word the check changed), and the
# verifier's size in flash (.text and .rodata of sha512.c + ed25519.c +
# trust.c, -Os, as a firmware would build them), next to published figures for comparison.
# Usage: bench/trust-verify.sh [BUILD_DIR]   (natmod and nm-gen-exports built there)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${NATMOD_BUILD:-$top/build}}
natmod="$build/tools/natmod/natmod"
gen="$build/ports/host/nm-gen-exports"
port="$top/ports/cortex-m"
. "$port/qemu.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
checks=${CHECKS:-4}

"$natmod" keygen "$work/bench" >/dev/null
# A module of about SIZE bytes: SIZE - 300 bytes of rodata and a function that reads them.
blob() { # out.c size
    n=$(($2 - 300))
    {
        echo '#include "natmod/module.h"'
        echo "static const unsigned char blob[$n] = {"
        i=0
        while [ $i -lt $n ]; do printf '%d,' $(((i * 73 + 11) % 251)); i=$((i + 1)); done
        echo '};'
        echo 'NM_EXPORT int sum(int k) { int s = 0; for (int i = 0; i < k && i < (int)sizeof blob; i++) s += blob[i]; return s; }'
    } >"$1"
}
blob "$work/m1k.c" 1024
blob "$work/m16k.c" 16384

printf "%-6s %-10s %8s %13s %8s\n" board module bytes "insns/check" "stack"
row() { # name machine stage script-addr paint board-arch board-float module-arch module-float cpu-flags...
    n=$1; machine=$2; stage=$3; script=$4; paint=$5; ba=$6; bf=$7; ma=$8; mf=$9; shift 9
    d="$work/$n"
    NATMOD_TRUST="$work/bench.pub" "$port/build-fw.sh" "$gen" "$top" "$d" "$ba" "$bf" "$@" >"$d.log" 2>&1 ||
        { echo "firmware $n failed:"; tail -5 "$d.log"; return 1; }
    s1=$stage
    s2=$(printf '0x%08x' $((stage + 0x1000)))
    for m in m1k m16k; do
        "$natmod" build -q --arch "$ma" --float "$mf" --syms "$d/board.syms" --sign "$work/bench.key" \
            -o "$d/$m.nmod" "$work/$m.c"
    done
    printf 'verify m1k %s %s %s\nverify m16k %s %s %s\n' "$s1" $((checks + 1)) "$paint" "$s2" \
        $((checks + 1)) "$paint" >"$d/script.txt"
    NM_SCRIPT_ADDR=$script qemu_run "$machine" "$d/fw.elf" "$d/script.txt" "$d/out.txt" \
        "$d/m1k.nmod@$s1" "$d/m16k.nmod@$s2" -- -icount shift=0 || true
    grep -q '^verify m16k ' "$d/out.txt" || { echo "verify on $n failed:"; tail -5 "$d/out.txt"; return 1; }
    awk -v board="$n" '
        /^calib / { per = $3 / $5 }
        /^verify / { printf "%-6s %-10s %8d %13.0f %5d B%s\n", board, $2, $8, $6 * per / $4, $10, ($10 >= $12 - 4) ? " (>= painted)" : "" }
    ' "$d/out.txt"
}
row m0 microbit 0x00028000 0x0003F000 3072 NM_ARCH_ARMV6M NM_FLOAT_SOFT armv6m soft -mcpu=cortex-m0 -mfloat-abi=soft
row m4f mps2-an386 0x00200000 0x003F0000 8192 NM_ARCH_ARMV7EMSP NM_FLOAT_HARD armv7emsp hard -mcpu=cortex-m4 \
    -mfloat-abi=hard -mfpu=fpv4-sp-d16

echo
echo "== verifier size (arm-none-eabi-gcc -Os -ffunction-sections: .text + .rodata, its constant tables included)"
printf "%-26s %8s %8s\n" "" "M0" "M4F"
size_of() { # cpu-flags... -> text bytes of the three files
    t=0
    for f in sha512 ed25519 trust; do
        arm-none-eabi-gcc "$@" -mthumb -Os -ffreestanding -ffunction-sections -std=c11 -I"$top/include" -I"$top/src" \
            -c "$top/src/loader/$f.c" -o "$work/$f.o"
        t=$((t + $(arm-none-eabi-size -A "$work/$f.o" | awk '/^\.(text|rodata)/ { s += $2 } END { print s + 0 }')))
    done
    echo $t
}
m0=$(size_of -mcpu=cortex-m0)
m4=$(size_of -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16)
printf "%-26s %8d %8d\n" "natmod (SHA-512+Ed25519)" "$m0" "$m4"
echo
echo "Published, for comparison (not measured here):"
echo "  p256-m, ECDSA P-256 verify: about 2.9 KB code, 784 B stack (figures quoted by issue 18)"
echo "  MCUboot's Ed25519 work (runtimeco MCUB-68, FRDM-K64F, Cortex-M4 at 120 MHz): the ref10 reference"
echo "    verifies in 21 ms (about 2.5 M cycles) with over 100 KB of code; TweetNaCl in a few KB takes 760 ms"
echo "    (about 91 M cycles). MCUboot signs a SHA-256 of the image (prehash), natmod the module itself."
