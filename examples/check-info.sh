#!/bin/sh
# check-info.sh NATMOD EXAMPLE DIR
# For every Thumb slice of EXAMPLE: `natmod info` must succeed and show the
# right arch and float ABI, a good CRC, every function the example's calls
# use as an export, only board functions as imports (libgcc helpers such as
# __aeabi_uldivmod are linked in, never imported), and the universal module
# must list all slices.
set -eu
natmod=$1; ex=$2; dir=$3
src=$(dirname "$0")
fail=0
err() { echo "FAIL: $*"; fail=1; }
fns=$(tr ' ' '\n' <"$src/$ex/calls.txt" | grep -v '^--' | sed 's/:.*//' | sort -u)
for v in armv6m:soft armv7m:soft armv7em:soft armv7emsp:hard; do
    arch=${v%%:*}; fl=${v##*:}
    mod="$dir/$ex.$arch.nmod"
    info=$("$natmod" info "$mod") || { err "natmod info $mod failed"; continue; }
    echo "$info" | grep -q "arch: *$arch, float ABI $fl" || err "$mod: arch line is not $arch/$fl"
    echo "$info" | grep -q "crc32: .*(ok)" || err "$mod: CRC not ok"
    for f in $fns; do
        echo "$info" | grep -Eq "func +text .* $f( |\$)" || err "$mod: export $f missing"
    done
    # imports: everything between "imports:" and "exports:" must be a board symbol
    bad=$(echo "$info" | sed -n '/imports:/,/exports:/p' | grep -E '^\s+\[' | awk '{print $3}' |
          grep -Ev '^(hal_[a-z_]+|mem(cpy|move|set|cmp)|str(len|cmp|ncmp|chr))$' || true)
    [ -z "$bad" ] || err "$mod: unexpected imports: $bad"
    text=$(echo "$info" | sed -n 's/^ *text: *\([0-9]*\) bytes.*/\1/p')
    [ "${text:-0}" -gt 0 ] || err "$mod: empty text"
done
uinfo=$("$natmod" info "$dir/$ex.nmod") || err "natmod info $dir/$ex.nmod failed"
echo "$uinfo" | grep -q "universal module, 5 slices" || err "$ex.nmod: not a 5-slice universal module"
[ $fail -eq 0 ] && echo "ok: $ex Thumb slices (armv6m armv7m armv7em armv7emsp) look sane"
exit $fail
