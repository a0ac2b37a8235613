#!/bin/sh
# mpy-build.sh NATMOD TOP
# natmod mpy qstrs, build and pack end to end, without a MicroPython tree
# (CI has none): the config header line by line (static qstr numbers as
# mpy_ld.py --preprocess writes them, module qstrs sorted), reading it back
# (gaps and bad lines rejected with file:line), modules built for every arch
# against the minimal ABI header in tests/mpy/abi (the .mpy header and qstr
# table checked byte by byte), the --mpy-dir check of a tree's static qstrs
# on a fake tree, and the mip layout pack writes, file by file. Failures are
# one "natmod:" line, a distinct exit status, and no output left behind.
# shellcheck disable=SC2086,SC2046 # $x64cc and $(cc_for ...) are split on purpose
set -u
natmod=$1; top=$2
abi="$top/tests/mpy/abi"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# t NAME WANT CMD...: run CMD in $tmp/w; stdout/stderr in $tmp/out, $tmp/err.
# WANT is the exit status; a failure must print exactly one line on stderr
# starting "natmod:" (compiler output may come before it: see tc), a
# success nothing on stderr.
t() {
    name=$1; want=$2; shift 2
    (cd "$tmp/w" && "$@") >"$tmp/out" 2>"$tmp/err"
    st=$?
    good=1
    if [ $st -ge 128 ]; then bad "$name: killed by signal $((st - 128)) (crash)"; good=0; fi
    if [ "$st" != "$want" ]; then bad "$name: exit $st, expected $want"; good=0; fi
    if [ "$want" != 0 ]; then
        nl=$(grep -c '^natmod:' "$tmp/err")
        if [ "$nl" -ne 1 ]; then bad "$name: $nl natmod lines on stderr, expected 1"; good=0; fi
        if [ -z "${compiler_output:-}" ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
            bad "$name: more than one line on stderr"; good=0
        fi
    elif [ -s "$tmp/err" ]; then
        bad "$name: unexpected stderr"; good=0
    fi
    if [ $good = 1 ]; then ok; else sed 's/^/    stderr: /' "$tmp/err"; sed 's/^/    stdout: /' "$tmp/out"; fi
}
# has NAME FILE TEXT: fixed text in the file
has() {
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $(basename "$2")"; sed 's/^/    | /' "$2"; fi
}
eq() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', expected '$3'"; fi
}
same() { # NAME FILE EXPECTED-FILE
    if cmp -s "$2" "$3"; then ok; else bad "$1: $(basename "$2") differs"; diff "$3" "$2" | sed 's/^/    /'; fi
}
gone() { # NAME PATH...: none of these exist
    n=$1; shift
    for p in "$@"; do
        if [ -e "$p" ]; then bad "$n: $p left behind"; else ok; fi
    done
}
hexhead() { # FILE N: the first N bytes as hex, one string
    od -An -tx1 -N"$2" "$1" | tr -d ' \n'
}

mkdir -p "$tmp/w"
w="$tmp/w"

# x64 modules use dynruntime.mk's x86_64-linux-gnu-gcc; hosts without that
# name get plain gcc.
x64cc=""
command -v x86_64-linux-gnu-gcc >/dev/null 2>&1 || x64cc="--cc gcc"

# ---- the module the build tests use: two sources, module and static qstrs
cat >"$w/twice.c" <<'EOF'
#include "py/dynruntime.h"

mp_int_t half_of(mp_int_t x);

static mp_int_t twice_of(mp_int_t x) {
    return 2 * x;
}

