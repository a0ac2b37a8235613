/*
 * The component's firmware exports, marked for nm-gen-exports. This file is
 * only preprocessed (it compiles to nothing). A firmware author exports
 * more by marking them the same way in their own sources and listing those
 * in NATMOD_EXPORT_SRC (docs/micropython.md).
 */
#include "natmod/export.h"
#include "natmod_periph.h"

struct _mp_fun_table_t;
extern const struct _mp_fun_table_t mp_fun_table;

NM_FW_EXPORT(mp_fun_table);
NM_FW_EXPORT(natmod_periph_rmw);
NM_FW_EXPORT(natmod_sim_periph);
