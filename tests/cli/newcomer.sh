#!/bin/sh
# newcomer.sh NATMOD TOP
# What a new user meets first: natmod --version, natmod build --keep DIR
# with a DIR that does not exist yet, and a module whose functions lack
# NM_EXPORT (refused, naming them, instead of an empty module).
set -u
natmod=$1; top=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/tests/cli/testlib.sh"

# --- natmod --version / -V: the release, the format, the .mpy it writes
ver=$(sed -n 's/^#define NM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$top/include/natmod/version.h" | paste -sd.)
fmt=$(sed -n 's/^#define NM_FORMAT_VERSION \([0-9]*\)$/\1/p' "$top/include/natmod/format.h")
for opt in --version -V; do
    if "$natmod" $opt >"$tmp/out" 2>"$tmp/err"; then ok; else bad "$opt: exit $?"; fi
    [ ! -s "$tmp/err" ] && ok || bad "$opt wrote to stderr: $(cat "$tmp/err")"
    grep -qx "natmod $ver" "$tmp/out" && ok || bad "$opt: no 'natmod $ver' line: $(cat "$tmp/out")"
    grep -qx "module format: .nmod version $fmt" "$tmp/out" && ok || bad "$opt: no .nmod format version"
    grep -qx "MicroPython: writes .mpy version 6.3" "$tmp/out" && ok || bad "$opt: no .mpy version"
done
"$natmod" --help | grep -q -- "--version" && ok || bad "--help does not mention --version"

# --- a module that exports nothing is refused, naming what was dropped
cat >"$tmp/noexp.c" <<'C'
int twice(int x) { return 2 * x; }
int add(int a, int b) { return a + b; }
static int helper(void) { return 1; }
int use(void) { return helper(); }
int table[4] = {1, 2, 3, 4};
C
nosym=11 # NM_ERR_NOSYM
for arch in x86_64 armv6m; do
    "$natmod" build --arch $arch -o "$tmp/noexp.nmod" "$tmp/noexp.c" >"$tmp/out" 2>"$tmp/err"
    st=$?
    [ $st -eq $nosym ] && ok || bad "build $arch without NM_EXPORT: exit $st, expected $nosym"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "build $arch without NM_EXPORT: not one line: $(cat "$tmp/err")"
    for w in "module 'noexp' exports nothing" "'twice'" "'add'" "'use'" "NM_EXPORT" "--export"; do
        grep -qF -- "$w" "$tmp/err" && ok || bad "build $arch without NM_EXPORT: message lacks $w: $(cat "$tmp/err")"
    done
    grep -qF "helper" "$tmp/err" && bad "build $arch: a static function is named" || ok
    grep -qF "table" "$tmp/err" && bad "build $arch: a data object is named as a function" || ok
    [ -e "$tmp/noexp.nmod" ] && bad "build $arch without NM_EXPORT wrote a module" || ok
done
# natmod link on the object says the same
gcc -c -fvisibility=hidden -fPIC -o "$tmp/noexp.o" "$tmp/noexp.c"
"$natmod" link --arch x86_64 -o "$tmp/noexp.nmod" "$tmp/noexp.o" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq $nosym ] && grep -qF "'twice'" "$tmp/err" && ok || bad "link without NM_EXPORT: exit $st: $(cat "$tmp/err")"
# many dropped functions: six are named, the rest counted
for i in 1 2 3 4 5 6 7 8 9; do echo "int f$i(void) { return $i; }"; done >"$tmp/many.c"
"$natmod" build --arch x86_64 -o "$tmp/many.nmod" "$tmp/many.c" >"$tmp/out" 2>"$tmp/err"
grep -qF "'f6' and 3 more" "$tmp/err" && ok || bad "nine dropped functions: $(cat "$tmp/err")"
# a data-only file: nothing could run
echo "int only_data = 3;" >"$tmp/data.c"
"$natmod" build --arch x86_64 -o "$tmp/data.nmod" "$tmp/data.c" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -eq $nosym ] && grep -qF "define no global function" "$tmp/err" && ok || bad "data-only: exit $st: $(cat "$tmp/err")"
# the two fixes the message names both work, and nm_init alone is enough
"$natmod" build --arch x86_64 -q --export twice -o "$tmp/fix1.nmod" "$tmp/noexp.c" 2>"$tmp/err" && ok || bad "--export twice: $(cat "$tmp/err")"
out=$("$natmod" run "$tmp/fix1.nmod" twice:21 2>&1)
echo "$out" | grep -q "42" && ok || bad "run twice:21 after --export: $out"
printf '#include "natmod/module.h"\nNM_EXPORT int twice(int x) { return 2 * x; }\n' >"$tmp/fix2.c"
"$natmod" build --arch x86_64 -q -o "$tmp/fix2.nmod" "$tmp/fix2.c" 2>"$tmp/err" && ok || bad "NM_EXPORT: $(cat "$tmp/err")"
printf 'static int n;\nint nm_init(void) { n = 1; return 0; }\n' >"$tmp/initonly.c"
"$natmod" build --arch armv7m -q -o "$tmp/initonly.nmod" "$tmp/initonly.c" 2>"$tmp/err" && ok || bad "nm_init only: $(cat "$tmp/err")"

# --- natmod build --keep DIR makes DIR (and its parents)
"$natmod" build --arch armv7m -q --keep "$tmp/keep/a/b" -o "$tmp/k.nmod" "$tmp/fix2.c" 2>"$tmp/err" && ok || bad "--keep new dir: $(cat "$tmp/err")"
ls "$tmp/keep/a/b/"*.o >/dev/null 2>&1 && ok || bad "--keep: no object kept in $tmp/keep/a/b"
"$natmod" build --arch armv7m -q --keep "$tmp/keep/a/b" -o "$tmp/k.nmod" "$tmp/fix2.c" 2>"$tmp/err" && ok || bad "--keep existing dir: $(cat "$tmp/err")"
: >"$tmp/afile"
"$natmod" build --arch armv7m -q --keep "$tmp/afile" -o "$tmp/k.nmod" "$tmp/fix2.c" >"$tmp/out" 2>"$tmp/err"
st=$?
[ $st -ne 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qF "$tmp/afile" "$tmp/err" && ok ||
    bad "--keep on a file: exit $st: $(cat "$tmp/err")"
"$natmod" build --help | grep -q -- "--keep DIR.*made" && ok || bad "build --help does not say --keep makes DIR"

finish
