/* Firmware functions by name (natmod/mpy_fw.h): two imports, called through
 * NM_FW, checked by NM_FW_CHECK. The few dynruntime.h calls the header
 * raises ImportError with are mapped onto the test's mp_fun_table. */
#include "mpyabi.h"

#define MP_QSTR_ImportError (38) /* a static qstr, by number */
#define FT_LOAD_GLOBAL 7
#define FT_CALL_FUNCTION_N_KW 27
#define FT_RAISE 34
#define FT_OBJ_NEW_STR 57
#define mp_load_global(q) (((mp_obj_t(*)(uintptr_t))mp_fun_table.entry[FT_LOAD_GLOBAL])(q))
#define mp_obj_new_str(s, n) (((mp_obj_t(*)(const char *, size_t))mp_fun_table.entry[FT_OBJ_NEW_STR])((s), (n)))
#define mp_call_function_n_kw(f, n, kw, a) \
    (((mp_obj_t(*)(mp_obj_t, size_t, size_t, const mp_obj_t *))mp_fun_table.entry[FT_CALL_FUNCTION_N_KW])( \
        (f), (n), (kw), (a)))
#define nlr_raise(o) (((void (*)(mp_obj_t))mp_fun_table.entry[FT_RAISE])(o))

#include "natmod/mpy_fw.h"

int fw_scale(int x, int by);
unsigned fw_flags(void);
NM_FW_IMPORT(fw_scale);
NM_FW_IMPORT(fw_flags);
NM_FW_IMPORT(fw_scale); /* declared twice: still one slot */

static intptr_t scale(intptr_t x) {
    return NM_FW(fw_scale)((int)x, 3) + (intptr_t)NM_FW(fw_flags)();
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    (void)self;
    (void)n_kw;
    (void)args;
    if (n_args == 0) {
        NM_FW_CHECK();
    }
    STORE_GLOBAL(MP_QSTR_answer, scale(14));
    STORE_GLOBAL(MP_QSTR_buf, (intptr_t)&scale);
    return CONST_NONE;
}