static mp_obj_t twice(mp_obj_t x) {
    return mp_obj_new_int(twice_of(mp_obj_get_int(x)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(twice_obj, twice);

static mp_obj_t half(mp_obj_t x) {
    return mp_obj_new_int(half_of(mp_obj_get_int(x)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(half_obj, half);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_twice, MP_OBJ_FROM_PTR(&twice_obj));
    mp_store_global(MP_QSTR_half, MP_OBJ_FROM_PTR(&half_obj));
    mp_store_global(MP_QSTR___name__, MP_OBJ_FROM_PTR(&half_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
EOF
cat >"$w/half.c" <<'EOF'
#include "py/dynruntime.h"

mp_int_t half_of(mp_int_t x) {
    return x / 2;
}
EOF

# ==== natmod mpy qstrs: the config header
cat >"$w/q.c" <<'EOF'
int zeta = MP_QSTR_zeta, alpha = MP_QSTR_alpha, again = MP_QSTR_alpha;
int statics[] = {MP_QSTR_utf_hyphen_8, MP_QSTR__lt_module_gt_, MP_QSTR_, MP_QSTR___init__};
// MP_QSTR_in_comment counts (mpy_ld.py scans text), XMP_QSTR_glued too
int upper = MP_QSTR_Beta, under = MP_QSTR_a_b, digit = MP_QSTR_a1;
EOF
printf 'int more = MP_QSTR_from_second_file + MP_QSTR_zeta;\n' >"$w/q2.S"
t "qstrs" 0 "$natmod" mpy qstrs -o q.config.h q.c q2.S
cat >"$tmp/want-module" <<'EOF'
#define MP_QSTR_Beta (mp_native_qstr_table[1])
#define MP_QSTR_a1 (mp_native_qstr_table[2])
#define MP_QSTR_a_b (mp_native_qstr_table[3])
#define MP_QSTR_alpha (mp_native_qstr_table[4])
#define MP_QSTR_from_second_file (mp_native_qstr_table[5])
#define MP_QSTR_glued (mp_native_qstr_table[6])
#define MP_QSTR_in_comment (mp_native_qstr_table[7])
#define MP_QSTR_zeta (mp_native_qstr_table[8])
extern const uint16_t mp_native_qstr_table[];
extern const uintptr_t mp_native_obj_table[];
EOF
h="$w/q.config.h"
eq "qstrs: line 1" "$(sed -n 1p "$h")" "#include <stdint.h>"
eq "qstrs: line 2" "$(sed -n 2p "$h")" "typedef uintptr_t mp_off_t;"
eq "qstrs: lines" "$(wc -l <"$h" | tr -d ' ')" $((2 + 165 + 10))
# every static qstr, numbered 1..165 in order
eq "qstrs: static numbering" \
    "$(sed -n '3,167p' "$h" | awk '{ n++; if ($0 !~ "^#define MP_QSTR_[A-Za-z0-9_]* \\(" n "\\)$") print "line " n+2 ": " $0 }')" ""
eq "qstrs: qstr 1" "$(sed -n 3p "$h")" "#define MP_QSTR_ (1)"
eq "qstrs: qstr 2" "$(sed -n 4p "$h")" "#define MP_QSTR___dir__ (2)"
eq "qstrs: qstr 3" "$(sed -n 5p "$h")" "#define MP_QSTR__0x0a_ (3)"
eq "qstrs: qstr 7" "$(sed -n 9p "$h")" "#define MP_QSTR__lt_module_gt_ (7)"
eq "qstrs: qstr 161" "$(sed -n 163p "$h")" "#define MP_QSTR_utf_hyphen_8 (161)"
eq "qstrs: qstr 165" "$(sed -n 167p "$h")" "#define MP_QSTR_zip (165)"
sed -n '168,$p' "$h" >"$tmp/got-module"
same "qstrs: module qstrs sorted, statics left out" "$tmp/got-module" "$tmp/want-module"
# default output: the first source with .c -> .config.h (as mpy_ld.py)
t "qstrs: default output" 0 "$natmod" mpy qstrs q.c q2.S
same "qstrs: default output is the same header" "$w/q.config.h" "$h"
t "qstrs: no sources" 1 "$natmod" mpy qstrs -o x.h
t "qstrs: missing source" 2 "$natmod" mpy qstrs -o x.h nonexistent.c
has "qstrs: missing source named" "$tmp/err" "nonexistent.c"
gone "qstrs: nothing written on failure" "$w/x.h"
# no module qstrs at all
printf 'int x;\n' >"$w/none.c"
t "qstrs: none" 0 "$natmod" mpy qstrs -o none.h none.c
eq "qstrs: none: header only" "$(sed -n '168,$p' "$w/none.h")" \
    "extern const uint16_t mp_native_qstr_table[];
extern const uintptr_t mp_native_obj_table[];"

# ==== natmod mpy build against the minimal ABI header
archs="x64 armv6m armv7m armv7emsp armv7emdp"
feature() { # arch -> header byte 2 (sub-version 3 | arch << 2), hex
    case $1 in x64) echo 0b ;; armv6m) echo 13 ;; armv7m) echo 17 ;; armv7emsp) echo 1f ;; armv7emdp) echo 23 ;; esac
}
cc_for() { [ "$1" = x64 ] && echo "$x64cc"; }
# qstr table: 3 entries, no objects; "twice.mpy" (the output's name), then
# the module qstrs in header order: "half", "twice"
qtab="0300$(printf '\022twice.mpy\000\010half\000\012twice\000' | od -An -tx1 | tr -d ' \n')"
for a in $archs; do
    mkdir -p "$w/$a"
    t "build $a" 0 "$natmod" mpy build --arch "$a" $(cc_for "$a") --no-mpy-dir -I "$abi" -o "$a/twice.mpy" \
        twice.c half.c
    f="$w/$a/twice.mpy"
    if [ -f "$f" ]; then
        eq "build $a: header" "$(hexhead "$f" 4)" "4d06$(feature "$a")1f"
        eq "build $a: qstr table" "$(od -An -tx1 -j4 -N26 "$f" | tr -d ' \n')" "$qtab"
    else
        bad "build $a: no $f"
    fi
done
# xtensawin: clang-22 through assembly, as natmod build compiles it (literal
# pools aligned, then cc1as); checked by decoding (no ESP32 MicroPython here)
if command -v clang-22 >/dev/null 2>&1 && [ -d /usr/lib/xtensa-lx106-elf/include ]; then
    mkdir -p "$w/xtensawin"
    t "build xtensawin" 0 "$natmod" mpy build --arch xtensawin --no-mpy-dir -I "$abi" -o xtensawin/twice.mpy \
        --build-dir xwbd twice.c half.c
    f="$w/xtensawin/twice.mpy"
    if [ -f "$f" ]; then
        eq "build xtensawin: header" "$(hexhead "$f" 4)" "4d062b1f"
        eq "build xtensawin: qstr table" "$(od -An -tx1 -j4 -N26 "$f" | tr -d ' \n')" "$qtab"
        t "build xtensawin: info decodes it" 0 "$natmod" info xtensawin/twice.mpy
        has "build xtensawin: info: arch" "$tmp/out" "arch:         xtensawin"
        has "build xtensawin: info: relocations" "$tmp/out" "relocations:"
        has "build xtensawin: info: mp_fun_table word" "$tmp/out" "<- mp_fun_table"
        has "build xtensawin: info: qstr table word" "$tmp/out" "<- qstr_table"
        has "build xtensawin: info: function object" "$tmp/out" "<- mp_fun_table[78] type_fun_builtin_1"
    else
        bad "build xtensawin: no $f"
    fi
    # the assembly is kept beside the objects; each pool is aligned
    for x in twice.s twice.x.s twice.o half.o; do
        if [ -f "$w/xwbd/$x" ]; then ok; else bad "build xtensawin: --build-dir: $x missing"; fi
    done
    eq "build xtensawin: pools aligned" "$(grep -c 'literal_position' "$w/xwbd/twice.x.s")" \
        "$(grep -B1 'literal_position' "$w/xwbd/twice.x.s" | grep -c 'p2align 2$')"
    # NATMOD_CC_XTENSAWIN names the compiler, as for natmod build
    t "build xtensawin: NATMOD_CC_XTENSAWIN" 2 env NATMOD_CC_XTENSAWIN=no-such-clang "$natmod" mpy build \
        --arch xtensawin --no-mpy-dir -I "$abi" -o xtensawin/none.mpy twice.c
    has "build xtensawin: NATMOD_CC_XTENSAWIN: names it" "$tmp/err" "no-such-clang"
    gone "build xtensawin: no output" "$w/xtensawin/none.mpy"
    printf '#include "py/dynruntime.h"\nint broken(void) { return undeclared_thing; }\n' >"$w/xbroken.c"
    compiler_output=1
    t "build xtensawin: compile error" 2 "$natmod" mpy build --arch xtensawin --no-mpy-dir -I "$abi" \
        -o xtensawin/none.mpy twice.c xbroken.c
    compiler_output=""
    has "build xtensawin: compile error: names the source" "$tmp/err" "compiling xbroken.c for xtensawin failed"
else
    echo "SKIP build xtensawin: no clang-22 or /usr/lib/xtensa-lx106-elf/include (picolibc-xtensa-lx106-elf)"
fi
# default output name and --name; --build-dir keeps header and objects
t "build: default output" 0 "$natmod" mpy build --arch x64 $x64cc --no-mpy-dir -I "$abi" twice.c half.c
if [ -f "$w/twice.mpy" ]; then ok; else bad "build: default output twice.mpy missing"; fi
t "build: --name, --build-dir" 0 "$natmod" mpy build --arch armv7m --no-mpy-dir -I "$abi" --name dbl \
    --build-dir bd twice.c half.c
if [ -f "$w/dbl.mpy" ]; then ok; else bad "build: --name: dbl.mpy missing"; fi
for f in bd/dbl.config.h bd/twice.o bd/half.o; do
    if [ -f "$w/$f" ]; then ok; else bad "build: --build-dir: $f missing"; fi
done
eq "build: config header's module qstrs" "$(grep '(mp_native_qstr_table\[' "$w/bd/dbl.config.h")" \
    "#define MP_QSTR_half (mp_native_qstr_table[1])
#define MP_QSTR_twice (mp_native_qstr_table[2])"
eq "build: source name is the output's" "$(od -An -c -j7 -N7 "$w/dbl.mpy" | tr -d ' \n')" "dbl.mpy"
# -D, --cflags reach the compiler; the temporary build directory is removed
printf '#include "py/dynruntime.h"\n#if !defined(WANT_A) || WANT_B != 2\n#error flags missing\n#endif\n' >"$w/flags.c"
cat "$w/twice.c" >>"$w/flags.c"
mkdir -p "$tmp/tmpd"
t "build: -D and --cflags" 0 env TMPDIR="$tmp/tmpd" "$natmod" mpy build --arch armv6m --no-mpy-dir -I "$abi" \
    -DWANT_A --cflags "-DWANT_B=2 -Wno-unused" flags.c half.c
eq "build: temporary build directory removed" "$(ls -A "$tmp/tmpd")" ""

# ==== firmware functions by name (natmod/mpy_fw.h, examples/mp_periph)
# mpy build finds natmod/mpy_fw.h by itself; every nm_fw_slot_NAME becomes a
# zeroed word-aligned slot in text that one relocated text word points at,
# and the text ends with the table naming exactly the declared imports and
# {table_off, "NMFW"}. An undefined symbol without the prefix still fails.
ex="$top/examples/mp_periph"
# fwcheck NAME FILE WORD-SIZE EXPECTED-NAMES: decode with natmod info, and
# the text's last bytes from the file itself
fwcheck() {
    t "$1: info" 0 "$natmod" info "$2"
    i="$tmp/out"
    nn=$(echo "$4" | wc -w | tr -d ' ')
    has "$1: table found" "$i" "firmware functions: $nn (table at text+0x"
    eq "$1: names" "$(sed -n '/firmware functions:/,$p' "$i" | sed -n 's/^    \([A-Za-z0-9_]*\): slot .*/\1/p' |
        sort | tr '\n' ' ')" "$4${4:+ }"
    sed -n '/firmware functions:/,$p' "$i" | sed -n 's/^    [A-Za-z0-9_]*: slot text+\(0x[0-9a-f]*\)\(.*\)/\1 \2/p' \
        >"$tmp/slots"
    while read -r off rest; do
        eq "$1: slot $off aligned" "$((off % $3))" 0
        case $rest in *"not zero"*) bad "$1: slot $off not zero" ;; *) ok ;; esac
        case $rest in *", 1 relocated word points at it"*) ok ;; *) bad "$1: slot $off: $rest" ;; esac
    done <"$tmp/slots"
    # scope flags (one byte: no bss) and the relocation stream follow the text
    rl=$(sed -n 's/^  relocations: .*(\([0-9]*\) bytes)$/\1/p' "$i")
    tt=$(sed -n 's/.*(table at text+\(0x[0-9a-f]*\);.*/\1/p' "$i")
    ts=$(sed -n 's/^  code: .*native viper, \([0-9]*\) bytes of text$/\1/p' "$i")
    end=$(($(wc -c <"$2") - rl - 1))
    eq "$1: text ends with NMFW" "$(od -An -c -j$((end - 4)) -N4 "$2" | tr -d ' \n')" "NMFW"
    eq "$1: table_off before the magic" "$(od -An -tu4 -j$((end - 8)) -N4 "$2" | tr -d ' \n')" "$((tt))"
    eq "$1: n at table_off" "$(od -An -tu4 -j$((end - ts + tt)) -N4 "$2" | tr -d ' \n')" "$nn"
}
cp "$ex/periph.c" "$ex/missing.c" "$w/"
fwarchs="x64 armv7m"
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 && fwarchs="$fwarchs rv32imc"
command -v xtensa-lx106-elf-gcc >/dev/null 2>&1 && fwarchs="$fwarchs xtensa"
command -v clang-22 >/dev/null 2>&1 && [ -d /usr/lib/xtensa-lx106-elf/include ] && fwarchs="$fwarchs xtensawin"
for a in $fwarchs; do
    ws=4; [ "$a" = x64 ] && ws=8
    mkdir -p "$w/fw-$a"
    t "fw by name $a: build" 0 "$natmod" mpy build --arch "$a" $(cc_for "$a") --no-mpy-dir -I "$abi" \
        -o "fw-$a/periph.mpy" periph.c
    fwcheck "fw by name $a" "$w/fw-$a/periph.mpy" $ws "natmod_periph_rmw natmod_sim_periph"
    t "fw by name $a: missing: build" 0 "$natmod" mpy build --arch "$a" $(cc_for "$a") --no-mpy-dir -I "$abi" \
        -o "fw-$a/missing.mpy" missing.c
    fwcheck "fw by name $a: missing" "$w/fw-$a/missing.mpy" $ws "natmod_no_such_function"
