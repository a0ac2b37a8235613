#!/usr/bin/env python3
"""Regenerate the malformed-input corpus for the linker (tests/corpus/elf).

Builds a few tiny valid objects with the host cc, arm-none-eabi-gcc,
riscv64-unknown-elf-gcc and xtensa-lx106-elf-gcc, then
writes mutated copies: each breaks exactly one thing the reader must check.
MANIFEST lists: file arch expected-error syms-file words-in-message.
Run from anywhere: python3 tests/corpus/elf/gen.py
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
X64 = ["cc", "-O2", "-fPIC", "-fno-plt", "-fvisibility=hidden", "-ffreestanding", "-fno-stack-protector",
       "-fno-common", "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-c"]
ARM = ["arm-none-eabi-gcc", "-O2", "-mthumb", "-mcpu=cortex-m3", "-ffreestanding", "-fno-common",
       "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections", "-fno-unwind-tables",
       "-fno-asynchronous-unwind-tables", "-c"]

RV = ["riscv64-unknown-elf-gcc", "-march=rv32imc", "-mabi=ilp32", "-Os", "-ffreestanding", "-fno-common",
      "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-c"]
RV64 = ["riscv64-unknown-elf-gcc", "-march=rv64imc", "-mabi=lp64", "-Os", "-ffreestanding", "-fno-common",
        "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-c"]
XT = ["xtensa-lx106-elf-gcc", "-Os", "-mlongcalls", "-ffreestanding", "-fno-common", "-fvisibility=hidden",
      "-ffunction-sections", "-fdata-sections", "-fno-asynchronous-unwind-tables", "-c"]

SRC = r'''
#define NM_EXPORT __attribute__((visibility("default"), used))
extern int helper(int);
static int table[4] = {1, 2, 3, 4};
NM_EXPORT int entry(int x) { return helper(x) + table[x & 3]; }
'''

manifest = []


def build(cmd, src, suffix=".c", extra=()):
    d = tempfile.mkdtemp()
    s = os.path.join(d, "m" + suffix)
    o = os.path.join(d, "m.o")
    open(s, "w").write(src)
    subprocess.check_call(cmd + list(extra) + [s, "-o", o])
    return bytearray(open(o, "rb").read())


class Elf:
    def __init__(self, b):
        self.b = b
        self.is64 = b[4] == 2
        if self.is64:
            self.shoff, = struct.unpack_from("<Q", b, 0x28)
            self.shentsize, self.shnum, self.shstrndx = struct.unpack_from("<HHH", b, 0x3a)
        else:
            self.shoff, = struct.unpack_from("<I", b, 0x20)
            self.shentsize, self.shnum, self.shstrndx = struct.unpack_from("<HHH", b, 0x2e)

    def sh(self, i):
        o = self.shoff + i * self.shentsize
        if self.is64:
            f = struct.unpack_from("<IIQQQQIIQQ", self.b, o)
        else:
            f = struct.unpack_from("<IIIIIIIIII", self.b, o)
        keys = ["name", "type", "flags", "addr", "offset", "size", "link", "info", "align", "entsize"]
        d = dict(zip(keys, f))
        d["hdr"] = o
        return d

    def name(self, i):
        s = self.sh(self.shstrndx)
        n = self.sh(i)["name"]
        e = self.b.index(b"\0", s["offset"] + n)
        return self.b[s["offset"] + n:e].decode()

    def find(self, pred):
        for i in range(1, self.shnum):
            if pred(self.sh(i), self.name(i)):
                return i
        raise KeyError

    def set_sh(self, i, field, v):
        h = self.sh(i)["hdr"]
        if self.is64:
            off = {"name": (0, "I"), "type": (4, "I"), "offset": (0x18, "Q"), "size": (0x20, "Q"),
                   "link": (0x28, "I"), "info": (0x2c, "I"), "align": (0x30, "Q"), "entsize": (0x38, "Q")}
        else:
            off = {"name": (0, "I"), "type": (4, "I"), "offset": (0x10, "I"), "size": (0x14, "I"),
                   "link": (0x18, "I"), "info": (0x1c, "I"), "align": (0x20, "I"), "entsize": (0x24, "I")}
        o, f = off[field]
        struct.pack_into("<" + f, self.b, h + o, v)


def rel_entry(e, secname_prefix, k=0):
    i = e.find(lambda s, n: s["type"] in (4, 9) and n.startswith(secname_prefix))
    s = e.sh(i)
    return i, s["offset"] + k * s["entsize"]


def emit(name, data, arch, err, words, syms="-"):
    open(os.path.join(HERE, name), "wb").write(bytes(data))
    manifest.append("\t".join([name, arch, err, syms] + list(words)))


def mutate(base, fn):
    b = bytearray(base)
    fn(Elf(b), b)
    return b


def ar(members, raw_size=None, name_field=None):
    out = bytearray(b"!<arch>\n")
    for i, (n, d) in enumerate(members):
        size = str(len(d)) if raw_size is None or i != len(members) - 1 else raw_size
        nm = name_field if name_field and i == len(members) - 1 else (n + "/")
        out += b"%-16s%-12s%-6s%-6s%-8s%-10s`\n" % (nm.encode(), b"0", b"0", b"0", b"644", size.encode())
        out += d
        if len(d) & 1:
            out += b"\n"
    return out


def main():
    for f in os.listdir(HERE):
        if f.endswith((".o", ".a")) or f == "MANIFEST" or f.endswith(".syms"):
            os.remove(os.path.join(HERE, f))
    x = build(X64, SRC)
    a = build(ARM, SRC)
    open(os.path.join(HERE, "fw.syms"), "w").write("# firmware exports for the corpus\nother_symbol\n")

    emit("ok_x64.o", x, "x86_64", "OK", [])
    emit("ok_thumb.o", a, "armv7m", "OK", [])
    emit("not_elf.o", b"hello, world\n", "x86_64", "ELF", ["not an ELF object"])
    emit("trunc_header.o", x[:30], "x86_64", "ELF", ["truncated ELF header"])
    emit("truncated.o", x[:len(x) // 2], "x86_64", "ELF", ["outside the file"])
    emit("big_endian.o", mutate(x, lambda e, b: b.__setitem__(5, 2)), "x86_64", "UNSUPPORTED", ["big-endian"])
    emit("exec_type.o", mutate(x, lambda e, b: struct.pack_into("<H", b, 16, 2)), "x86_64", "UNSUPPORTED",
         ["ET_REL"])
    emit("bad_shoff.o", mutate(x, lambda e, b: struct.pack_into("<Q", b, 0x28, 0xffffffffffffff00)), "x86_64",
         "ELF", ["section headers", "outside the file"])
    emit("bad_shentsize.o", mutate(x, lambda e, b: struct.pack_into("<H", b, 0x3a, 20)), "x86_64", "ELF",
         ["e_shentsize 20"])
    emit("bad_shstrndx.o", mutate(x, lambda e, b: struct.pack_into("<H", b, 0x3e, 200)), "x86_64", "ELF",
         ["e_shstrndx 200"])
    emit("bad_shnum_zero.o", mutate(x, lambda e, b: struct.pack_into("<H", b, 0x3c, 0)), "x86_64", "ELF",
         ["no section headers"])

    def sec_trunc(e, b):
        i = e.find(lambda s, n: n == ".text.entry")
        e.set_sh(i, "size", len(b))
    emit("section_truncated.o", mutate(x, sec_trunc), "x86_64", "ELF", ["section", "outside the file"])

    def sec_wrap(e, b):
        i = e.find(lambda s, n: n == ".text.entry")
        e.set_sh(i, "offset", 0xfffffffffffffff0)
        e.set_sh(i, "size", 0x20)
    emit("section_offset_wraps.o", mutate(x, sec_wrap), "x86_64", "ELF", ["outside the file"])

    def bad_align(e, b):
        e.set_sh(e.find(lambda s, n: n == ".text.entry"), "align", 3)
    emit("bad_align.o", mutate(x, bad_align), "x86_64", "ELF", ["alignment 3"])

    def bad_secname(e, b):
        e.set_sh(2, "name", 0x7fffffff)
    emit("bad_section_name.o", mutate(x, bad_secname), "x86_64", "ELF", ["section 2", "name offset"])

    def sym_index(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        struct.pack_into("<I", b, o + 12, 99)
    emit("reloc_symbol_index.o", mutate(x, sym_index), "x86_64", "ELF",
         ["(.rela.text.entry)", "symbol index 99 out of range", "symbols)"])

    def rel_offset(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        struct.pack_into("<Q", b, o, 0x10000)
    emit("reloc_offset.o", mutate(x, rel_offset), "x86_64", "ELF", ["offset 0x10000 outside .text.entry"])

    def rel_info(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        e.set_sh(i, "info", 99)
    emit("reloc_target_section.o", mutate(x, rel_info), "x86_64", "ELF", ["target section 99 out of range"])

    def rel_link(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        e.set_sh(i, "link", 1)
    emit("reloc_link.o", mutate(x, rel_link), "x86_64", "ELF", ["sh_link 1 is not the symbol table"])

    def rel_entsize(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        e.set_sh(i, "entsize", 7)
    emit("reloc_entsize.o", mutate(x, rel_entsize), "x86_64", "ELF", ["entry size 7"])

    def rel_type(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        struct.pack_into("<I", b, o + 8, 200)
    emit("reloc_unknown_type.o", mutate(x, rel_type), "x86_64", "RELOC",
         ["relocation type 200", ".text.entry+0x", "not supported"])

    def rel_32s(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        struct.pack_into("<I", b, o + 8, 11)
    emit("reloc_x86_64_32s.o", mutate(x, rel_32s), "x86_64", "RELOC",
         ["R_X86_64_32S", "compile with -fPIC", ".text.entry+0x"])

    def rel_tls(e, b):
        i, o = rel_entry(e, ".rela.text.entry")
        struct.pack_into("<I", b, o + 8, 23)
    emit("reloc_tls.o", mutate(x, rel_tls), "x86_64", "RELOC", ["R_X86_64_TPOFF32", "thread-local"])

    def symtab(e):
        return e.find(lambda s, n: s["type"] == 2)

    def sym_off(e, name):
        st = e.sh(symtab(e))
        strs = e.sh(st["link"])
        for k in range(st["size"] // st["entsize"]):
            o = st["offset"] + k * st["entsize"]
            n, = struct.unpack_from("<I", e.b, o)
            s = strs["offset"] + n
            if e.b[s:e.b.index(b"\0", s)].decode() == name:
                return o
        raise KeyError(name)

    def sym_shndx(e, b):
        struct.pack_into("<H", b, sym_off(e, "entry") + 6, 500)
    emit("symbol_section_index.o", mutate(x, sym_shndx), "x86_64", "ELF", ["'entry'", "section index 500"])

    def sym_xindex(e, b):
        struct.pack_into("<H", b, sym_off(e, "entry") + 6, 0xffff)
    emit("symbol_xindex.o", mutate(x, sym_xindex), "x86_64", "UNSUPPORTED", ["extended section index"])

    def sym_name(e, b):
        struct.pack_into("<I", b, sym_off(e, "entry"), 0x7ffffff0)
    emit("symbol_name.o", mutate(x, sym_name), "x86_64", "ELF", ["name offset", "outside the string table"])

    def sym_value(e, b):
        struct.pack_into("<Q", b, sym_off(e, "entry") + 8, 0x100000)
    emit("symbol_value.o", mutate(x, sym_value), "x86_64", "ELF", ["'entry'", "beyond section"])

    def symtab_entsize(e, b):
        e.set_sh(symtab(e), "entsize", 16)
    emit("symtab_entsize.o", mutate(x, symtab_entsize), "x86_64", "ELF", ["symbol entry size 16"])

    def symtab_link(e, b):
        e.set_sh(symtab(e), "link", 0)
    emit("symtab_link.o", mutate(x, symtab_link), "x86_64", "ELF", ["is not a string table"])

    def symtab_size(e, b):
        st = e.sh(symtab(e))
        e.set_sh(symtab(e), "size", st["size"] + 5)
    emit("symtab_size.o", mutate(x, symtab_size), "x86_64", "ELF", ["not a multiple of 24"])

    emit("undefined_with_syms.o", x, "x86_64", "NOSYM",
         ["undefined symbol 'helper' (referenced from", ".text.entry+0x", "R_X86_64_GOTPCRELX",
          "not in the firmware export list", "fw.syms"], syms="fw.syms")
    emit("wrong_machine.o", x, "armv7m", "ARCH", ["is not armv7m"])

    # Thumb (ELF32, REL)
    def arm_sym_index(e, b):
        i, o = rel_entry(e, ".rel.text.entry")
        info, = struct.unpack_from("<I", b, o + 4)
        struct.pack_into("<I", b, o + 4, (77 << 8) | (info & 0xff))
    emit("arm_reloc_symbol_index.o", mutate(a, arm_sym_index), "armv7m", "ELF", ["symbol index 77 out of range"])

    def arm_type(e, b, t):
        i, o = rel_entry(e, ".rel.text.entry")
        info, = struct.unpack_from("<I", b, o + 4)
        struct.pack_into("<I", b, o + 4, (info & ~0xff) | t)
    emit("arm_reloc_unknown.o", mutate(a, lambda e, b: arm_type(e, b, 250)), "armv7m", "RELOC",
         ["relocation type 250"])
    emit("arm_reloc_movw.o", mutate(a, lambda e, b: arm_type(e, b, 47)), "armv7m", "RELOC",
         ["R_ARM_THM_MOVW_ABS_NC", "not supported"])
    emit("arm_reloc_prel31.o", mutate(a, lambda e, b: arm_type(e, b, 42)), "armv7m", "RELOC", ["R_ARM_PREL31"])
    emit("arm_float_hard.o", mutate(a, lambda e, b: struct.pack_into("<I", b, 0x24, 0x05000400)), "armv7m",
         "FLOAT_ABI", ["arm_float_hard.o", "hard"])
    emit("arm_truncated.o", a[:len(a) - 100], "armv7m", "ELF", ["outside the file"])

    # .ARM.attributes (build attributes): untrusted lengths, ULEBs and strings,
    # then well-formed ones that say the code is for another CPU. The section
    # of ok_thumb.o is 'A' | u32 len | "aeabi" NUL | tag 1 | u32 size |
    # 05 "7-M" NUL 06 0a (Tag_CPU_arch 10) 07 'M' (profile) ...
    def attrs(e):
        i = e.find(lambda s, n: s["type"] == 0x70000003)
        return i, e.sh(i)["offset"]

    def attr_set(off, *vals):
        def f(e, b):
            i, o = attrs(e)
            assert b[o:o + 1] == b"A" and b[o + 5:o + 11] == b"aeabi\0" and b[o + 21:o + 25] == b"\x06\x0a\x07M"
            for k, v in enumerate(vals):
                b[o + off + k] = v
        return f

    def attr_len(v):
        def f(e, b):
            struct.pack_into("<I", b, attrs(e)[1] + 1, v)
        return f

    def attr_subsize(v):
        def f(e, b):
            struct.pack_into("<I", b, attrs(e)[1] + 12, v)
        return f

    def attr_secsize(e, b):
        e.set_sh(attrs(e)[0], "size", 3)
    A = ".ARM.attributes"
    emit("arm_attr_version.o", mutate(a, attr_set(0, ord("B"))), "armv7m", "ELF",
         [A, "build attributes at offset 0x0", "format version"])
    emit("arm_attr_section_short.o", mutate(a, attr_secsize), "armv7m", "ELF",
         [A, "offset 0x1", "subsection length runs past the section"])
    emit("arm_attr_subsection_len.o", mutate(a, attr_len(0x100)), "armv7m", "ELF", [A, "subsection length"])
    emit("arm_attr_vendor_nul.o", mutate(a, attr_len(8)), "armv7m", "ELF", [A, "vendor name without its NUL"])
    emit("arm_attr_subsub_size.o", mutate(a, attr_subsize(0x50)), "armv7m", "ELF", [A, "sub-subsection size"])
    emit("arm_attr_subsub_small.o", mutate(a, attr_subsize(2)), "armv7m", "ELF", [A, "sub-subsection size"])
    emit("arm_attr_string_nul.o", mutate(a, attr_set(20, ord("X"))), "armv7m", "ELF",
         [A, "offset 0x10", "string value without its NUL"])
    emit("arm_attr_uleb_past_end.o", mutate(a, attr_set(44, 0x81)), "armv7m", "ELF",
         [A, "value runs past its sub-subsection"])
    emit("arm_attr_uleb_33_bits.o", mutate(a, attr_set(16, 0x06, 0xff, 0xff, 0xff, 0xff, 0x7f)), "armv7m", "ELF",
         [A, "offset 0x10", "exceeds 32 bits"])
    emit("arm_attr_other_vendor.o", mutate(a, attr_set(5, ord("x"))), "armv7m", "OK", [])
    emit("arm_attr_cpu_v8m_main.o", mutate(a, attr_set(22, 17)), "armv7m", "ARCH",
         ["arm_attr_cpu_v8m_main.o", "ARMv8-M.main (Tag_CPU_arch 17)", "newer than armv7m"])
    emit("arm_attr_cpu_unknown.o", mutate(a, attr_set(22, 0x7f)), "armv7m", "ARCH",
         ["Tag_CPU_arch 127", "armv7m"])
    emit("arm_attr_profile_a.o", mutate(a, attr_set(24, ord("A"))), "armv7m", "ARCH",
         ["ARMv7-A", "Tag_CPU_arch_profile 'A'", "armv7m"])
    emit("arm_attr_cpu_v6m.o", mutate(a, attr_set(22, 11)), "armv7m", "OK", [])

    def arm_state(e, b):
        st = e.sh(symtab(e))
        strs = e.sh(st["link"])
        for k in range(st["size"] // st["entsize"]):
            o = st["offset"] + k * st["entsize"]
            n, = struct.unpack_from("<I", b, o)
            if b[strs["offset"] + n:strs["offset"] + n + 3] == b"$t\0":
                b[strs["offset"] + n + 1] = ord("a")
                return
        raise KeyError("$t")
    emit("arm_code_mapping_a.o", mutate(a, arm_state), "armv7m", "ARCH",
         ["arm_code_mapping_a.o", "ARM (A32) code", "$a", "armv7m"])

    far = r'''
    .syntax unified
    .thumb
    .section .text.a,"ax",%progbits
    .global f
    .type f, %function
    f: b.n far
    .word pad
    .section .text.pad,"ax",%progbits
    pad: .space 4096
    .section .text.b,"ax",%progbits
    .type far, %function
    far: bx lr
    '''
    emit("arm_jump11_range.o", build(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-c"], far, ".s"), "armv7m",
         "RELOC", ["R_ARM_THM_JUMP11", "'far'", "out of range"])

    # RISC-V (ELF32, RELA): a medany object, so that the table is reached by
    # an AUIPC/ADDI pair (R_RISCV_PCREL_HI20 + R_RISCV_PCREL_LO12_I)
    r = build(RV, SRC, extra=["-mcmodel=medany", "-mno-relax"])

    def rv_rel(e, t, sec=".rela.text.entry"):
        """File offset of the first RELA entry of type t in sec."""
        i, o = rel_entry(e, sec)
        s = e.sh(i)
        for k in range(s["size"] // 12):
            info, = struct.unpack_from("<I", e.b, s["offset"] + 12 * k + 4)
            if info & 0xff == t:
                return s["offset"] + 12 * k
        raise KeyError(t)

    def rv_type(t_from, t_to):
        def f(e, b):
            o = rv_rel(e, t_from)
            info, = struct.unpack_from("<I", b, o + 4)
            struct.pack_into("<I", b, o + 4, (info & ~0xff) | t_to)
        return f

    def rv_field(t, off, fmt, v):
        def f(e, b):
            struct.pack_into(fmt, b, rv_rel(e, t) + off, v)
        return f
    PCREL_HI20, PCREL_LO12_I, CALL_PLT = 23, 24, 19
    emit("ok_rv32.o", r, "rv32imc", "OK", [])
    emit("rv_reloc_unknown.o", mutate(r, rv_type(CALL_PLT, 250)), "rv32imc", "RELOC",
         ["relocation type 250", ".text.entry+0x", "not supported"])
    emit("rv_reloc_symbol_index.o", mutate(r, lambda e, b: struct.pack_into(
        "<I", b, rv_rel(e, CALL_PLT) + 4, (77 << 8) | CALL_PLT)), "rv32imc", "ELF", ["symbol index 77 out of range"])
    # the %pcrel_lo's label has no %pcrel_hi: the HI turned into R_RISCV_NONE,
    # or the LO pointing 2 bytes past its label
    emit("rv_pcrel_lo_without_hi.o", mutate(r, rv_type(PCREL_HI20, 0)), "rv32imc", "RELOC",
         ["R_RISCV_PCREL_LO12_I", ".text.entry+0x", "no R_RISCV_PCREL_HI20 or R_RISCV_GOT_HI20 at the label"])
    emit("rv_pcrel_lo_label_moved.o", mutate(r, rv_field(PCREL_LO12_I, 8, "<i", 2)), "rv32imc", "RELOC",
         ["R_RISCV_PCREL_LO12_I", "no R_RISCV_PCREL_HI20", ".text.entry+0x"])
    emit("rv_pcrel_lo_no_label.o", mutate(r, lambda e, b: struct.pack_into(
        "<I", b, rv_rel(e, PCREL_LO12_I) + 4, PCREL_LO12_I)), "rv32imc", "RELOC",
         ["R_RISCV_PCREL_LO12_I", "names no label in a section"])
    emit("rv_tls.o", mutate(r, rv_type(PCREL_HI20, 29)), "rv32imc", "RELOC",
         ["R_RISCV_TPREL_HI20", "'table'", "thread-local storage not supported"])
    emit("rv_call_past_end.o", mutate(r, lambda e, b: struct.pack_into(
        "<I", b, rv_rel(e, CALL_PLT), e.sh(e.find(lambda s, n: n == ".text.entry"))["size"] - 4)), "rv32imc",
        "RELOC", ["R_RISCV_CALL_PLT", "'helper'", "field outside the section"])
    emit("rv_float_abi_double.o", mutate(r, lambda e, b: struct.pack_into("<I", b, 0x24, 0x5)), "rv32imc",
         "FLOAT_ABI", ["rv_float_abi_double.o", "double", "-mabi=ilp32"])
    emit("rv_rve.o", mutate(r, lambda e, b: struct.pack_into("<I", b, 0x24, 0x9)), "rv32imc", "ARCH",
         ["RV32E", "rv32imc"])
    emit("rv_wrong_class.o", build(RV64, SRC), "rv32imc", "ARCH", ["ELF64 object, but rv32imc code is ELF32"])
    rv_asm = r'''
    .section .text.entry,"ax",@progbits
    .globl entry
    .type entry, @function
entry:
    .reloc ., R_RISCV_BRANCH, far
    .word 0x00b50063 /* beq a0, a1, . */
    lla a0, .Ltab
    addi a0, a0, 1
    .p2align 3
    ret
    .section .rodata.tab,"a",@progbits
.Ltab:
    .word .Lb - .La
    /* a ULEB128 label difference; gas 2.40 writes none, so an ADD8/SUB8
     * pair whose types gen.py turns into SET_ULEB128/SUB_ULEB128 */
    .reloc ., R_RISCV_SET8, .Lb
    .reloc ., R_RISCV_SUB8, .La
    .byte 0x80, 0x00
    .section .text.pad,"ax",@progbits
.La:
    .skip 5000
.Lb:
far:
    ret
'''
    ra = build(RV, rv_asm, ".S", extra=["-mrelax"])
    emit("rv_branch_range.o", ra, "rv32imc", "RELOC",
         ["R_RISCV_BRANCH", "'far'", ".text.entry+0x0", "out of range for a conditional branch"])
    ALIGN, SUB32, SUB_ULEB128 = 43, 39, 61

    def rv_no_branch(e, b):
        o = rv_rel(e, 16)
        struct.pack_into("<I", b, o + 4, 0)  # R_RISCV_NONE: the branch goes, the rest stays
        for t_from, t_to in ((54, 60), (37, 61)):  # SET8 -> SET_ULEB128, SUB8 -> SUB_ULEB128
            o = rv_rel(e, t_from, ".rela.rodata.tab")
            info, = struct.unpack_from("<I", b, o + 4)
            struct.pack_into("<I", b, o + 4, (info & ~0xff) | t_to)
    rb = mutate(ra, rv_no_branch)
    emit("ok_rv32_relaxed.o", rb, "rv32imc", "OK", [])
    emit("rv_align_padding_too_big.o", mutate(rb, rv_field(ALIGN, 8, "<i", 0x4000)), "rv32imc", "RELOC",
         ["R_RISCV_ALIGN", ".text.entry+0x", "do not fit the section"])
    def rv_align_at(off, n):
        def f(e, b):
            rv_field(ALIGN, 0, "<I", off)(e, b)
            rv_field(ALIGN, 8, "<i", n)(e, b)
        return f
    emit("rv_align_padding_short.o", mutate(rb, rv_align_at(2, 4)), "rv32imc", "RELOC",
         ["R_RISCV_ALIGN", ".text.entry+0x2", "6 bytes needed to align to 8, only 4 of padding"])
    emit("rv_align_padding_odd.o", mutate(rb, rv_field(ALIGN, 8, "<i", 3)), "rv32imc", "RELOC",
         ["R_RISCV_ALIGN", "3 bytes of padding in code"])

    def rv_rodata(t_from, t_to):
        def f(e, b):
            o = rv_rel(e, t_from, ".rela.rodata.tab")
            info, = struct.unpack_from("<I", b, o + 4)
            struct.pack_into("<I", b, o + 4, (info & ~0xff) | t_to)
        return f
    emit("rv_add_without_sub.o", mutate(rb, rv_rodata(SUB32, 0)), "rv32imc", "RELOC",
         ["R_RISCV_ADD32", ".rodata.tab+0x0", "without its other half"])

    def rv_uleb_past_end(e, b):
        i = e.find(lambda s, n: n == ".rodata.tab")
        s = e.sh(i)
        b[s["offset"] + s["size"] - 1] |= 0x80  # the ULEB's last byte says more follow
    emit("rv_uleb_past_end.o", mutate(rb, rv_uleb_past_end), "rv32imc", "RELOC",
         ["R_RISCV_SET_ULEB128", "ULEB128 field runs past its section"])

    # Xtensa (call0, gcc): relocations refused by name, a SLOT0_OP on an
    # instruction without a PC-relative operand, the other ABI
    xt = build(XT, SRC)

    def xt_rel(e, t, prefix=".rela.text.entry"):
        i, o = rel_entry(e, prefix)
        s = e.sh(i)
        for k in range(s["size"] // 12):
            info, = struct.unpack_from("<I", e.b, o + 12 * k + 4)
            if info & 0xff == t:
                return o + 12 * k
        raise KeyError(t)

    def xt_type(t_from, t_to):
        def f(e, b):
            o = xt_rel(e, t_from)
            info, = struct.unpack_from("<I", b, o + 4)
            struct.pack_into("<I", b, o + 4, (info & ~0xff) | t_to)
        return f
    SLOT0_OP = 20
    emit("ok_xtensa.o", xt, "xtensa", "OK", [])
    emit("xt_reloc_unknown.o", mutate(xt, xt_type(SLOT0_OP, 250)), "xtensa", "RELOC",
         ["relocation type 250", ".text.entry+0x", "not supported"])
    emit("xt_reloc_flix.o", mutate(xt, xt_type(SLOT0_OP, 21)), "xtensa", "RELOC",
         ["R_XTENSA_SLOT1_OP", ".text.entry+0x", "FLIX"])
    emit("xt_reloc_const16.o", mutate(xt, xt_type(SLOT0_OP, 35)), "xtensa", "RELOC",
         ["R_XTENSA_SLOT0_ALT", "CONST16"])
    emit("xt_reloc_tls.o", mutate(xt, xt_type(SLOT0_OP, 53)), "xtensa", "RELOC",
         ["R_XTENSA_TLS_TPOFF", "not supported"])

    def xt_not_pcrel(e, b):
        o = xt_rel(e, SLOT0_OP)
        off, = struct.unpack_from("<I", b, o)
        i = e.find(lambda s, n: n == ".text.entry")
        p = e.sh(i)["offset"] + off
        b[p] = (b[p] & 0xf0) | 0x2  # L32R becomes an LSAI load (op0 2)
    emit("xt_slot0_not_pcrel.o", mutate(xt, xt_not_pcrel), "xtensa", "RELOC",
         ["R_XTENSA_SLOT0_OP", ".text.entry+0x", "without a PC-relative operand"])

    def xt_abi(v):
        def f(e, b):
            i = e.find(lambda s, n: n == ".xtensa.info")
            s = e.sh(i)
            k = b.index(b"ABI=", s["offset"], s["offset"] + s["size"])
            b[k + 4] = ord(v)
        return f
    emit("xt_windowed_info.o", mutate(xt, xt_abi("0")), "xtensa", "ARCH",
         ["xt_windowed_info.o", "windowed ABI", "call0 ABI"])
    emit("xt_call0_for_windowed.o", xt, "xtensawin", "ARCH", ["call0 ABI", "linking for the windowed ABI"])
    emit("xt_wrong_machine.o", x, "xtensa", "ARCH", ["is not xtensa"])

    # archives
    emit("ok_archive.a", ar([("m.o", x)]), "x86_64", "INVAL", ["no object files"])
    emit("archive_truncated.a", ar([("m.o", x)])[:200], "x86_64", "ARCHIVE", ["beyond the end of the archive"])
    emit("archive_bad_size.a", ar([("m.o", x)], raw_size="12x"), "x86_64", "ARCHIVE", ["is not a number"])
    emit("archive_huge_size.a", ar([("m.o", x)], raw_size="9999999999"), "x86_64", "ARCHIVE",
         ["beyond the end of the archive"])
    bad = ar([("m.o", x)])
    bad[8 + 58] = ord("x")
    emit("archive_bad_fmag.a", bad, "x86_64", "ARCHIVE", ["bad member header magic"])
    emit("archive_bad_longname.a", ar([("m.o", x)], name_field="/999"), "x86_64", "ARCHIVE",
         ["long name offset"])
    emit("archive_trunc_header.a", ar([("m.o", x)]) + b"abc", "x86_64", "ARCHIVE", ["truncated member header"])
    emit("archive_bad_member.a", ar([("bad.o", mutate(x, sym_index))]), "x86_64", "ELF",
         ["archive_bad_member.a(bad.o)", "symbol index 99"])
    emit("archive_thin.a", b"!<thin>\n", "x86_64", "UNSUPPORTED", ["thin archives"])

    open(os.path.join(HERE, "MANIFEST"), "w").write(
        "# file<TAB>arch<TAB>expected-error<TAB>syms-file or -<TAB>words expected in the message... (gen.py)\n" +
        "\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
