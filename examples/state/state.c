/* state: initialised .data, static .bss, and const tables of pointers (to
 * strings and to static functions) that the loader must relocate. */
#include "natmod/hal.h"
#include "natmod/module.h"

#include <string.h>

static int counter = 100;  /* .data: starts at 100 after every load */
static int history[16];    /* .bss: zero after every load */
static unsigned nhist;     /* .bss */

static const char *const names[] = {"zero", "one", "two", "three"};

static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
static int (*const ops[])(int, int) = {op_add, op_sub, op_mul};

/* A writable pointer to data: relocated into RW, changed at run time. */
static int *cursor = &history[0];

NM_EXPORT int state_bump(int by) {
    counter += by;
    history[nhist % 16] = counter;
    nhist++;
    *cursor = counter;
    cursor = &history[nhist % 16];
    return counter;
}

NM_EXPORT int state_sum(void) {
    int s = 0;
    for (unsigned i = 0; i < 16; i++) {
        s += history[i];
    }
    return s;
}

NM_EXPORT int state_name(int i) {
    const char *n = names[(unsigned)i % 4];
    hal_printf("state: name %d is %s\n", i, n);
    return (int)strlen(n);
}

NM_EXPORT int state_op(int which, int a, int b) {
    return ops[(unsigned)which % 3](a, b);
}

int nm_init(void) {
    hal_printf("state: counter=%d nhist=%u history[3]=%d\n", counter, nhist, history[3]);
    return 0;
}