done
# NM_FW_CHECK with no imports: a table of none; no header used: no table
cat >"$w/fwnone.c" <<'EOF'
#include "py/dynruntime.h"
#include "natmod/mpy_fw.h"
mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    NM_FW_CHECK();
    MP_DYNRUNTIME_INIT_ENTRY
    MP_DYNRUNTIME_INIT_EXIT
}
EOF
t "fw by name: none: build" 0 "$natmod" mpy build --arch armv7m --no-mpy-dir -I "$abi" -o fwnone.mpy fwnone.c
fwcheck "fw by name: none" "$w/fwnone.mpy" 4 ""
t "fw by name: no table without the header" 0 "$natmod" info "$w/armv7m/twice.mpy"
if grep -q "firmware functions" "$tmp/out"; then bad "fw by name: table in a module without imports"; else ok; fi
# an undefined symbol without the prefix is still an error, naming it
sed 's/NM_FW(natmod_periph_rmw)(/natmod_periph_rmw(/' "$w/periph.c" >"$w/fwundef.c"
t "fw by name: undefined symbol" 11 "$natmod" mpy build --arch x64 $x64cc --no-mpy-dir -I "$abi" -o fwundef.mpy \
    fwundef.c
has "fw by name: undefined symbol: named" "$tmp/err" "undefined symbol 'natmod_periph_rmw'"
gone "fw by name: undefined symbol: no output" "$w/fwundef.mpy"

