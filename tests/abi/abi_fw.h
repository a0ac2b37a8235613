/*
 * The firmware API of the ABI-check test, in two versions: ABI_FW_V2 is a
 * firmware update that gave hal_i2c_write a fourth parameter and kept its
 * name. hal_add and hal_scale are the same in both.
 */
#ifndef ABI_FW_H
#define ABI_FW_H

#include <stddef.h>
#include <stdint.h>

#ifndef ABI_FW_V2
int hal_i2c_write(uint8_t addr, const void *buf, size_t len);
#else
int hal_i2c_write(uint8_t addr, const void *buf, size_t len, int flags);
#endif
int hal_add(int a, int b);
extern volatile uint32_t hal_scale;

#endif /* ABI_FW_H */
