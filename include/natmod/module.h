/*
 * For module authors: what a natmod module's C sources include.
 *
 * A module exports every global function or object with default visibility
 * from its own objects (natmod build compiles with -fvisibility=hidden, so
 * mark exports with NM_EXPORT). Two names are special:
 *   int  nm_init(void)    - run after load; non-zero refuses the load
 *   void nm_deinit(void)  - run before unload
 * Symbols the module uses but does not define are imports, resolved against
 * the firmware's export table (the board's API, e.g. natmod/hal.h).
 */
#ifndef NATMOD_MODULE_H
#define NATMOD_MODULE_H

#include <stddef.h>
#include <stdint.h>

#define NM_EXPORT __attribute__((visibility("default"), used))

NM_EXPORT int nm_init(void);
NM_EXPORT void nm_deinit(void);

#endif /* NATMOD_MODULE_H */
