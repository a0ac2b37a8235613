/* Only global (GOT-reached) bss: the loader's separate bss block. */
#include "mpyabi.h"

int gvals[8];
int *gptr = &gvals[5];

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    gvals[3] = 7 + (int)n_args;
    *gptr = 9;
    STORE_GLOBAL(MP_QSTR_buf, &gvals[3]);
    STORE_GLOBAL(MP_QSTR_answer, gptr);
    return CONST_NONE;
}
