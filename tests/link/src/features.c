/* The C features a linker must get right, compiled both for the module arch
 * and natively, whose results must agree: a static function-pointer table,
 * initialised .data holding pointers (to data, functions and strings), a
 * dense switch (a jump table), 64-bit division and soft float (libgcc),
 * bss, and calls to firmware imports (through a stub). */
#include <stdint.h>
#include <string.h>

#define NM_EXPORT __attribute__((visibility("default"), used))

extern int fw_op(int);                      /* firmware imports */
extern void *fw_copy(void *, const void *, unsigned long);

typedef int (*op_t)(int, int);
static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
static int op_mix(int a, int b) { return (a ^ b) + fw_op(a); }
static op_t const ops[] = {op_add, op_sub, op_mul, op_mix};

NM_EXPORT int feat_op(int i, int a, int b) { return ops[i & 3](a, b); }

struct entry {
    const char *name;
    int *counter;
    op_t fn;
};
static int count_a;     /* bss */
static int count_b = 7; /* data */
static struct entry table[] = {{"alpha", &count_a, op_add}, {"beta", &count_b, op_mul}, {"gamma", &count_b, op_mix}};

NM_EXPORT int feat_data(int i, int x) {
    struct entry *e = &table[(unsigned)i % 3];
    *e->counter += x;
    return e->fn(*e->counter, e->name[i & 3]);
}

static volatile int sink;
NM_EXPORT int feat_switch(int k, int x) {
    switch (k) {
    case 0: return x + 11;
    case 1: return fw_op(x) * 3;
    case 2: return x - 9;
    case 3: sink = x; return x * 7;
    case 4: return x ^ 0x55;
    case 5: return fw_op(x + 100);
    case 6: return x << 3;
    case 7: return -x;
    case 8: return x / 3;
    case 9: return feat_op(x, x, 5);
    case 10: sink = k; return 1000 - x;
    case 11: return x % 7;
    default: return -1;
    }
}

NM_EXPORT uint64_t feat_div64(uint64_t a, uint64_t b) { return a / b + a % b; }
NM_EXPORT int64_t feat_sdiv64(int64_t a, int64_t b) { return a / b - a % b; }

/* soft float: results as bits, so that they compare exactly */
NM_EXPORT uint64_t feat_double(int n, int d) {
    double r = (double)n / (double)d;
    for (int i = 0; i < 5; i++) {
        r = r * 1.5 + 0.25 - (double)i / 7.0;
    }
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits);
    return bits;
}

NM_EXPORT uint32_t feat_float(int n, int d) {
    float r = (float)n / (float)d;
    r = r * r + 3.5f;
    uint32_t bits;
    memcpy(&bits, &r, sizeof bits);
    return bits;
}

NM_EXPORT int feat_ftoi(int n) { return (int)((double)n * 2.75); }

struct blob {
    int v[12];
};
static struct blob saved;
NM_EXPORT int feat_copy(int x) {
    struct blob b;
    for (int i = 0; i < 12; i++) {
        b.v[i] = x + i;
    }
    fw_copy(&saved, &b, sizeof b);
    return saved.v[11] + saved.v[0];
}

static const char *const names[] = {"zero", "one", "two", "three"};
NM_EXPORT int feat_name(int i) { return (int)strlen(names[i & 3]) * 10 + names[i & 3][0]; }

NM_EXPORT int nm_init(void) {
    return count_a;
}
