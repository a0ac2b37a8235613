/* The "firmware" of the out-of-tree consumer: one function it offers to
 * modules by name, marked for the export table build step. */
#include "natmod/export.h"

int host_add(int a, int b);
int host_add(int a, int b) { return a + b; }

NM_FW_EXPORT(host_add);
