/*
 * A minimal stand-in for MicroPython's py/dynruntime.h, for natmod's tests:
 * CI has no MicroPython tree, so `natmod mpy build --no-mpy-dir -I
 * tests/mpy/abi` compiles test modules against this instead. It is written
 * from the ABI facts natmod already keeps (natmod/mpy.h: mp_fun_table's
 * entry order for .mpy sub-version 3), not from MicroPython's headers, and
 * has only what the tests use. Modules built with it link like real ones:
 * the linker sees the same symbols (mp_fun_table, mp_native_qstr_table,
 * mp_type_fun_builtin_1, mpy_init), which is what the tests check; nobody
 * runs them.
 */
#ifndef NATMOD_TEST_DYNRUNTIME_H
#define NATMOD_TEST_DYNRUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* The config header natmod mpy build writes (MP_QSTR_* definitions and
 * the mp_native_qstr_table declaration), as py/mpconfig.h includes it. */
#include MP_CONFIGFILE

typedef void *mp_obj_t;
typedef intptr_t mp_int_t;
typedef const void *mp_obj_type_ptr_t;

/* The firmware's function table, entries by their sub-version 3 index
 * (nm_mpy_fun_table in natmod/mpy.h). Declared as an array of pointers so
 * these few indices are all a test needs; a module reads entry i at
 * &mp_fun_table + i words, as it would the real struct's member. */
extern void *const mp_fun_table[];
#define MP_FUN_NATIVE_FROM_OBJ 3
#define MP_FUN_NATIVE_TO_OBJ 4
#define MP_FUN_SWAP_GLOBALS 5
#define MP_FUN_LOAD_GLOBAL 7
#define MP_FUN_STORE_GLOBAL 13
#define MP_FUN_CALL_FUNCTION_N_KW 27
#define MP_FUN_RAISE 34
#define MP_FUN_OBJ_NEW_STR 57

#define MP_NATIVE_TYPE_INT 2

#define mp_obj_get_int(o) \
    ((mp_int_t)((intptr_t(*)(mp_obj_t, unsigned))mp_fun_table[MP_FUN_NATIVE_FROM_OBJ])((o), MP_NATIVE_TYPE_INT))
#define mp_obj_new_int(i) \
    (((mp_obj_t(*)(intptr_t, unsigned))mp_fun_table[MP_FUN_NATIVE_TO_OBJ])((i), MP_NATIVE_TYPE_INT))
#define mp_store_global(q, o) (((void (*)(uintptr_t, mp_obj_t))mp_fun_table[MP_FUN_STORE_GLOBAL])((q), (o)))
#define mp_swap_globals(g) (((mp_obj_t(*)(mp_obj_t))mp_fun_table[MP_FUN_SWAP_GLOBALS])(g))
#define mp_const_none ((mp_obj_t)mp_fun_table[0])
/* What natmod/mpy_fw.h raises ImportError with. */
#define mp_load_global(q) (((mp_obj_t(*)(uintptr_t))mp_fun_table[MP_FUN_LOAD_GLOBAL])(q))
#define mp_obj_new_str(s, n) (((mp_obj_t(*)(const char *, size_t))mp_fun_table[MP_FUN_OBJ_NEW_STR])((s), (n)))
#define mp_call_function_n_kw(f, n, kw, a) \
    (((mp_obj_t(*)(mp_obj_t, size_t, size_t, const mp_obj_t *))mp_fun_table[MP_FUN_CALL_FUNCTION_N_KW])((f), (n), (kw), (a)))
#define nlr_raise(o) (((void (*)(mp_obj_t))mp_fun_table[MP_FUN_RAISE])(o))

/* Objects the loader points at firmware objects (mp_fun_table entry values). */
typedef struct mp_obj_base {
    mp_obj_type_ptr_t type;
} mp_obj_base_t;
extern const char mp_type_fun_builtin_1[];

typedef struct mp_obj_fun_builtin_fixed {
    mp_obj_base_t base;
    mp_obj_t (*fun)(mp_obj_t);
} mp_obj_fun_builtin_fixed_t;
#define MP_DEFINE_CONST_FUN_OBJ_1(obj, f) const mp_obj_fun_builtin_fixed_t obj = {{mp_type_fun_builtin_1}, f}
#define MP_OBJ_FROM_PTR(p) ((mp_obj_t)(p))

/* What mpy_init is handed: the function object whose module context holds
 * the module's globals (only the leading members the entry code reads). */
typedef struct mp_obj_module {
    mp_obj_base_t base;
    mp_obj_t globals;
} mp_obj_module_t;
typedef struct mp_module_context {
    mp_obj_module_t module;
} mp_module_context_t;
typedef struct mp_obj_fun_bc {
    mp_obj_base_t base;
    const mp_module_context_t *context;
} mp_obj_fun_bc_t;

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args);

/* Install the module's globals while mpy_init runs, and restore them. */
#define MP_DYNRUNTIME_INIT_ENTRY mp_obj_t prev_globals = mp_swap_globals(self->context->module.globals);
#define MP_DYNRUNTIME_INIT_EXIT \
    mp_swap_globals(prev_globals); \
    return mp_const_none;

#endif /* NATMOD_TEST_DYNRUNTIME_H */