# ==== reading the header back (natmod mpy link --qstrs): in order, no gaps
(cd "$w" && "$natmod" mpy build --arch x64 $x64cc --no-mpy-dir -I "$abi" --build-dir objs twice.c half.c) \
    >/dev/null 2>&1 || bad "build for the link tests"
cfg() { # FILE: a config header whose module lines are stdin
    { printf '#include <stdint.h>\ntypedef uintptr_t mp_off_t;\n#define MP_QSTR___name__ (23)\n'; cat; } >"$w/$1"
}
printf '#define MP_QSTR_half (mp_native_qstr_table[1])\n#define MP_QSTR_twice (mp_native_qstr_table[2])\n' | cfg good.h
t "read config: good" 0 "$natmod" mpy link --arch x64 --qstrs good.h -o l.mpy objs/twice.o objs/half.o
eq "read config: good: same qstr table" "$(od -An -tx1 -j4 -N22 "$w/l.mpy" | tr -d ' \n')" \
    "0300$(printf '\012l.mpy\000\010half\000\012twice\000' | od -An -tx1 | tr -d ' \n')"
printf '#define MP_QSTR_half (mp_native_qstr_table[1])\n#define MP_QSTR_twice (mp_native_qstr_table[3])\n' | cfg gap.h
t "read config: gap" 9 "$natmod" mpy link --arch x64 --qstrs gap.h -o l.mpy objs/twice.o objs/half.o
has "read config: gap: file:line" "$tmp/err" "gap.h:5:"
has "read config: gap: which" "$tmp/err" "MP_QSTR_twice has index 3, expected 2"
gone "read config: gap: no output" "$w/l.mpy"
printf '#define MP_QSTR_half (mp_native_qstr_table[2])\n' | cfg first2.h
t "read config: starts at 2" 9 "$natmod" mpy link --arch x64 --qstrs first2.h -o l.mpy objs/twice.o
has "read config: starts at 2: file:line" "$tmp/err" "first2.h:4:"
printf '#define MP_QSTR_half (mp_native_qstr_table[1])\n#define MP_QSTR_twice mp_native_qstr_table[2]\n' | cfg bad.h
t "read config: bad line" 9 "$natmod" mpy link --arch x64 --qstrs bad.h -o l.mpy objs/twice.o
has "read config: bad line: file:line" "$tmp/err" "bad.h:5:"
printf '#define MP_QSTR_half (mp_native_qstr_table[1x])\n' | cfg badidx.h
t "read config: bad index" 9 "$natmod" mpy link --arch x64 --qstrs badidx.h -o l.mpy objs/twice.o
has "read config: bad index: file:line" "$tmp/err" "badidx.h:4:"
printf '#define MP_QSTR_ (mp_native_qstr_table[1])\n' | cfg empty.h
t "read config: empty name" 9 "$natmod" mpy link --arch x64 --qstrs empty.h -o l.mpy objs/twice.o
has "read config: empty name: file:line" "$tmp/err" "empty.h:4:"
printf '#define MP_QSTR_half (mp_native_qstr_table[99999999999999999999])\n' | cfg huge.h
t "read config: huge index" 9 "$natmod" mpy link --arch x64 --qstrs huge.h -o l.mpy objs/twice.o
has "read config: huge index: file:line" "$tmp/err" "huge.h:4:"
printf '#include <stdint.h>\n#define MP_QSTR___name__ (24)\n' >"$w/static.h"
t "read config: static qstr of another version" 5 "$natmod" mpy link --arch x64 --qstrs static.h -o l.mpy objs/twice.o
has "read config: static qstr: file:line" "$tmp/err" "static.h:2: MP_QSTR___name__ (24) is not static qstr 24"
# more module qstrs than a .mpy table holds (16-bit qstr numbers)
awk 'BEGIN { for (i = 1; i <= 65536; i++) printf "#define MP_QSTR_q%d (mp_native_qstr_table[%d])\n", i, i }' |
    cfg many.h
