/* Static bss and data reached relatively (kept in text), initialised data,
 * pointers to static functions, an object found through mp_fun_table, a
 * memset call, module qstrs and a static qstr. Not the first function in
 * .text, so the entry needs a jump. */
#include "mpyabi.h"

static int counter;
int data_var = 40;
static char buf[32];

static int add1(int x) {
    return x + 1;
}

static int dbl(int x) {
    return x * 2;
}

static int (*const ops[])(int) = {add1, dbl};
const void *const type_ref = &mp_type_type;

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    counter += 2;
    data_var += counter;
    int v = ops[n_args & 1](data_var);
    v = ops[1](v);
    memset(buf, 'x', n_args + sizeof buf - 1);
    STORE_GLOBAL(MP_QSTR_answer, (intptr_t)v);
    STORE_GLOBAL(MP_QSTR_type, type_ref);
    STORE_GLOBAL(MP_QSTR_buf, buf);
    STORE_GLOBAL(MP_QSTR___name__, (intptr_t)n_args);
    return CONST_NONE;
}
