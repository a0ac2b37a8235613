#!/bin/sh
# deps.sh [--bench]: install the Debian packages natmod's build and tests need,
# only those missing. Needs root (or sudo) only when something is missing.
set -eu
# libsodium-dev: keys and signatures in the CLI (natmod keygen/sign), and the
# reference the on-target Ed25519 verifier is tested against.
# clang-22 (about 500 MB) builds the windowed Xtensa firmware and modules
# (ports/xtensa): Debian's only Xtensa gcc is the call0 lx106 one.
pkgs="cmake make gcc libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm clang libclang-rt-14-dev libgpiod-dev pkg-config python3 libsodium-dev
      gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
      gcc-xtensa-lx106 picolibc-xtensa-lx106-elf clang-22"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs valgrind hyperfine"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