t "read config: too many" 17 "$natmod" mpy link --arch x64 --qstrs many.h -o l.mpy objs/twice.o
has "read config: too many: file:line" "$tmp/err" "many.h:65539:"

# ==== --mpy-dir: a fake tree whose static qstr list is natmod's own
# (quoted as Python, one entry with single quotes, comments between)
mkdir -p "$w/mpy/py"
{
    echo '# static qstrs, these must maintain a specific order'
    echo ''
    echo 'static_qstr_list = ['
    sed -n '/nm_mpy_static_qstrs\[NM_MPY_N_STATIC_QSTRS\] = {/,/^};/p' "$top/src/format/mpy_tables.c" |
        sed '1d;$d' | sed '1a\
    # a comment line between entries' | sed 's/"__call__"/'"'"'__call__'"'"'/'
    echo ']'
    echo ''
    echo 'unsorted_qstr_list = {"__bool__"}'
} >"$w/mpy/py/makeqstrdata.py"
printf '#define MPY_VERSION 6\n#define MPY_SUB_VERSION 3\n' >"$w/mpy/py/persistentcode.h"
cp "$abi/py/dynruntime.h" "$w/mpy/py/"
t "mpy-dir: matching tree" 0 "$natmod" mpy build --arch armv7emsp --mpy-dir mpy -o md.mpy twice.c half.c
t "mpy-dir: qstrs checks it too" 0 "$natmod" mpy qstrs --mpy-dir mpy -o md.h q.c
sed 's/"utf-8"/"utf-16"/' "$w/mpy/py/makeqstrdata.py" >"$tmp/m" && cp "$tmp/m" "$w/mpy/py/makeqstrdata.py"
t "mpy-dir: static qstr differs" 5 "$natmod" mpy build --arch armv7emsp --mpy-dir mpy -o md2.mpy twice.c half.c
has "mpy-dir: static qstr differs: says so" "$tmp/err" "static qstrs differ from natmod's (.mpy sub-version 3 table) at index 160"
gone "mpy-dir: no output" "$w/md2.mpy"
sed 's/"utf-16"/"utf-8"/; s/, "zip",/,/' "$w/mpy/py/makeqstrdata.py" >"$tmp/m" && cp "$tmp/m" "$w/mpy/py/makeqstrdata.py"
t "mpy-dir: static list shorter" 5 "$natmod" mpy qstrs --mpy-dir mpy -o md2.h q.c
has "mpy-dir: static list shorter: says so" "$tmp/err" "at index 164"
gone "mpy-dir: qstrs: no output" "$w/md2.h"
sed 's/"write",/"write", "zip", "extra",/' "$w/mpy/py/makeqstrdata.py" >"$tmp/m" && cp "$tmp/m" "$w/mpy/py/makeqstrdata.py"
t "mpy-dir: static list longer" 5 "$natmod" mpy qstrs --mpy-dir mpy -o md2.h q.c
has "mpy-dir: static list longer: says so" "$tmp/err" "at index 165"
sed 's/, "extra"//' "$w/mpy/py/makeqstrdata.py" >"$tmp/m" && cp "$tmp/m" "$w/mpy/py/makeqstrdata.py"
printf '#define MPY_VERSION 6\n#define MPY_SUB_VERSION 2\n' >"$w/mpy/py/persistentcode.h"
t "mpy-dir: other sub-version" 5 "$natmod" mpy build --arch x64 $x64cc --mpy-dir mpy -o md2.mpy twice.c half.c
has "mpy-dir: other sub-version: says so" "$tmp/err" "sub-version 2"
t "mpy-dir: not a tree" 1 "$natmod" mpy build --arch x64 --mpy-dir nowhere twice.c
has "mpy-dir: not a tree: names it" "$tmp/err" "nowhere"

