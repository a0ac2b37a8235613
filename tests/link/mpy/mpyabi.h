/*
 * The few MicroPython ABI facts the .mpy link tests need, declared here
 * (no MicroPython in this repository): the native module entry point,
 * mp_fun_table as an array of entries in py/nativeglue.h's order, and the
 * module's qstr table. See docs/mpy.md.
 */
#ifndef MPYABI_H
#define MPYABI_H

#include <stddef.h>
#include <stdint.h>

typedef void *mp_obj_t;
typedef struct mp_obj_fun_bc mp_obj_fun_bc_t;

/* mp_fun_table entries used here (0-based, sub-version 3) */
#define FT_CONST_NONE 0
#define FT_STORE_GLOBAL 13
#define FT_MEMSET 50
typedef struct mp_fun_table {
    void *entry[87];
} mp_fun_table_t;
extern const mp_fun_table_t mp_fun_table;
extern const uint16_t mp_native_qstr_table[];
extern const int mp_type_type; /* an object the loader finds through mp_fun_table */

typedef void (*store_global_t)(uint16_t qst, mp_obj_t obj);
#define STORE_GLOBAL(q, o) ((store_global_t)mp_fun_table.entry[FT_STORE_GLOBAL])((q), (mp_obj_t)(o))
#define CONST_NONE ((mp_obj_t)mp_fun_table.entry[FT_CONST_NONE])

/* what a config header says: one static qstr by number, the rest by table index */
#define MP_QSTR___name__ (23)
#define MP_QSTR_answer (mp_native_qstr_table[1])
#define MP_QSTR_buf (mp_native_qstr_table[2])
#define MP_QSTR_type (mp_native_qstr_table[3])

void *memset(void *s, int c, size_t n);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args);

#endif
