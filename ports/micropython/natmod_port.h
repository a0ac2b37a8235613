/*
 * The port hook: routes native code of imported .mpy files through natmod
 * (modnatmod.c). Include it from the board's mpconfigboard.h, or let
 * micropython.mk force-include it (NATMOD_COMMIT_EXEC=1). A port that
 * defines MP_PLAT_COMMIT_EXEC already (esp8266, esp32) must call
 * natmod_commit_exec from its own hook instead (docs/micropython.md).
 */
#ifndef NATMOD_PORT_H
#define NATMOD_PORT_H

#include <stddef.h>

void *natmod_commit_exec(void *buf, size_t len, void *reloc);
#define MP_PLAT_COMMIT_EXEC(buf, len, reloc) natmod_commit_exec(buf, len, reloc)

#endif /* NATMOD_PORT_H */
