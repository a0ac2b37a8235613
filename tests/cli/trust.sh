#!/bin/sh
# trust.sh NATMOD TOP: keys, signatures and the host board's signature
# policy through the CLI (docs/trust.md):
#   keygen     two key pairs; the secret file is mode 0600; a second keygen
#              of the same name is refused and changes nothing
#   sign       build --sign/--version, sign (in place, -o, universal: every
#              slice), pack --sign; info shows version and key id, and with
#              --key whether the signature verifies (exit 24 if not)
#   format     a version-only trailer; an unsigned module is byte-identical
#              to one built before trailers existed (no --sign/--version)
#   link       natmod send --sim --trust: the simulated target refuses an
#              unsigned module and a rollback (exit 24, its reason shown),
#              the image unchanged; a good one installs
#   policy     natmod run --trust refuses an unsigned module, another key's,
#              a bad signature (one bit of text flipped, CRC fixed) and runs
#              a good one; store install --trust refuses those and a lower
#              version (rollback), leaving the image byte-identical, and
#              takes an equal or higher one
set -u
natmod=$1; top=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. "$top/tests/cli/testlib.sh"
hello="$top/examples/hello/hello.c"
cd "$tmp" || exit 1

# --- keygen
t "keygen dev" 0 "$natmod" keygen dev
has "keygen names the key id" "$tmp/out" "key id "
t "keygen other" 0 "$natmod" keygen other
[ "$(stat -c %a dev.key)" = 600 ] && ok || bad "dev.key mode $(stat -c %a dev.key), want 600"
cp dev.key dev.key.before
t "keygen refuses an existing key" 18 "$natmod" keygen dev
has "keygen refusal names the file" "$tmp/err" "dev."
cmp -s dev.key dev.key.before && ok || bad "keygen changed an existing key"
printf 'natmod-ed25519-public zz\n' >broken.pub
t "a malformed public key file" 1 "$natmod" info --key broken.pub dev.pub
has "malformed key names the file" "$tmp/err" "broken.pub"

# --- building and signing
t "build unsigned" 0 "$natmod" build -q --arch x86_64 -o u.nmod "$hello"
t "build --sign --version 2" 0 "$natmod" build -q --arch x86_64 --sign dev.key --version 2 -o s2.nmod "$hello"
t "build --version 9 (no key)" 0 "$natmod" build -q --arch x86_64 --version 9 -o v9.nmod "$hello"
t "info v9" 0 "$natmod" info v9.nmod
has "version-only trailer shown" "$tmp/out" "version:      9"
has "version-only trailer: no signature" "$tmp/out" "signature:    none"
t "info --key dev.pub s2" 0 "$natmod" info --key dev.pub s2.nmod
has "info: signature verifies" "$tmp/out" "verifies"
has "info: version 2" "$tmp/out" "version:      2"
t "info --key other.pub s2" 24 "$natmod" info --key other.pub s2.nmod
has "info: another key is named as such" "$tmp/out" "not one of the keys given"
t "info --key dev.pub unsigned" 24 "$natmod" info --key dev.pub u.nmod
t "sign in place keeps the version" 0 "$natmod" sign --key other.key v9.nmod
t "info v9 signed by other" 0 "$natmod" info --key other.pub v9.nmod
has "sign kept version 9" "$tmp/out" "version:      9"
t "sign -o with a new version" 0 "$natmod" sign --key dev.key --version 1 -o s1.nmod u.nmod
t "sign: version out of range" 1 "$natmod" sign --key dev.key --version 4294967296 -o x.nmod u.nmod
t "sign: no key" 1 "$natmod" sign u.nmod
t "sign: a public key as secret" 1 "$natmod" sign --key dev.pub -o x.nmod u.nmod
[ -e x.nmod ] && bad "a failed sign wrote its output" || ok
t "sign: not a module" 4 "$natmod" sign --key dev.key dev.pub
# an unsigned build carries no trailer: its flags are what they were
if od -A d -t x1 -j 8 -N 1 u.nmod | head -n 1 | grep -q ' 01$'; then ok; else
    bad "unsigned module's flags are not the plain RW_PCREL (0x01 expected at offset 8: $(od -A d -t x1 -j 8 -N 1 u.nmod | head -n 1))"; fi

