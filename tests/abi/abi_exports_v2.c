/* Firmware version 2: the same exports, hal_i2c_write with a new prototype. */
#define ABI_FW_V2 1
#include "abi_exports_v1.c"
