/* RV32IMC interpreter for the linker tests (rv32emu.h). */
#include "rv32emu.h"

#include <stdio.h>
#include <string.h>

uint8_t *rv_ptr(rv_cpu_t *c, uint32_t a, uint32_t len) {
    for (unsigned i = 0; i < c->nseg; i++) {
        rv_seg_t *s = &c->seg[i];
        if (a >= s->base && a - s->base <= s->size && len <= s->size - (a - s->base)) {
            return s->mem + (a - s->base);
        }
    }
    return NULL;
}

static int fault(rv_cpu_t *c, const char *what, uint32_t v) {
    snprintf(c->fault, sizeof c->fault, "pc 0x%08x: %s 0x%08x", (unsigned)c->pc, what, (unsigned)v);
    return -1;
}

static int load(rv_cpu_t *c, uint32_t a, unsigned n, int sign, uint32_t *out) {
    uint8_t *p = rv_ptr(c, a, n);
    if (!p) {
        return fault(c, "load from unmapped", a);
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    if (sign && n < 4 && (v >> (8 * n - 1)) & 1) {
        v |= ~0u << (8 * n);
    }
    *out = v;
    return 0;
}

static int store(rv_cpu_t *c, uint32_t a, unsigned n, uint32_t v) {
    uint8_t *p = rv_ptr(c, a, n);
    if (!p) {
        return fault(c, "store to unmapped", a);
    }
    for (unsigned i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
    return 0;
}

static int32_t sext(uint32_t v, unsigned bits) {
    uint32_t m = 1u << (bits - 1);
    return (int32_t)((v ^ m) - m);
}

static uint32_t alu(uint32_t f3, uint32_t f7, uint32_t a, uint32_t b, int imm) {
    switch (f3) {
    case 0: return (!imm && f7 == 0x20) ? a - b : a + b;
    case 1: return a << (b & 31);
    case 2: return (int32_t)a < (int32_t)b;
    case 3: return a < b;
    case 4: return a ^ b;
    case 5: return (f7 & 0x20) ? (uint32_t)((int32_t)a >> (b & 31)) : a >> (b & 31);
    case 6: return a | b;
    default: return a & b;
    }
}

static uint32_t muldiv(uint32_t f3, uint32_t a, uint32_t b) {
    int32_t sa = (int32_t)a, sb = (int32_t)b;
    switch (f3) {
    case 0: return a * b;
    case 1: return (uint32_t)(((int64_t)sa * sb) >> 32);
    case 2: return (uint32_t)(((int64_t)sa * (int64_t)(uint64_t)b) >> 32);
    case 3: return (uint32_t)(((uint64_t)a * b) >> 32);
    case 4: return b == 0 ? ~0u : (sa == INT32_MIN && sb == -1) ? a : (uint32_t)(sa / sb);
    case 5: return b == 0 ? ~0u : a / b;
    case 6: return b == 0 ? a : (sa == INT32_MIN && sb == -1) ? 0 : (uint32_t)(sa % sb);
    default: return b == 0 ? a : a % b;
    }
}

static int branch(uint32_t f3, uint32_t a, uint32_t b) {
    switch (f3) {
    case 0: return a == b;
    case 1: return a != b;
    case 4: return (int32_t)a < (int32_t)b;
    case 5: return (int32_t)a >= (int32_t)b;
    case 6: return a < b;
    default: return a >= b;
    }
}

/* One 32-bit instruction; *next is pc + 4 unless it jumps. */
static int exec32(rv_cpu_t *c, uint32_t i, uint32_t *next) {
    uint32_t op = i & 0x7f, rd = (i >> 7) & 31, f3 = (i >> 12) & 7, rs1 = (i >> 15) & 31, rs2 = (i >> 20) & 31;
    uint32_t f7 = i >> 25, a = c->x[rs1], b = c->x[rs2], v = 0;
    int32_t imm_i = sext(i >> 20, 12);
    switch (op) {
    case 0x37: v = i & 0xfffff000u; break;
    case 0x17: v = c->pc + (i & 0xfffff000u); break;
    case 0x6f: {
        uint32_t off = ((i >> 11) & 0x100000) | (i & 0xff000) | ((i >> 9) & 0x800) | ((i >> 20) & 0x7fe);
        v = c->pc + 4;
        *next = c->pc + (uint32_t)sext(off, 21);
        break;
    }
    case 0x67:
        if (f3) {
            return fault(c, "bad JALR", i);
        }
        v = c->pc + 4;
        *next = (a + (uint32_t)imm_i) & ~1u;
        break;
    case 0x63: {
        uint32_t off = ((i >> 19) & 0x1000) | ((i << 4) & 0x800) | ((i >> 20) & 0x7e0) | ((i >> 7) & 0x1e);
        if (f3 == 2 || f3 == 3) {
            return fault(c, "bad branch", i);
        }
        if (branch(f3, a, b)) {
            *next = c->pc + (uint32_t)sext(off, 13);
        }
        return 0;
    }
    case 0x03: {
        static const unsigned n[8] = {1, 2, 4, 0, 1, 2, 0, 0};
        if (!n[f3]) {
            return fault(c, "bad load", i);
        }
        if (load(c, a + (uint32_t)imm_i, n[f3], f3 < 4, &v)) {
            return -1;
        }
        break;
    }
    case 0x23: {
        int32_t off = sext(((i >> 20) & 0xfe0) | ((i >> 7) & 0x1f), 12);
        if (f3 > 2) {
            return fault(c, "bad store", i);
        }
        return store(c, a + (uint32_t)off, 1u << f3, b);
    }
    case 0x13:
        if ((f3 == 1 && f7 != 0) || (f3 == 5 && (f7 & ~0x20u))) {
            return fault(c, "bad shift", i);
        }
        v = alu(f3, f3 == 5 ? f7 : 0, a, f3 == 1 || f3 == 5 ? rs2 : (uint32_t)imm_i, 1);
        break;
    case 0x33:
        if (f7 == 1) {
            v = muldiv(f3, a, b);
        } else if (f7 == 0 || (f7 == 0x20 && (f3 == 0 || f3 == 5))) {
            v = alu(f3, f7, a, b, 0);
        } else {
            return fault(c, "bad OP", i);
        }
        break;
    case 0x0f: /* fence, fence.i */
        return 0;
    default:
        return fault(c, "unknown instruction", i);
    }
    if (rd) {
        c->x[rd] = v;
    }
    return 0;
}

/* One compressed instruction, by expanding it into what it means. */
static int exec16(rv_cpu_t *c, uint32_t i, uint32_t *next) {
    uint32_t q = i & 3, f3 = (i >> 13) & 7, rd = (i >> 7) & 31, rs2 = (i >> 2) & 31;
    uint32_t rdp = ((i >> 2) & 7) + 8, rs1p = ((i >> 7) & 7) + 8;
    uint32_t *x = c->x, v;
    if (i == 0) {
        return fault(c, "illegal instruction", i);
    }
    if (q == 0) {
        uint32_t uimm = ((i >> 7) & 0x38) | ((i >> 4) & 0x4) | ((i << 1) & 0x40);
        switch (f3) {
        case 0: {
            uint32_t nz = ((i >> 7) & 0x30) | ((i >> 1) & 0x3c0) | ((i >> 4) & 0x4) | ((i >> 2) & 0x8);
            if (!nz) {
                return fault(c, "bad C.ADDI4SPN", i);
            }
            x[rdp] = x[2] + nz;
            return 0;
        }
        case 2:
            if (load(c, x[rs1p] + uimm, 4, 0, &v)) {
                return -1;
            }
            x[rdp] = v;
            return 0;
        case 6:
            return store(c, x[rs1p] + uimm, 4, x[rdp]);
        default:
            return fault(c, "unsupported compressed (FPU?)", i);
        }
    }
    if (q == 1) {
        int32_t imm6 = sext(((i >> 7) & 0x20) | ((i >> 2) & 0x1f), 6);
        uint32_t joff = ((i >> 1) & 0x800) | ((i >> 7) & 0x10) | ((i >> 1) & 0x300) | ((i << 2) & 0x400) |
                        ((i >> 1) & 0x40) | ((i << 1) & 0x80) | ((i >> 2) & 0xe) | ((i << 3) & 0x20);
        uint32_t boff = ((i >> 4) & 0x100) | ((i >> 7) & 0x18) | ((i << 1) & 0xc0) | ((i >> 2) & 0x6) |
                        ((i << 3) & 0x20);
        switch (f3) {
        case 0:
            if (rd) {
                x[rd] += (uint32_t)imm6;
            }
            return 0;
        case 1:
            x[1] = c->pc + 2;
            *next = c->pc + (uint32_t)sext(joff, 12);
            return 0;
        case 2:
            if (rd) {
                x[rd] = (uint32_t)imm6;
            }
            return 0;
        case 3:
            if (rd == 2) {
                uint32_t nz = ((i >> 3) & 0x200) | ((i >> 2) & 0x10) | ((i << 1) & 0x40) | ((i << 4) & 0x180) |
                              ((i << 3) & 0x20);
                if (!nz) {
                    return fault(c, "bad C.ADDI16SP", i);
                }
                x[2] += (uint32_t)sext(nz, 10);
            } else if (rd) {
                x[rd] = (uint32_t)sext(((i << 5) & 0x20000) | ((i << 10) & 0x1f000), 18);
            }
            return 0;
        case 4: {
            uint32_t f2 = (i >> 10) & 3, sh = ((i >> 7) & 0x20) | ((i >> 2) & 0x1f);
            if (f2 == 0) {
                x[rs1p] >>= sh & 31;
            } else if (f2 == 1) {
                x[rs1p] = (uint32_t)((int32_t)x[rs1p] >> (sh & 31));
            } else if (f2 == 2) {
                x[rs1p] &= (uint32_t)imm6;
            } else if (i & 0x1000) {
                return fault(c, "unsupported compressed (RV64?)", i);
            } else {
                uint32_t b = x[rdp];
                switch ((i >> 5) & 3) {
                case 0: x[rs1p] -= b; break;
                case 1: x[rs1p] ^= b; break;
                case 2: x[rs1p] |= b; break;
                default: x[rs1p] &= b; break;
                }
            }
            return 0;
        }
        case 5:
            *next = c->pc + (uint32_t)sext(joff, 12);
            return 0;
        default:
            if ((x[rs1p] == 0) == (f3 == 6)) {
                *next = c->pc + (uint32_t)sext(boff, 9);
            }
            return 0;
        }
    }
    if (q == 2) {
        switch (f3) {
        case 0:
            if (rd) {
                x[rd] <<= (((i >> 7) & 0x20) | rs2) & 31;
            }
            return 0;
        case 2: {
            uint32_t off = ((i >> 7) & 0x20) | ((i >> 2) & 0x1c) | ((i << 4) & 0xc0);
            if (load(c, x[2] + off, 4, 0, &v)) {
                return -1;
            }
            if (rd) {
                x[rd] = v;
            }
            return 0;
        }
        case 4:
            if (!(i & 0x1000)) {
                if (!rs2) {
                    *next = x[rd] & ~1u; /* c.jr */
                } else if (rd) {
                    x[rd] = x[rs2]; /* c.mv */
                }
            } else if (!rs2) {
                if (!rd) {
                    return fault(c, "ebreak", i);
                }
                v = x[rd];
                x[1] = c->pc + 2; /* c.jalr */
                *next = v & ~1u;
            } else if (rd) {
                x[rd] += x[rs2]; /* c.add */
            }
            return 0;
        case 6:
            return store(c, x[2] + (((i >> 7) & 0x3c) | ((i >> 1) & 0xc0)), 4, x[rs2]);
        default:
            return fault(c, "unsupported compressed (FPU?)", i);
        }
    }
    return fault(c, "not a compressed instruction", i);
}

int rv_call(rv_cpu_t *c, uint32_t fn, const uint32_t *args, unsigned nargs, uint32_t sp, uint64_t max_steps) {
    c->fault[0] = 0;
    for (unsigned k = 0; k < 8; k++) {
        c->x[10 + k] = k < nargs ? args[k] : 0;
    }
    c->x[0] = 0;
    c->x[1] = c->exit_pc;
    c->x[2] = sp;
    c->pc = fn;
    for (uint64_t n = 0; n < max_steps; n++) {
        if (c->pc == c->exit_pc) {
            return 0;
        }
        if (c->pc - c->hcall_base < 4u * c->n_hcalls) {
            if ((c->pc - c->hcall_base) & 3) {
                return fault(c, "jump into a host call", c->pc);
            }
            if (c->hcall(c, (c->pc - c->hcall_base) / 4, c->ctx)) {
                return fault(c, "host call failed", c->pc);
            }
            c->pc = c->x[1];
            continue;
        }
        if (c->pc & 1) {
            return fault(c, "misaligned pc", c->pc);
        }
        uint32_t lo;
        if (load(c, c->pc, 2, 0, &lo)) {
            return fault(c, "fetch from unmapped", c->pc);
        }
        uint32_t next;
        int rc;
        if ((lo & 3) == 3) {
            uint32_t hi;
            if (load(c, c->pc + 2, 2, 0, &hi)) {
                return fault(c, "fetch from unmapped", c->pc + 2);
            }
            next = c->pc + 4;
            rc = exec32(c, lo | hi << 16, &next);
        } else {
            next = c->pc + 2;
            rc = exec16(c, lo, &next);
        }
        if (rc) {
            return -1;
        }
        c->x[0] = 0;
        c->pc = next;
        c->steps++;
    }
    return fault(c, "step limit reached", (uint32_t)max_steps);
}
