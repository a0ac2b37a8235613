/* A module of the ABI-check test: writes over I2C and adds, through the firmware. */
#include "abi_fw.h"
#include "natmod/module.h"

NM_EXPORT int i2c_send(int n) {
    static const uint8_t msg[] = {1, 2, 3, 4, 5, 6, 7, 8};
    return hal_i2c_write(0x42, msg, (size_t)n);
}

NM_EXPORT int add_scaled(int a, int b) {
    return hal_add(a, b) * (int)hal_scale;
}
