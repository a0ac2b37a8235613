/* callbacks: a pointer to a static function handed to the firmware's
 * qsort-like export and called back from firmware; a dense switch that
 * compiles to a jump table. */
#include "natmod/hal.h"
#include "natmod/module.h"

static int values[8] = {5, 3, 9, 1, 7, 2, 8, 4};
static unsigned ncompares;

static int cmp_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    ncompares++;
    return (x < y) - (x > y);
}

NM_EXPORT int callbacks_sort(void) {
    ncompares = 0;
    hal_sort(values, 8, sizeof values[0], cmp_desc);
    hal_print("callbacks: sorted");
    for (unsigned i = 0; i < 8; i++) {
        hal_printf(" %d", values[i]);
    }
    hal_printf(" (%s)\n", ncompares ? "comparator called" : "comparator NOT called");
    return values[0] * 10 + values[7];
}

/* Each case does different work, so the compiler emits a jump table rather
 * than a lookup array. */
NM_EXPORT int callbacks_classify(int x) {
    switch (x) {
    case 0: hal_print("classify: zero\n"); return 100;
    case 1: hal_print("classify: one\n"); return x + 41;
    case 2: hal_printf("classify: two %d\n", x * 3); return x * 7;
    case 3: hal_print("classify: three\n"); return values[3] + 1000;
    case 4: hal_printf("classify: four %s\n", "!"); return -4;
    case 5: hal_print("classify: five\n"); return (int)hal_ticks_ms() * 0 + 55;
    case 6: hal_printf("classify: six %x\n", 0x66); return 606;
    case 7: hal_print("classify: seven\n"); return x << 4;
    default: hal_print("classify: other\n"); return -1;
    }
}
