#!/bin/sh
# check-bad-input.sh NATMOD TOP HELLO_X86_64_NMOD
# The CLI on the malformed-input corpora, end to end: every bad file must
# give exactly one line on stderr that names the file, a non-zero exit equal
# to the NM_ERR_* its entry expects (so each kind of failure is told apart
# by its status), and no crash; good files must pass.
#   tests/corpus/nmod/EXPECTED: `natmod run FILE` on the host board, and
#                               `natmod run --xip FILE` (execute in place)
#   tests/corpus/elf/MANIFEST:  `natmod link --arch A [--syms S] FILE`
set -u
natmod=$1; top=$2; hello=$3
errh="$top/include/natmod/error.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

code_of() { # NM_ERR_X -> exit status
    case "$1" in NM_OK|NM_ERR_OK|OK) echo 0; return ;; esac
    n=$(sed -n "s/^ *$1 = -\([0-9]*\),.*/\1/p" "$errh")
    [ -n "$n" ] || { echo "unknown error name $1" >&2; echo 255; return; }
    echo "$n"
}

check() { # name expected_status file words...
    name=$1; want=$2; file=$3; shift 3
    got=$(cat "$tmp/status")
    lines=$(wc -l <"$tmp/err")
    ok=1
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; ok=0
    fi
    if [ "$got" -ge 128 ]; then
        echo "FAIL $name: killed by a signal (crash)"; ok=0
    fi
    if [ "$want" != 0 ]; then
        [ "$lines" -eq 1 ] || { echo "FAIL $name: $lines lines on stderr, expected 1"; ok=0; }
        grep -qF "$(basename "$file")" "$tmp/err" || { echo "FAIL $name: message does not name the file"; ok=0; }
        for w in "$@"; do
            grep -qF -- "$w" "$tmp/err" || { echo "FAIL $name: message lacks '$w'"; ok=0; }
        done
    fi
    if [ $ok -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); sed 's/^/    stderr: /' "$tmp/err"; fi
}

# .nmod corpus through the loader on the host board.
while read -r file expected _; do
    case "$file" in ''|'#'*) continue ;; esac
    f="$top/tests/corpus/nmod/$file"
    # Good corpus modules import the loader tests' own exports, not the host
    # board's: they are checked by natmod info below, not run.
    [ "$expected" = NM_OK ] && continue
    "$natmod" run "$f" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
    check "run $file" "$(code_of "$expected")" "$f"
    # A module refused before init must not have printed anything.
    if [ "$expected" != NM_OK ] && [ "$expected" != NM_ERR_INIT ] && [ -s "$tmp/out" ]; then
        echo "FAIL run $file: module output appeared for a refused module"; fail=$((fail + 1))
    fi
done <"$top/tests/corpus/nmod/EXPECTED"

# The same files executing in place: a file refused while being checked is
# refused with the same status before anything is installed. (The corpus's
# loadable modules are hand-built for RAM only; their XIP refusal is below.)
while read -r file expected _; do
    case "$file" in ''|'#'*) continue ;; esac
    case "$expected" in NM_OK|NM_ERR_NOSYM|NM_ERR_INIT) continue ;; esac
    f="$top/tests/corpus/nmod/$file"
    "$natmod" run --xip "$f" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
    check "run --xip $file" "$(code_of "$expected")" "$f"
done <"$top/tests/corpus/nmod/EXPECTED"

# XIP-specific refusals and damaged copies of a good module, in place.
xip_case() { # name expected file words...
    name=$1; want=$2; file=$3; shift 3
    "$natmod" run --xip "$file" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
    check "run --xip $name" "$(code_of "$want")" "$file" "$@"
    if [ -s "$tmp/out" ]; then echo "FAIL run --xip $name: a refused module printed"; fail=$((fail + 1)); fi
}
xip_case "not RW_PCREL" NM_ERR_XIP "$top/tests/corpus/nmod/init_returns_1.nmod" "not RW_PCREL"
xip_case "RW not on a page" NM_ERR_XIP "$top/tests/corpus/nmod/valid_pcrel.nmod" "not on a page"
thumb="${hello%.x86_64.nmod}.armv7m.nmod"
if [ -f "$thumb" ]; then
    xip_case "thumb slice" NM_ERR_ARCH "$thumb" "armv7m"
fi
cp "$hello" "$tmp/flipped.nmod"
printf '\377' | dd of="$tmp/flipped.nmod" bs=1 seek=80 conv=notrunc 2>/dev/null
xip_case "flipped text byte" NM_ERR_CRC "$tmp/flipped.nmod" "CRC"
head -c 100 "$hello" >"$tmp/cut.nmod"
xip_case "truncated" NM_ERR_TRUNCATED "$tmp/cut.nmod"
xip_case "missing file" NM_ERR_NOENT "$tmp/no-such.nmod"