# universal: every slice signed
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    t "build armv7m" 0 "$natmod" build -q --arch armv7m -o m.nmod "$hello"
    t "pack --sign" 0 "$natmod" pack -o uni.nmod --sign dev.key --version 4 u.nmod m.nmod
    t "info --key on a universal module" 0 "$natmod" info --key dev.pub uni.nmod
    [ "$(grep -c 'verifies' "$tmp/out")" = 2 ] && ok || bad "universal: want 2 verified slices"
    t "sign a universal module with another key" 0 "$natmod" sign --key other.key -o uni2.nmod uni.nmod
    t "info: both slices by other" 0 "$natmod" info --key other.pub uni2.nmod
    [ "$(grep -c 'verifies' "$tmp/out")" = 2 ] && ok || bad "universal re-sign: want 2 verified slices"
    has "re-signing kept version 4" "$tmp/out" "version:      4"
fi

# a bit flipped in the text, CRC made right again: only the signature notices
python3 - s2.nmod bad.nmod <<'EOF'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], 'rb').read())
b[70] ^= 1
b[12:16] = struct.pack('<I', zlib.crc32(bytes(b[:12]) + bytes(b[16:])) & 0xffffffff)
open(sys.argv[2], 'wb').write(b)
EOF
t "info: tampered module" 24 "$natmod" info --key dev.pub bad.nmod
has "tampered: does not verify" "$tmp/out" "DOES NOT VERIFY"

# --- the host board's policy
t "run: no policy, unsigned runs" 0 "$natmod" run u.nmod hello:3
t "run --trust: unsigned refused" 24 "$natmod" run --trust dev.pub u.nmod hello:3
has "unsigned: reason" "$tmp/err" "not signed"
t "run --trust: other key refused" 24 "$natmod" run --trust dev.pub v9.nmod hello:3
has "other key: named" "$tmp/err" "does not trust"
t "run --trust: bad signature refused" 24 "$natmod" run --trust dev.pub bad.nmod hello:3
has "bad signature: reason and key id" "$tmp/err" "bad signature"
has "bad signature: module named" "$tmp/err" "module 'hello'"
t "run --trust: good one runs" 0 "$natmod" run --trust dev.pub s2.nmod hello:3
has "good one ran" "$tmp/out" "hello(3) = 7"
t "run --xip --trust: good one runs" 0 "$natmod" run --xip --trust dev.pub --trust other.pub s2.nmod hello:3
t "run --xip --trust: unsigned refused" 24 "$natmod" run --xip --trust dev.pub u.nmod hello:3
if grep -q "hello: init" "$tmp/out"; then bad "a refused module ran its init"; else ok; fi

t "store format" 0 "$natmod" store format st.img --size 256K
t "store install --trust v2" 0 "$natmod" store install st.img s2.nmod --trust dev.pub
cp st.img st.before
t "store install --trust: rollback to v1 refused" 24 "$natmod" store install st.img s1.nmod --trust dev.pub
has "rollback: both versions named" "$tmp/err" "version 1 is older than installed 'hello' version 2"
t "store install --trust: unsigned refused" 24 "$natmod" store install st.img u.nmod --trust dev.pub --name plain
t "store install --trust: other key refused" 24 "$natmod" store install st.img v9.nmod --trust dev.pub
t "store install --trust: bad signature refused" 24 "$natmod" store install st.img bad.nmod --trust dev.pub --name t2
cmp -s st.before st.img && ok || bad "a refused install changed the store image"
t "store install --trust: same version again" 0 "$natmod" store install st.img s2.nmod --trust dev.pub
t "run --store --trust" 0 "$natmod" run --store st.img --trust dev.pub hello hello:4
has "store module ran" "$tmp/out" "hello(4) = 9"
t "store install without policy" 0 "$natmod" store install st.img u.nmod --name plain
t "run --store --trust: unsigned installed module refused" 24 "$natmod" run --store st.img --trust dev.pub plain hello:4
t "--trust without a file" 1 "$natmod" run u.nmod --trust

# over the simulated link: the target refuses, the sender says why, the image is unchanged
cp st.img st.link
t "send --sim --trust: unsigned refused by the target" 24 "$natmod" send --sim --store st.link --trust dev.pub --name x u.nmod
has "send: the target's reason comes back" "$tmp/err" "not signed"
t "send --sim --trust: rollback refused by the target" 24 "$natmod" send --sim --store st.link --trust dev.pub s1.nmod
has "send: rollback reason" "$tmp/err" "older than installed"
cmp -s st.img st.link && ok || bad "a refused send changed the store image"
t "send --sim --trust: a good one installs" 0 "$natmod" send --sim --store st.link --trust dev.pub --name y s2.nmod

finish