# ==== bad input: one line, distinct status, nothing left
t "build: .py source" 17 "$natmod" mpy build --arch x64 --no-mpy-dir -I "$abi" -o py.mpy twice.c extra.py
has "build: .py source: names it" "$tmp/err" "extra.py"
t "build: unknown arch" 1 "$natmod" mpy build --arch armv9 --no-mpy-dir -o py.mpy twice.c
has "build: unknown arch: names it" "$tmp/err" "armv9"
t "build: arch natmod cannot build" 17 "$natmod" mpy build --arch x86 --no-mpy-dir -o py.mpy twice.c
t "build: no arch" 1 "$natmod" mpy build --no-mpy-dir -o py.mpy twice.c
t "build: no --mpy-dir" 1 "$natmod" mpy build --arch x64 -o py.mpy twice.c
has "build: no --mpy-dir: says so" "$tmp/err" "--mpy-dir"
t "build: no sources" 1 "$natmod" mpy build --arch x64 --no-mpy-dir -o py.mpy
t "build: unknown option" 1 "$natmod" mpy build --arch x64 --no-mpy-dir --frobnicate twice.c
t "build: missing compiler" 2 "$natmod" mpy build --arch armv7m --cc no-such-gcc --no-mpy-dir -I "$abi" -o py.mpy twice.c
has "build: missing compiler: names it" "$tmp/err" "no-such-gcc"
gone "build: bad input leaves no output" "$w/py.mpy"
printf '#include "py/dynruntime.h"\nint broken(void) { return undeclared_thing; }\n' >"$w/broken.c"
cp "$w/armv7m/twice.mpy" "$w/stale.mpy"
compiler_output=1
t "build: compile error" 2 "$natmod" mpy build --arch armv7m --no-mpy-dir -I "$abi" -o stale.mpy twice.c broken.c
compiler_output=""
has "build: compile error: compiler's own output" "$tmp/err" "undeclared_thing"
eq "build: compile error: natmod's line names the source" "$(grep '^natmod:' "$tmp/err" | grep -c 'broken\.c')" 1
gone "build: compile error: no .mpy (not even the older one)" "$w/stale.mpy"
# a module that does not link (undefined symbol): the linker's one line
printf '#include "py/dynruntime.h"\nint nowhere(int);\nint calls(int x) { return nowhere(x); }\n' >"$w/undef.c"
printf 'mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t a, size_t b, mp_obj_t *c) { return (mp_obj_t)calls; }\n' \
    >>"$w/undef.c"