# The same files through natmod info: a bad file is named, never crashes.
for f in "$top"/tests/corpus/nmod/*.nmod; do
    "$natmod" info "$f" >"$tmp/out" 2>"$tmp/err"
    st=$?
    want_ok=$(grep -c "^$(basename "$f") NM_OK" "$top/tests/corpus/nmod/EXPECTED")
    if [ "$want_ok" -gt 0 ] && [ $st -ne 0 ]; then
        echo "FAIL info $(basename "$f"): a good module gave exit $st"; fail=$((fail + 1))
    elif [ $st -ge 128 ]; then echo "FAIL info $(basename "$f"): crashed ($st)"; fail=$((fail + 1)); else pass=$((pass + 1)); fi
done

# ELF/archive corpus through the linker.
tab=$(printf '\t')
while IFS="$tab" read -r file arch expected syms words; do
    case "$file" in ''|'#'*) continue ;; esac
    f="$top/tests/corpus/elf/$file"
    set -- --arch "$arch"
    [ "$syms" != "-" ] && set -- "$@" --syms "$top/tests/corpus/elf/$syms"
    "$natmod" link -q "$@" -o "$tmp/out.nmod" "$f" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
    want=$(code_of "NM_ERR_$expected")
    [ "$expected" = OK ] && want=0
    set --
    while [ -n "$words" ]; do
        w=${words%%"$tab"*}
        [ "$w" = "$words" ] && words="" || words=${words#*"$tab"}
        [ -n "$w" ] && set -- "$@" "$w"
    done
    check "link $file" "$want" "$f" "$@"
done <"$top/tests/corpus/elf/MANIFEST"

# A call to a function the module does not export is refused before the
# module's init runs: nothing the module prints may appear.
"$natmod" run "$hello" no_such_fn >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/status"
check "run missing export" "$(code_of NM_ERR_NOENT)" "$hello" "no export 'no_such_fn'"
if [ -s "$tmp/out" ]; then echo "FAIL run missing export: module init ran"; fail=$((fail + 1)); fi

# natmod info on a file that is neither format says what it looked for, and
# a file it refuses gets no "FILE:" heading.
printf 'hello, world\n' >"$tmp/plain.txt"
"$natmod" info "$tmp/plain.txt" >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/status"
check "info plain text" "$(code_of NM_ERR_MAGIC)" "$tmp/plain.txt" \
    "neither a .nmod (magic NMOD) nor a .mpy (magic 'M', version 6)"
if [ -s "$tmp/out" ]; then echo "FAIL info plain text: printed on stdout"; fail=$((fail + 1)); fi
"$natmod" info "$tmp/cut.nmod" >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/status"
check "info truncated" "$(code_of NM_ERR_TRUNCATED)" "$tmp/cut.nmod"
if [ -s "$tmp/out" ]; then echo "FAIL info truncated: printed on stdout"; fail=$((fail + 1)); fi
# A .mpy whose top-level code has children (several parts): the size shown
# is the file's, not the first part's.
for f in viper_children_x64.mpy bytecode_objects_children.mpy; do
    m="$top/tests/corpus/mpy/$f"
    size=$(wc -c <"$m" | tr -d ' ')
    if "$natmod" info "$m" | grep -q "format: .*, $size bytes\$"; then pass=$((pass + 1)); else
        echo "FAIL info $f: format line does not give the file's $size bytes"; fail=$((fail + 1))
        "$natmod" info "$m" | grep format: | sed 's/^/    stdout: /'
    fi
done

# Every undefined symbol is reported, one "natmod:" line each, C++ names
# demangled (the mangled name beside them), then one non-zero exit.
if command -v cc >/dev/null 2>&1; then
    cat >"$tmp/undef.c" <<'EOF'
extern int missing_c(int);
extern int ns_foo(int) __asm__("_ZN2ns3fooEi");
extern int vsize(void *) __asm__("_ZNKSt6vectorIiSaIiEE4sizeEv");
__attribute__((visibility("default"))) int use_undef(int x) { return missing_c(x) + ns_foo(x) + vsize(&x); }
EOF
    cc -O2 -fPIC -fno-plt -ffunction-sections -c "$tmp/undef.c" -o "$tmp/undef.o"
    "$natmod" link --arch x86_64 --syms "$top/tests/corpus/elf/fw.syms" -o "$tmp/undef.nmod" "$tmp/undef.o" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
    ok=1
    [ $st -eq "$(code_of NM_ERR_NOSYM)" ] || { echo "FAIL link undefined: exit $st"; ok=0; }
    [ "$(wc -l <"$tmp/err")" -eq 3 ] || { echo "FAIL link undefined: not 3 lines"; ok=0; }
    [ "$(grep -c "^natmod: undefined symbol '.*' .*(referenced from .*undef.o .text" "$tmp/err")" -eq 3 ] ||
        { echo "FAIL link undefined: a line is not 'natmod: undefined symbol ... (referenced from undef.o'"; ok=0; }
    for w in "'missing_c'" "'ns::foo(int)' [_ZN2ns3fooEi]" \
             "'std::vector<int, std::allocator<int> >::size() const' [_ZNKSt6vectorIiSaIiEE4sizeEv]"; do
        grep -qF -- "$w" "$tmp/err" || { echo "FAIL link undefined: no $w"; ok=0; }
    done
    [ ! -e "$tmp/undef.nmod" ] || { echo "FAIL link undefined: output written"; ok=0; }
    if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); sed 's/^/    stderr: /' "$tmp/err"; fi
fi

# An object built for a newer CPU than the arch (ok_thumb.o: cortex-m3,
# Thumb-2) is refused by every command that links, naming both.
f="$top/tests/corpus/elf/ok_thumb.o"
"$natmod" link --arch armv6m -o "$tmp/x.nmod" "$f" >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/status"
check "link armv7-m object for armv6m" "$(code_of NM_ERR_ARCH)" "$f" "ARMv7-M" "armv6m"
"$natmod" mpy link --arch armv6m -o "$tmp/x.mpy" "$f" >"$tmp/out" 2>"$tmp/err"
echo $? >"$tmp/status"
check "mpy link armv7-m object for armv6m" "$(code_of NM_ERR_ARCH)" "$f" "ARMv7-M" "armv6m"
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    "$natmod" build --arch armv6m -o "$tmp/x.nmod" "$f" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
    check "build armv7-m object for armv6m" "$(code_of NM_ERR_ARCH)" "$f" "ARMv7-M" "armv6m"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
