/* memcpy and memmove: both are mp_fun_table's memmove entry, so the module
 * needs one GOT word and one veneer/stub for the two, as mpy_ld.py makes. */
#include "mpyabi.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);

static char buf[32];

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    memcpy(buf, "abcdefghijklmnop", n_args + 8);
    memmove(buf + 1, buf, n_args + 8);
    STORE_GLOBAL(MP_QSTR_buf, buf);
    return CONST_NONE;
}
