#!/usr/bin/env python3
"""Import cost of MicroPython native modules, stock firmware vs firmware with
natmod's component (docs/micropython.md), on QEMU's mps2-an385 (Cortex-M3).

    bench/micropython-import.py --mpy-dir ~/micropython \
        --stock STOCK/firmware.elf --natmod NATMOD/firmware.elf \
        --natmod-cli build/tools/natmod/natmod DIR_OF_ARMV7M_MPY_FILES

This runs firmware you built; it builds nothing (docs/micropython.md says how
to build the port with the component). It needs your MicroPython tree for
tools/pyboard.py and mpremote's ROMFS writer, Debian's python3-serial, and
qemu-system-arm. The .mpy files go into a ROMFS image at 0x21000000 (the
board's ROMFS partition); each import runs in a fresh QEMU with
-icount shift=0, so 1 us of the board's ticks_us is 1000 instructions
(the instruction column is good to +-1000).

Per module it prints: text bytes; heap bytes the import took (gc.mem_free
before and after) on stock firmware and with the component, and the RW arena
bytes the component used instead; flash bytes programmed by the first import
(blank store) and by the second (the store saved from the first boot and
loaded into a new QEMU: a reset); import instructions, stock and with the
component, first and second boot.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

SCRIPT = """import gc, sys, time, vfs, os
try:
    vfs.mount(vfs.VfsRom(vfs.rom_ioctl(2, 0)), '/rom')
except OSError:
    pass
sys.path[:] = ['/rom']
{pre}
gc.collect(); gc.collect()
f0 = gc.mem_free()
t0 = time.ticks_us()
try:
    import nm_{mod}
except ImportError as e:
    print('IMPORTERROR', e)
    raise SystemExit
t1 = time.ticks_us()
gc.collect(); gc.collect()
f1 = gc.mem_free()
{post}
print('RES', f0 - f1, time.ticks_diff(t1, t0))
"""
PRE_NATMOD = "import natmod\ns0 = natmod.stat()"
POST_NATMOD = ("s1 = natmod.stat()\n"
               "print('NATMOD', s1['prog_bytes'] - s0['prog_bytes'], s1['erase_calls'] - s0['erase_calls'],"
               " s1['rw_used'], s1['fallbacks'])")


def qemu(fw, romfs, store_in, monitor):
    c = ("qemu-system-arm -machine mps2-an385 -nographic -semihosting -icount shift=0"
         " -device loader,file=%s,addr=0x21000000,force-raw=on" % romfs)
    if store_in:
        c += " -device loader,file=%s,addr=%s,force-raw=on" % (store_in, ARGS.store_base)
    return c + " -monitor unix:%s,server,nowait -serial pty -kernel %s" % (monitor, fw)


def run(fw, romfs, mod, natmod, store_in=None, store_out=None):
    import pyboard
    mon = tempfile.mktemp(prefix="nmq", suffix=".sock")
    script = SCRIPT.format(mod=mod, pre=PRE_NATMOD if natmod else "", post=POST_NATMOD if natmod else "")
    pyb = pyboard.Pyboard("execpty:" + qemu(fw, romfs, store_in, mon))
    try:
        pyb.enter_raw_repl()
        out = pyb.exec_(script, timeout=120).decode(errors="replace")
        if store_out:
            s = socket.socket(socket.AF_UNIX)
            s.connect(mon)
            time.sleep(0.3)
            s.sendall(b'pmemsave %s %s "%s"\n' % (ARGS.store_base.encode(), ARGS.store_size.encode(),
                                                   store_out.encode()))
            for _ in range(50):
                time.sleep(0.1)
                if os.path.exists(store_out) and os.path.getsize(store_out) == int(ARGS.store_size, 0):
                    break
            s.close()
    except pyboard.PyboardError as e:
        out = "ERROR %r" % (e.args,)
    finally:
        try:
            pyb.close()
        except Exception:
            pass
    if "IMPORTERROR" in out:
        return {"error": out.split("IMPORTERROR", 1)[1].strip().splitlines()[0]}
    res = re.search(r"RES (-?\d+) (-?\d+)", out)
    nm = re.search(r"NATMOD (-?\d+) (-?\d+) (-?\d+) (-?\d+)", out)
    if not res or (natmod and not nm):
        sys.exit("%s: %s: no result from the board:\n%s" % (fw, mod, out))
    r = {"heap": int(res.group(1)), "insns": int(res.group(2)) * 1000}
    if nm:
        r.update(prog=int(nm.group(1)), erase=int(nm.group(2)), rw=int(nm.group(3)), fallbacks=int(nm.group(4)))
    return r


def text_bytes(cli, path):
    out = subprocess.run([cli, "info", path], capture_output=True, text=True).stdout
    m = re.search(r"(\d+) bytes of text", out)
    return int(m.group(1)) if m else -1


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mpy-dir", required=True, help="your MicroPython tree (tools/pyboard.py, mpremote)")
    ap.add_argument("--stock", required=True, help="firmware.elf without the component")
    ap.add_argument("--natmod", required=True, help="firmware.elf with the component")
    ap.add_argument("--natmod-cli", default="natmod")
    ap.add_argument("--store-base", default="0x20000000")
    ap.add_argument("--store-size", default="0x40000")
    ap.add_argument("mpys", help="directory of armv7m .mpy files (MODULE.mpy)")
    ap.add_argument("modules", nargs="*")
    ARGS = ap.parse_args()
    sys.path.insert(0, os.path.join(ARGS.mpy_dir, "tools"))
    sys.path.insert(0, os.path.join(ARGS.mpy_dir, "tools", "mpremote"))
    from mpremote.romfs import VfsRomWriter
    mods = ARGS.modules or sorted(f[:-4] for f in os.listdir(ARGS.mpys) if f.endswith(".mpy"))
    tmp = tempfile.mkdtemp(prefix="nm-mpbench")
    romfs = os.path.join(tmp, "mods.romfs")
    w = VfsRomWriter()
    for m in mods:
        with open(os.path.join(ARGS.mpys, m + ".mpy"), "rb") as f:
            # nm_ prefix: deflate, framebuf, ... are also built into the firmware
            w.mkfile("nm_" + m + ".mpy", f.read())
    with open(romfs, "wb") as f:
        f.write(w.finalise())
    hdr = ("| module | text B | heap stock B | heap natmod B | RW arena B | flash B 1st | flash B 2nd "
           "| insns stock | insns natmod 1st | insns natmod 2nd |")
    print(hdr)
    print("|---" * 10 + "|")
    for m in mods:
        st = run(ARGS.stock, romfs, m, False)
        store = os.path.join(tmp, m + ".store")
        n1 = run(ARGS.natmod, romfs, m, True, store_out=store)
        n2 = run(ARGS.natmod, romfs, m, True, store_in=store) if "error" not in n1 else n1
        text = text_bytes(ARGS.natmod_cli, os.path.join(ARGS.mpys, m + ".mpy"))
        if "error" in n1:
            print("| %s (ImportError: %s) | %d |" % (m, n1["error"], text) + " - |" * 8, flush=True)
            continue
        note = " (fell back to RAM)" if n1["fallbacks"] or n2["fallbacks"] else ""
        sh, si = ("ImportError", "-") if "error" in st else (str(st["heap"]), str(st["insns"]))
        print("| %s%s | %d | %s | %d | %d | %d | %d | %s | %d | %d |" % (
            m, note, text, sh, n1["heap"], n1["rw"], n1["prog"], n2["prog"], si, n1["insns"], n2["insns"]),
            flush=True)


if __name__ == "__main__":
    main()
