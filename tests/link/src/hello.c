/* A module exercising the usual relocations: imports, data, bss, a const
 * table of pointers, a switch jump table, pointers to static functions. */
#define NM_EXPORT __attribute__((visibility("default"), used))

extern void hal_print(const char *s);
extern int hal_counter;

static int calls;
int total = 7;
static char buf[64];
const char *greeting = "hello"; /* a pointer in .data: RW relocation */

static int twice(int x) { return 2 * x; }
static int thrice(int x) { return 3 * x; }
static int (*const ops[])(int) = {twice, thrice};
static const char *const names[] = {"zero", "one", "two"};

NM_EXPORT int apply(int which, int x) {
    calls++;
    return ops[which & 1](x);
}

NM_EXPORT const char *name_of(int i) { return names[i % 3]; }

NM_EXPORT int classify(int v) {
    switch (v) {
    case 0: return 11;
    case 1: return 23;
    case 2: return 37;
    case 3: return 41;
    case 4: return 53;
    case 5: return 67;
    case 6: return 71;
    default: return -1;
    }
}

NM_EXPORT int nm_init(void) {
    hal_print(greeting);
    buf[0] = (char)hal_counter;
    return total - 7;
}

NM_EXPORT void nm_deinit(void) { hal_print(buf); }

void unused_helper(void) { hal_print("never"); }
