/*
 * A module that imports a firmware function no firmware has: importing it
 * raises ImportError("firmware function 'natmod_no_such_function' not
 * found"), on stock firmware and on one with natmod's component alike.
 */
#include "py/dynruntime.h"

#include "natmod/mpy_fw.h"

int natmod_no_such_function(int x);
NM_FW_IMPORT(natmod_no_such_function);

static mp_obj_t call(mp_obj_t x) {
    return mp_obj_new_int(NM_FW(natmod_no_such_function)((int)mp_obj_get_int(x)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(call_obj, call);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    NM_FW_CHECK();
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_call, MP_OBJ_FROM_PTR(&call_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
