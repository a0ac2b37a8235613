/* hello: the smallest module. Prints through an imported firmware function. */
#include "natmod/hal.h"
#include "natmod/module.h"

int nm_init(void) {
    hal_print("hello: init\n");
    return 0;
}

void nm_deinit(void) {
    hal_print("hello: deinit\n");
}

NM_EXPORT int hello(int n) {
    hal_printf("hello, world from a module (n=%d)\n", n);
    return n * 2 + 1;
}