t "build: link error" 11 "$natmod" mpy build --arch armv6m --no-mpy-dir -I "$abi" -o undef.mpy undef.c
has "build: link error: names the symbol" "$tmp/err" "nowhere"
gone "build: link error: no .mpy" "$w/undef.mpy"

# ==== natmod mpy pack: the mip layout
t "pack" 0 "$natmod" mpy pack --out dist/twice --name twice --version 1.2 --arch x64,armv6m,armv7m \
    --arch armv7emsp,armv7emdp $x64cc --no-mpy-dir -I "$abi" twice.c half.c
(cd "$w/dist/twice" && find . | sort) >"$tmp/got-layout"
cat >"$tmp/want-layout" <<'EOF'
.
./armv6m
./armv6m/package.json
./armv6m/twice.mpy
./armv7emdp
./armv7emdp/package.json
./armv7emdp/twice.mpy
./armv7emsp
./armv7emsp/package.json
./armv7emsp/twice.mpy
./armv7m
./armv7m/package.json
./armv7m/twice.mpy
./index.json
./mpy-2822
./mpy-2822/package.json
./mpy-2822/twice.mpy
./mpy-4870
./mpy-4870/package.json
./mpy-4870/twice.mpy
./mpy-5894
./mpy-5894/package.json
./mpy-5894/twice.mpy
./mpy-6918
./mpy-6918/package.json
./mpy-6918/twice.mpy
./mpy-7942
./mpy-7942/package.json
./mpy-7942/twice.mpy
./mpy-8966
./mpy-8966/package.json
./mpy-8966/twice.mpy
./x64
./x64/package.json
./x64/twice.mpy
EOF
same "pack: layout" "$tmp/got-layout" "$tmp/want-layout"
cat >"$tmp/want-index" <<'EOF'
{
    "name": "twice",
    "version": "1.2",
    "mpy": {
        "2822": "x64/package.json",
        "4870": "armv6m/package.json",
        "5894": "armv7m/package.json",
        "6918": "armv7m/package.json",
        "7942": "armv7emsp/package.json",
        "8966": "armv7emdp/package.json"
    }
}
EOF
same "pack: index.json" "$w/dist/twice/index.json" "$tmp/want-index"
cat >"$tmp/want-pkg" <<'EOF'
{
    "urls": [["twice.mpy", "twice.mpy"]],
    "version": "1.2"
}
EOF
for d in x64 armv6m armv7m armv7emsp armv7emdp mpy-2822 mpy-4870 mpy-5894 mpy-6918 mpy-7942 mpy-8966; do
    same "pack: $d/package.json" "$w/dist/twice/$d/package.json" "$tmp/want-pkg"
done
# each _mpy value gets the module its firmware can load (float ABI included)
for pair in 2822:x64 4870:armv6m 5894:armv7m 6918:armv7m 7942:armv7emsp 8966:armv7emdp; do
    same "pack: mpy-${pair%%:*} holds ${pair#*:}" "$w/dist/twice/mpy-${pair%%:*}/twice.mpy" \
        "$w/dist/twice/${pair#*:}/twice.mpy"
done
for a in $archs; do
    eq "pack: $a/twice.mpy header" "$(hexhead "$w/dist/twice/$a/twice.mpy" 3)" "4d06$(feature "$a")"
done
has "pack: summary" "$tmp/out" "sys.implementation._mpy 6918 (armv7em firmware): armv7m/twice.mpy"

# --mpy files already built; --base-url: absolute URLs, no copies; fallbacks
# from the archs given (armv7emdp firmware takes armv7emsp; no armv6m: none
# for armv6m firmware); replaces the earlier pack output
t "pack: --mpy, --base-url" 0 "$natmod" mpy pack --out dist/twice --name twice --base-url github:me/repo/dist/twice/ \
    --mpy armv7m=armv7m/twice.mpy --mpy armv7emsp=armv7emsp/twice.mpy
