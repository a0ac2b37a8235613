/*
 * Firmware functions by name, for MicroPython native modules (.mpy) linked
 * by `natmod mpy link` / `natmod mpy build` (docs/mpy.md, "Firmware
 * functions by name").
 *
 * A native module calls a C function of the firmware it runs on (a HAL
 * routine, a board driver) without knowing its address when it is built:
 *
 *     #include "py/dynruntime.h"
 *     #include "natmod/mpy_fw.h"
 *
 *     uint32_t board_led_set(unsigned led, unsigned on); // the firmware's prototype
 *     NM_FW_IMPORT(board_led_set);
 *
 *     static mp_obj_t led_on(mp_obj_t n) {
 *         NM_FW(board_led_set)(mp_obj_get_int(n), 1);
 *         return mp_const_none;
 *     }
 *
 *     mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
 *         NM_FW_CHECK(); // ImportError now rather than at the first call
 *         MP_DYNRUNTIME_INIT_ENTRY
 *         ...
 *     }
 *
 * The contract with the linker and the firmware:
 * - NM_FW_IMPORT(fn) declares nm_fw_slot_fn, which no object defines. The
 *   linker turns every such symbol into one zeroed, pointer-sized slot in the
 *   module's text and lists it by name in a table at the end of the text
 *   (natmod/mpy.h, NM_MPY_FW_MAGIC); __nmfw_table names that table.
 * - A firmware built with natmod's MicroPython component (ports/micropython/)
 *   writes fn's address into the slot when the module is imported, or leaves
 *   it zero if it has no fn. Stock firmware writes nothing: every slot stays
 *   zero and NM_FW_CHECK raises ImportError.
 * - Nothing here ever calls through a zero slot: NM_FW raises ImportError
 *   ("firmware function 'fn' not found") instead.
 *
 * Include it after py/dynruntime.h (it raises through mp_fun_table with
 * mp_load_global, mp_obj_new_str, mp_call_function_n_kw and nlr_raise). Every
 * read of the table is a whole aligned 32-bit word, so the table may sit in
 * memory that allows no byte loads (Xtensa IRAM).
 */
#ifndef NATMOD_MPY_FW_H
#define NATMOD_MPY_FW_H

#include <stddef.h>
#include <stdint.h>

/* Declare fn a firmware import. fn's own prototype comes from the firmware
 * author's header (or is written out beside this). */
#define NM_FW_IMPORT(fn) extern void *const nm_fw_slot_##fn

/* fn's address from its slot, typed as &fn; raises ImportError naming fn
 * when the firmware did not provide it. */
#define NM_FW(fn) ((__typeof__(&fn))nm_fw_get(nm_fw_slot_##fn, #fn))

/* Call first in mpy_init: raises ImportError naming the first firmware
 * function this firmware does not provide (on stock firmware: the first
 * one). With no NM_FW_IMPORT in the module the table is empty and this
 * does nothing. */
#define NM_FW_CHECK() nm_fw_check()

/* The table the linker appends (natmod/mpy.h): u32 n, n x {slot_off,
 * name_off}, names, then u32 table_off and the magic. */
extern const uint32_t __nmfw_table[];

/* Byte i of the string at s, read as part of its aligned 32-bit word
 * (little-endian: every arch a .mpy is written for). */
static inline unsigned nm_fw_byte(const char *s, size_t i) {
    uintptr_t a = (uintptr_t)(s + i);
    uint32_t w = *(const volatile uint32_t *)(a & ~(uintptr_t)3);
    return (w >> (8 * (a & 3))) & 0xff;
}

/* Raise ImportError("firmware function 'NAME' not found"). The message is
 * built on the stack and copied into a str: NAME may be in the module's
 * text, which the firmware frees when the import fails. */
static inline void nm_fw_raise(const char *name) {
    static const char head[] = "firmware function '", tail[] = "' not found";
    char msg[sizeof head + 64 + sizeof tail];
    size_t n = 0;
    for (size_t i = 0; i + 1 < sizeof head; i++) {
        msg[n++] = (char)nm_fw_byte(head, i);
    }
    for (size_t i = 0; i < 64; i++) {
        unsigned c = nm_fw_byte(name, i);
        if (!c) {
            break;
        }
        msg[n++] = (char)c;
    }
    for (size_t i = 0; i + 1 < sizeof tail; i++) {
        msg[n++] = (char)nm_fw_byte(tail, i);
    }
    mp_obj_t arg = mp_obj_new_str(msg, n);
    nlr_raise(mp_call_function_n_kw(mp_load_global(MP_QSTR_ImportError), 1, 0, &arg));
}

static inline void *nm_fw_get(void *slot, const char *name) {
    if (!slot) {
        nm_fw_raise(name);
    }
    return slot;
}

static inline void nm_fw_check(void) {
    const uint32_t *t = __nmfw_table;
    uint32_t n = t[0];
    /* The trailer's table_off follows the last name (padded to 4): from it,
     * the text start, which slot offsets count from. */
    uint32_t end = 4 + 8 * n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = t[2 + 2 * i], len = 0;
        while (nm_fw_byte((const char *)t + at, len)) {
            len++;
        }
        if (at + len + 1 > end) {
            end = at + len + 1;
        }
    }
    const char *text = (const char *)t - t[(end + 3) / 4];
    for (uint32_t i = 0; i < n; i++) {
        if (!*(void *const volatile *)(text + t[1 + 2 * i])) {
            nm_fw_raise((const char *)t + t[2 + 2 * i]);
        }
    }
}

#endif /* NATMOD_MPY_FW_H */
