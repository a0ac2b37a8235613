#!/bin/sh
# install-test.sh BUILD TOP: natmod as a user consumes it after cmake --install.
set -u
build=$(cd "$1" && pwd); top=$(cd "$2" && pwd)
here="$top/tests/install"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/tests/cli/testlib.sh"
ver=$(sed -n 's/^#define NM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$top/include/natmod/version.h" | paste -sd.)
want="natmod runtime $ver: twice(21) = 42, add_via_firmware(3, 4) = 1007"

# Install, then move the prefix: nothing installed may point back at the
# build tree or at the prefix it was installed to.
if cmake --install "$build" --prefix "$tmp/first" >"$tmp/install.log" 2>&1; then ok; else
    bad "cmake --install: $(tail -n 5 "$tmp/install.log")"
fi
mv "$tmp/first" "$tmp/prefix"
p="$tmp/prefix"
for f in bin/natmod bin/nm-gen-exports include/natmod/loader.h include/natmod/export.h include/natmod/version.h \
    lib/libnatmod_runtime.a lib/pkgconfig/natmod.pc lib/cmake/natmod/natmodConfig.cmake \
    lib/cmake/natmod/natmodConfigVersion.cmake lib/cmake/natmod/natmod_exports.cmake \
    share/natmod/runtime/CMakeLists.txt share/natmod/runtime/cmake/natmod-runtime.cmake \
    share/natmod/runtime/src/loader/loader_internal.h share/natmod/host-board.syms; do
    [ -f "$p/$f" ] && ok || bad "not installed: $f"
done
grep -rlF "$build" "$p/lib/cmake" "$p/lib/pkgconfig" "$p/share/natmod" >"$tmp/refs" 2>/dev/null
[ -s "$tmp/refs" ] && bad "installed files name the build tree: $(cat "$tmp/refs")" || ok
"$p/bin/natmod" --version | grep -qx "natmod $ver" && ok || bad "installed natmod --version"

# The installed natmod compiles modules against the installed headers.
"$p/bin/natmod" build -v --arch x86_64 -o "$tmp/t.nmod" "$here/consumer/twice.c" >"$tmp/v.log" 2>&1 &&
    grep -qF -- "-I$p/bin/../include" "$tmp/v.log" && ok || bad "installed natmod build does not use $p/include: $(cat "$tmp/v.log")"
# ... and natmod mpy build finds natmod/mpy_fw.h there (examples/mp_periph)
[ -f "$p/include/natmod/mpy_fw.h" ] && ok || bad "not installed: include/natmod/mpy_fw.h"
"$p/bin/natmod" mpy build -v --arch x64 --cc cc --no-mpy-dir -I "$top/tests/mpy/abi" -o "$tmp/periph.mpy" \
    "$top/examples/mp_periph/periph.c" >"$tmp/mv.log" 2>&1 &&
    grep -qF -- "-I$p/bin/../include" "$tmp/mv.log" && ok ||
    bad "installed natmod mpy build does not use $p/include: $(tail -n 3 "$tmp/mv.log")"

# 1. find_package(natmod): natmod::runtime, natmod::natmod, natmod_firmware_exports()
c1="$tmp/cmake-consumer"
if cmake -S "$here/consumer" -B "$c1" -DCMAKE_PREFIX_PATH="$p" >"$tmp/c1.log" 2>&1 &&
    cmake --build "$c1" >>"$tmp/c1.log" 2>&1; then
    ok
    out=$("$c1/consumer" "$c1/twice.nmod" 2>&1)
    [ "$out" = "$want" ] && ok || bad "cmake consumer printed: $out"
else
    bad "find_package consumer did not build: $(grep -iE "error|warning" "$tmp/c1.log" | head -n 5)"
fi
# a version the package does not offer is refused
sed 's/find_package(natmod 0.9 /find_package(natmod 99.0 /' "$here/consumer/CMakeLists.txt" >"$tmp/CMakeLists.txt"
mkdir -p "$tmp/v99" && cp "$tmp/CMakeLists.txt" "$here/consumer/"*.c "$tmp/v99/"
cmake -S "$tmp/v99" -B "$tmp/v99/b" -DCMAKE_PREFIX_PATH="$p" >"$tmp/v99.log" 2>&1 &&
    bad "find_package(natmod 99.0) succeeded" || ok

# 2. pkg-config, and nm-gen-exports run by hand
export PKG_CONFIG_PATH="$p/lib/pkgconfig"
[ "$(pkg-config --modversion natmod)" = "$ver" ] && ok || bad "pkg-config --modversion: $(pkg-config --modversion natmod 2>&1)"
c2="$tmp/pc-consumer"
mkdir -p "$c2"
if cc -std=c11 -E -I"$p/include" "$here/consumer/firmware.c" -o "$c2/fw.i" &&
    "$p/bin/nm-gen-exports" -o "$c2/fw_exports.c" -s "$c2/fw.syms" "$c2/fw.i" >/dev/null &&
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra $(pkg-config --cflags natmod) -o "$c2/consumer" "$here/consumer/consumer.c" \
        "$here/consumer/firmware.c" "$c2/fw_exports.c" $(pkg-config --libs natmod) 2>"$tmp/c2.log" &&
    "$p/bin/natmod" build --arch x86_64 -q --syms "$c2/fw.syms" -o "$c2/twice.nmod" "$here/consumer/twice.c"; then
    ok
    out=$("$c2/consumer" "$c2/twice.nmod" 2>&1)
    [ "$out" = "$want" ] && ok || bad "pkg-config consumer printed: $out"
else
    bad "pkg-config consumer did not build: $(cat "$tmp/c2.log")"
fi
# a module importing what this firmware lacks is refused at link time by its syms
printf 'int host_sub(int, int);\n__attribute__((visibility("default"))) int f(int x) { return host_sub(x, 1); }\n' >"$tmp/sub.c"
"$p/bin/natmod" build --arch x86_64 -q --syms "$c2/fw.syms" -o "$tmp/sub.nmod" "$tmp/sub.c" 2>"$tmp/sub.err" &&
    bad "a module importing host_sub linked against fw.syms" ||
    { grep -qF "host_sub" "$tmp/sub.err" && ok || bad "missing import not named: $(cat "$tmp/sub.err")"; }

# 3. A firmware's cross build of the installed sources (Cortex-M0), both ways.
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    for use in subdir include; do
        x="$tmp/cross-$use"
        if cmake -S "$here/cross" -B "$x" -DCMAKE_SYSTEM_NAME=Generic -DCMAKE_C_COMPILER=arm-none-eabi-gcc \
            -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY -DNATMOD_RUNTIME_DIR="$p/share/natmod/runtime" \
            -DNATMOD_USE=$use >"$tmp/x.log" 2>&1 && cmake --build "$x" >>"$tmp/x.log" 2>&1; then
            ok
        else
            bad "cross build ($use): $(grep -iE "error" "$tmp/x.log" | head -n 5)"
            continue
        fi
        libs=$(find "$x" -name '*.a')
        # shellcheck disable=SC2086
        arm-none-eabi-nm -u $libs | awk 'NF == 2 { print $2 }' | sort -u >"$tmp/undef"
        # shellcheck disable=SC2086
        arm-none-eabi-nm --defined-only $libs | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/defined"
        # What the firmware must provide (docs/install.md): the loader and
        # the format reader memcpy and memset only; the whole runtime also
        # the rest of GCC's freestanding four, three string functions, and
        # on a core without atomic instructions (M0) __atomic_exchange_4.
        # libgcc's helpers come with the compiler.
        allowed="memcpy|memset|__aeabi_[a-z0-9_]+|__gnu_thumb1_case_[a-z0-9]+"
        [ $use = subdir ] && allowed="$allowed|memmove|memcmp|memchr|strlen|strcmp|__atomic_exchange_4"
        grep -vxF -f "$tmp/defined" "$tmp/undef" | grep -vE "^($allowed)\$" >"$tmp/extra"
        [ -s "$tmp/extra" ] && bad "cross build ($use) needs more than docs/install.md says: $(tr '\n' ' ' <"$tmp/extra")" || ok
        grep -qx memcpy "$tmp/undef" && ok || bad "cross build ($use): the check saw no memcpy reference (nm output empty?)"
        # shellcheck disable=SC2086
        arm-none-eabi-readelf -A $libs | grep -m1 "Tag_CPU_arch:" | grep -q "v6" && ok ||
            bad "cross build ($use): objects are not for the Cortex-M0"
    done
    [ -f "$tmp/cross-subdir/natmod/libnatmod_runtime.a" ] && ok || bad "add_subdirectory built no natmod_runtime library"
else
    echo "skip: arm-none-eabi-gcc not installed (sh tools/deps.sh)"
fi

finish
