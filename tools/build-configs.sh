#!/bin/sh
# build-configs.sh: build natmod the ways users do, with warnings as errors,
# so a build type or a compiler that warns where the default build does not
# is caught here and not by a user:
#   gcc   Release          + its tests
#   clang Release          + its tests
#   clang RelWithDebInfo   (the default build type) build only
# The default gcc configuration is tools/test.sh's. Fuzz targets, and the
# verifier's full million-case differential run (100,000 cases here), are
# left to tools/test.sh. Each build goes to $NATMOD_CONFIGS_DIR (default build-configs/).
# Ends with "N passed, N failed" (one per configuration).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"
dir=${NATMOD_CONFIGS_DIR:-$top/build-configs}
pass=0; fail=0
config() { # name compiler build-type run-tests
    name=$1; cc=$2; type=$3; tests=$4
    b="$dir/$name"
    log="$dir/$name.log"
    mkdir -p "$b"
    echo "== $name: CC=$cc CMAKE_BUILD_TYPE=$type${tests:+, tests}"
    if CC=$cc cmake -S "$top" -B "$b" -DCMAKE_BUILD_TYPE="$type" -DNATMOD_WERROR=ON -DNATMOD_FUZZ=OFF >"$log" 2>&1 &&
        cmake --build "$b" -j"$(nproc)" >>"$log" 2>&1 &&
        { [ -z "$tests" ] || (cd "$b" && NATMOD_WERROR=ON NATMOD_ED25519_CASES=${NATMOD_ED25519_CASES:-100000} \
            ctest -j"$(nproc)" --output-on-failure >>"$log" 2>&1); }; then
        [ -n "$tests" ] && grep "tests passed" "$log"
        pass=$((pass + 1))
    else
        echo "FAIL $name (log: $log):"
        grep -E "error|FAIL|Failed|\*\*\*" "$log" | head -n 40
        fail=$((fail + 1))
    fi
}
config gcc-release gcc Release tests
config clang-release clang Release tests
config clang-default clang "" ""
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
