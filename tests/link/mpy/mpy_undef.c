/* Two undefined functions, one C++ (by its mangled name): both reported. */
#include "mpyabi.h"

extern int missing_c(int);
extern int ns_foo(int) __asm__("_ZN2ns3fooEi");

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    STORE_GLOBAL(MP_QSTR_answer, (intptr_t)(missing_c((int)n_args) + ns_foo((int)n_args)));
    return CONST_NONE;
}
