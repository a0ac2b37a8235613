/*
 * Firmware export marker, for every board.
 *
 * A firmware source writes, at file scope, after the symbol is declared:
 *
 *     #include "natmod/export.h"
 *     NM_FW_EXPORT(hal_print);
 *     NM_FW_EXPORT(memcpy);        // libc's own, declared by <string.h>
 *
 * and the build step nm-gen-exports (gen_exports.c) finds the marker in the
 * *preprocessed* source, so an export inside a false `#if` is not exported.
 * It collects every marked name into the firmware export table
 * (nm_fw_exports[], sorted by nm_hash) and the symbol list board.syms that
 * the linker checks imports against.
 *
 * What the macro compiles to: the declaration of an extern array that is
 * never defined nor used, so it emits nothing. Its size expression takes the
 * symbol's address, so exporting an undeclared name (a typo) is a compile
 * error here rather than a link error in the generated table. The marker
 * token is `nm_fw_export__<sym>`; do not spell that token anywhere else.
 */
#ifndef NATMOD_EXPORT_H
#define NATMOD_EXPORT_H

#define NM_FW_EXPORT_PREFIX "nm_fw_export__"

#define NM_FW_EXPORT(sym) extern const char nm_fw_export__##sym[sizeof(&(sym)) ? 1 : 1]

#endif /* NATMOD_EXPORT_H */