(cd "$w/dist/twice" && find . | sort) >"$tmp/got-layout"
cat >"$tmp/want-layout" <<'EOF'
.
./armv7emsp
./armv7emsp/package.json
./armv7emsp/twice.mpy
./armv7m
./armv7m/package.json
./armv7m/twice.mpy
./index.json
./mpy-5894
./mpy-5894/package.json
./mpy-6918
./mpy-6918/package.json
./mpy-7942
./mpy-7942/package.json
./mpy-8966
./mpy-8966/package.json
EOF
same "pack: --base-url layout" "$tmp/got-layout" "$tmp/want-layout"
cat >"$tmp/want-index" <<'EOF'
{
    "name": "twice",
    "mpy": {
        "5894": "armv7m/package.json",
        "6918": "armv7m/package.json",
        "7942": "armv7emsp/package.json",
        "8966": "armv7emsp/package.json"
    }
}
EOF
same "pack: --base-url index.json" "$w/dist/twice/index.json" "$tmp/want-index"
printf '{\n    "urls": [["twice.mpy", "github:me/repo/dist/twice/armv7emsp/twice.mpy"]]\n}\n' >"$tmp/want-pkg"
same "pack: --base-url armv7emsp/package.json" "$w/dist/twice/armv7emsp/package.json" "$tmp/want-pkg"
same "pack: --base-url mpy-8966/package.json" "$w/dist/twice/mpy-8966/package.json" "$tmp/want-pkg"
printf '{\n    "urls": [["twice.mpy", "github:me/repo/dist/twice/armv7m/twice.mpy"]]\n}\n' >"$tmp/want-pkg"
same "pack: --base-url mpy-6918/package.json" "$w/dist/twice/mpy-6918/package.json" "$tmp/want-pkg"
same "pack: --mpy file copied" "$w/dist/twice/armv7m/twice.mpy" "$w/armv7m/twice.mpy"
t "pack: --no-mpy-dirs" 0 "$natmod" mpy pack --out dist/x64only --name twice --no-mpy-dirs --mpy x64=x64/twice.mpy
eq "pack: --no-mpy-dirs layout" "$(cd "$w/dist/x64only" && find . | sort | tr '\n' ' ')" \
    ". ./index.json ./x64 ./x64/package.json ./x64/twice.mpy "

# failures leave the earlier output as it was and nothing beside it
cp -r "$w/dist/twice" "$tmp/before"
compiler_output=1
t "pack: compile error in the third arch" 2 "$natmod" mpy pack --out dist/twice --name twice \
    --arch x64,armv6m,armv7m $x64cc --no-mpy-dir -I "$abi" twice.c half.c flags.c
compiler_output=""
if diff -r "$tmp/before" "$w/dist/twice" >/dev/null; then ok; else bad "pack: failure changed the earlier output"; fi
eq "pack: nothing left beside the output" "$(ls "$w/dist")" "twice
x64only"
t "pack: .mpy of another arch" 6 "$natmod" mpy pack --out dist/twice --name twice --mpy armv7m=x64/twice.mpy
t "pack: not a .mpy" 4 "$natmod" mpy pack --out dist/twice --name twice --mpy armv7m=twice.c
t "pack: unknown arch" 1 "$natmod" mpy pack --out dist/twice --name twice --arch x64,armv8m twice.c
has "pack: unknown arch: names it" "$tmp/err" "armv8m"
t "pack: arch twice" 1 "$natmod" mpy pack --out dist/twice --name twice --arch x64 --mpy x64=x64/twice.mpy
t "pack: name not an identifier" 1 "$natmod" mpy pack --out dist/twice --name 2x --mpy x64=x64/twice.mpy
t "pack: no --out" 1 "$natmod" mpy pack --name twice --mpy x64=x64/twice.mpy
t "pack: -o" 1 "$natmod" mpy pack -o x --name twice --mpy x64=x64/twice.mpy
t "pack: bad --base-url" 1 "$natmod" mpy pack --out dist/twice --name twice --base-url ftp://x --mpy x64=x64/twice.mpy
t "pack: .py source" 17 "$natmod" mpy pack --out dist/twice --name twice --arch x64 --no-mpy-dir -I "$abi" twice.c m.py
if diff -r "$tmp/before" "$w/dist/twice" >/dev/null; then ok; else bad "pack: failures changed the earlier output"; fi
mkdir -p "$w/mine" && echo keep >"$w/mine/README"
t "pack: will not replace another directory" 1 "$natmod" mpy pack --out mine --name twice --mpy x64=x64/twice.mpy
eq "pack: other directory untouched" "$(ls "$w/mine")" "README"
eq "pack: no temporary directories left" "$(ls -A "$w/dist")" "twice
x64only"

echo "mpy-build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
