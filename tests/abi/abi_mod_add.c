/* A module that imports only what firmware version 2 left unchanged. */
#include "abi_fw.h"
#include "natmod/module.h"

NM_EXPORT int add_scaled(int a, int b) {
    return hal_add(a, b) * (int)hal_scale;
}
