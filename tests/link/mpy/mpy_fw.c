/* A firmware function (resolved at its absolute address from --externs or
 * --firmware) and a 64-bit division (libgcc on Thumb). */
#include "mpyabi.h"

int fw_led(int n);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    volatile unsigned long long big = 1000000000000ull + n_args;
    STORE_GLOBAL(MP_QSTR_answer, (intptr_t)fw_led(3));
    STORE_GLOBAL(MP_QSTR_buf, (intptr_t)(big / 1000003u));
    return CONST_NONE;
}
