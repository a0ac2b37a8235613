/* A switch that compiles to a jump table, and a tail call to an import. */
#define NM_EXPORT __attribute__((visibility("default"), used))
extern int hal_op(int);
static int f0(int x) { return hal_op(x) + 1; }
NM_EXPORT int dispatch(int sel, int x) {
    switch (sel) {
    case 0: return f0(x);
    case 1: return hal_op(x * 5);
    case 2: return x - 9;
    case 3: return hal_op(x) * 7;
    case 4: return x ^ 0x55;
    case 5: return hal_op(x + 100);
    case 6: return x << 3;
    case 7: return -x;
    default: return 0;
    }
}
NM_EXPORT int tail(int x) { return hal_op(x); }
