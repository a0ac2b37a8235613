#!/bin/sh
# bench/link-archives.sh: what linking with archives costs (issue 21).
# A `natmod mpy link` of two MicroPython examples with the libraries
# py/dynruntime.mk gives them (LINK_RUNTIME = 1), counted in instructions
# under callgrind (deterministic), against the count measured before the
# archive reader was reworked; and the .mpy checked byte for byte against a
# reference link of the same objects plus the members the link pulled, taken
# out of the archives with ar(1): no archive code in the reference.
#
#   MPY_DIR=/path/to/micropython sh bench/link-archives.sh
#
#   random     armv7m  arm-none-eabi-gcc's libgcc.a + newlib's libm.a (thumb/v7-m/nofp)
#   features2  x64     gcc's libgcc.a + glibc's libm.a, a linker script naming
#                      libm-2.36.a and libmvec.a (natmod mpy link reads it as ld does)
#
# The objects are compiled into a temporary directory with dynruntime.mk's
# flags (its config header from natmod mpy qstrs, as mpy_ld.py --preprocess
# writes it); nothing is written to MPY_DIR. Needs valgrind; an example whose
# compiler is missing is skipped. REF_NATMOD=/path/to/natmod (e.g. one built
# at the "before" commit) links each example once more with that binary and
# compares too. Exit status 1 if any output differs.
# Target: <= 1.5 M instructions per link.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${NATMOD_BUILD:-$top/build}
: "${MPY_DIR:?set MPY_DIR to a MicroPython checkout (examples/natmod, py/dynruntime.h)}"
MPY_DIR=$(cd "$MPY_DIR" && pwd)
command -v valgrind >/dev/null || { echo "link-archives.sh: valgrind not found" >&2; exit 2; }
cmake -S "$top" -B "$build" -DNATMOD_FUZZ_SECONDS=0 >/dev/null
cmake --build "$build" -j"$(nproc)" --target natmod >/dev/null
natmod="$build/tools/natmod/natmod"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Instructions before the rework, measured first (2026-12-02, commit 4c7d0cc,
# Release build, gcc 12, same objects and libraries): the reader split every
# member (a name copy and an object each, per member, and each library index
# entry hashed on every pass).
before() {
    case $1 in
    random) echo 4448670 ;;
    features2) echo 4465456 ;;
    esac
}

ex="$MPY_DIR/examples/natmod"
cflags="-I. -I$MPY_DIR -std=c99 -Os -Wall -Werror -DNDEBUG -DNO_QSTR -DMICROPY_ENABLE_DYNRUNTIME -fpic -fno-common -U_FORTIFY_SOURCE"
status=0
printf '%-10s %-7s %12s %12s %7s %7s %s\n' example arch "before Ir" "after Ir" ratio bytes identical

# one NAME ARCH CC "ARCH CFLAGS" FLOAT SOURCES...
one() {
    name=$1 arch=$2 cc=$3 acf=$4 fl=$5
    shift 5
    command -v "$cc" >/dev/null || { printf '%-10s %-7s skipped: no %s\n' "$name" "$arch" "$cc"; return 0; }
    d="$work/$name"
    mkdir -p "$d/out" "$d/ref" "$d/members"
    cfg="$d/$name.config.h"
    "$natmod" mpy qstrs -o "$cfg" "$@"
    objs=""
    for src in "$@"; do
        o="$d/$(basename "$src" .c).o"
        # shellcheck disable=SC2086
        (cd "$d" && "$cc" $cflags "-DMP_CONFIGFILE=<$cfg>" $acf -DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_$fl -o "$o" -c "$src")
        objs="$objs $o"
    done
    # the libraries as dynruntime.mk asks the compiler for them
    # shellcheck disable=SC2086
    g=$(realpath "$($cc $acf --print-libgcc-file-name)")
    # shellcheck disable=SC2086
    m=$(realpath "$($cc $acf --print-file-name=libm.a)")
    src_name=""
    [ "$name" = random ] && src_name="--source-name=random.mpy"
    # shellcheck disable=SC2086
    valgrind --tool=callgrind --callgrind-out-file="$d/cg" "$natmod" mpy link --arch "$arch" --qstrs "$cfg" \
        -l"$g" -l"$m" $src_name -o "$d/out/$name.mpy" $objs >/dev/null 2>"$d/vg"
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$d/vg" | head -n 1)
    # the reference: the objects and the pulled members, in the order pulled
    # shellcheck disable=SC2086
    "$natmod" mpy link -vv --arch "$arch" --qstrs "$cfg" -l"$g" -l"$m" $src_name -o "$d/out/$name.mpy" $objs \
        2>&1 >/dev/null | sed -n "s/^natmod link: \(.*\)(\([^()]*\)) pulled for .*/\1 \2/p" >"$d/pulled"
    members=""
    i=0
    while read -r lib mem; do
        i=$((i + 1))
        ar p "$lib" "$mem" >"$d/members/$i-$mem"
        members="$members $d/members/$i-$mem"
    done <"$d/pulled"
    # shellcheck disable=SC2086
    "$natmod" mpy link --arch "$arch" --qstrs "$cfg" $src_name -o "$d/ref/$name.mpy" $objs $members >/dev/null
    same=no
    if cmp -s "$d/out/$name.mpy" "$d/ref/$name.mpy"; then same="yes ($i members)"; else status=1; fi
    if [ -n "${REF_NATMOD:-}" ]; then
        mkdir -p "$d/old"
        # shellcheck disable=SC2086
        "$REF_NATMOD" mpy link --arch "$arch" --qstrs "$cfg" -l"$g" -l"$m" $src_name -o "$d/old/$name.mpy" $objs >/dev/null
        if cmp -s "$d/out/$name.mpy" "$d/old/$name.mpy"; then same="$same, = REF_NATMOD"; else same="$same, DIFFERS from REF_NATMOD"; status=1; fi
    fi
    b=$(before "$name")
    printf '%-10s %-7s %12s %12s %7s %7s %s\n' "$name" "$arch" "$b" "$ir" \
        "$(awk -v a="$b" -v b="$ir" 'BEGIN {printf "%.2fx", a / b}')" "$(stat -c %s "$d/out/$name.mpy")" "$same"
}

one random armv7m arm-none-eabi-gcc "-mthumb -mcpu=cortex-m3" FLOAT "$ex/random/random.c"
one features2 x64 "${NATMOD_CC_X64:-x86_64-linux-gnu-gcc}" "-fno-stack-protector" DOUBLE \
    "$ex/features2/main.c" "$ex/features2/prod.c"
exit $status
