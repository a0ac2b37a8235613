/* A module for the consumer: one pure export, one that calls the firmware. */
#include "natmod/module.h"

int host_add(int a, int b);

NM_EXPORT int twice(int x) { return 2 * x; }
NM_EXPORT int add_via_firmware(int a, int b) { return host_add(a, b) + 1000; }
