/*
 * A MicroPython native module that drives a peripheral through the
 * firmware's own functions, found by name when the module is imported
 * (natmod/mpy_fw.h, docs/mpy.md "Firmware functions by name"):
 *
 *   natmod_periph_rmw  a locked read-modify-write of a register, so a bit set
 *                      here never undoes one set by the firmware (or by the
 *                      other core) at the same moment;
 *   natmod_sim_periph  the base of a simulated 4-register peripheral (a board
 *                      would hand out a real one's address instead).
 *
 * Both are in the firmware when it is built with natmod's MicroPython
 * component (ports/micropython/modnatmod.c). On stock firmware the import
 * raises ImportError naming natmod_periph_rmw.
 *
 *   import periph
 *   periph.enable(3)   # -> 8: register 0 with bit 3 set
 *   periph.disable(3)  # -> 0
 *   periph.read(0)     # -> 0
 */
#include "py/dynruntime.h"

#include "natmod/mpy_fw.h"

/* The firmware's prototypes (its author's header would declare them). */
uint32_t natmod_periph_rmw(volatile uint32_t *reg, uint32_t clear, uint32_t set);
volatile uint32_t *natmod_sim_periph(void);

NM_FW_IMPORT(natmod_periph_rmw);
NM_FW_IMPORT(natmod_sim_periph);

#define N_REGS 4

static uint32_t bit_of(mp_obj_t n) {
    mp_int_t b = mp_obj_get_int(n);
    return (uint32_t)1 << (b & 31);
}

/* enable(n): set bit n of register 0; returns the register's new value */
static mp_obj_t enable(mp_obj_t n) {
    volatile uint32_t *regs = NM_FW(natmod_sim_periph)();
    return mp_obj_new_int(NM_FW(natmod_periph_rmw)(&regs[0], 0, bit_of(n)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(enable_obj, enable);

/* disable(n): clear bit n of register 0; returns the register's new value */
static mp_obj_t disable(mp_obj_t n) {
    volatile uint32_t *regs = NM_FW(natmod_sim_periph)();
    return mp_obj_new_int(NM_FW(natmod_periph_rmw)(&regs[0], bit_of(n), 0));
}
static MP_DEFINE_CONST_FUN_OBJ_1(disable_obj, disable);

/* read(i): register i (0..3) */
static mp_obj_t read(mp_obj_t i) {
    volatile uint32_t *regs = NM_FW(natmod_sim_periph)();
    return mp_obj_new_int(regs[(uint32_t)mp_obj_get_int(i) % N_REGS]);
}
static MP_DEFINE_CONST_FUN_OBJ_1(read_obj, read);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    NM_FW_CHECK(); /* ImportError on a firmware without them: nothing was imported */
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_enable, MP_OBJ_FROM_PTR(&enable_obj));
    mp_store_global(MP_QSTR_disable, MP_OBJ_FROM_PTR(&disable_obj));
    mp_store_global(MP_QSTR_read, MP_OBJ_FROM_PTR(&read_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
