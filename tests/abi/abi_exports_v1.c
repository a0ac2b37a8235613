/* The exports of firmware version 1 (only preprocessed, for nm-gen-exports). */
#include "abi_fw.h"
#include "natmod/export.h"

NM_FW_EXPORT(hal_i2c_write);
NM_FW_EXPORT(hal_add);
NM_FW_EXPORT(hal_scale);
