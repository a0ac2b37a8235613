/*
 * Shared by the linker tests (test_link, test_link_rv, test_link_xt,
 * test_mpy): the objects the build compiled for them (objdir, from argv),
 * the last link's message, and the options of a link of a list of paths.
 */
#ifndef NATMOD_LT_UTIL_H
#define NATMOD_LT_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "link/link.h"

#define LT_MAX_INPUTS 16

static const char *objdir; /* where the build put the test objects */
static char detail[4096];  /* the last link's message */

/* objdir/name, in one of 8 rotating buffers (several per call are fine). */
static inline const char *obj(const char *name) {
    static char buf[8][512];
    static int i;
    char *b = buf[i++ & 7];
    snprintf(b, 512, "%s/%s", objdir, name);
    return b;
}

static inline int exists(const char *path) {
    return access(path, R_OK) == 0;
}

/* A link's inputs and options, filled by lt_options / lt_options_va. */
typedef struct lt_link {
    nml_input_t in[LT_MAX_INPUTS];
    nml_options_t opt;
} lt_link_t;

/* Options for arch and float ABI, sections no export reaches dropped, over
 * the NULL-terminated paths (at most LT_MAX_INPUTS); detail cleared. */
static inline nml_options_t *lt_options(lt_link_t *l, unsigned arch, unsigned fabi, const char *const *paths) {
    size_t n = 0;
    memset(l, 0, sizeof *l);
    for (; paths[n] && n < LT_MAX_INPUTS; n++) {
        l->in[n].path = paths[n];
    }
    l->opt.arch = (uint8_t)arch;
    l->opt.float_abi = (uint8_t)fabi;
    l->opt.inputs = l->in;
    l->opt.n_inputs = n;
    l->opt.gc_sections = 1;
    detail[0] = 0;
    return &l->opt;
}

/* The same over a va_list of paths ending in NULL. */
static inline nml_options_t *lt_options_va(lt_link_t *l, unsigned arch, unsigned fabi, va_list ap) {
    const char *paths[LT_MAX_INPUTS + 1];
    size_t n = 0;
    const char *p;
    while (n < LT_MAX_INPUTS && (p = va_arg(ap, const char *)) != NULL) {
        paths[n++] = p;
    }
    paths[n] = NULL;
    return lt_options(l, arch, fabi, paths);
}

/* The options natmod mpy link adds (entry mpy_init, one packed blob,
 * imports from mp_fun_table through im). */
static inline void lt_mpy_options(nml_options_t *o, nml_mpy_imports_t *im) {
    o->entry = "mpy_init";
    o->packed = 1;
    o->check_import = nml_mpy_check_import;
    o->import_ctx = im;
    o->same_import = nml_mpy_same_import;
}

#endif
