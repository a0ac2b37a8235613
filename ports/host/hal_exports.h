/*
 * The firmware export list of the board API (natmod/hal.h) plus the libc
 * subset modules may import. Every board includes this once, in the source
 * that defines the API, so the boards export exactly the same names and a
 * module linked against one board's symbol list loads on any of them.
 * Needs natmod/hal.h, <string.h> and natmod/export.h included first.
 */
#ifndef NATMOD_HAL_EXPORTS_H
#define NATMOD_HAL_EXPORTS_H

NM_FW_EXPORT(hal_print);
NM_FW_EXPORT(hal_printf);
NM_FW_EXPORT(hal_ticks_ms);
NM_FW_EXPORT(hal_timer_start);
NM_FW_EXPORT(hal_timer_stop);
NM_FW_EXPORT(hal_periph);
NM_FW_EXPORT(hal_clock_reg);
NM_FW_EXPORT(hal_set_bits);
NM_FW_EXPORT(hal_clear_bits);
NM_FW_EXPORT(hal_sort);

/* libc's own, with C semantics. */
NM_FW_EXPORT(memcpy);
NM_FW_EXPORT(memmove);
NM_FW_EXPORT(memset);
NM_FW_EXPORT(memcmp);
NM_FW_EXPORT(strlen);
NM_FW_EXPORT(strcmp);
NM_FW_EXPORT(strncmp);
NM_FW_EXPORT(strchr);

#endif /* NATMOD_HAL_EXPORTS_H */
