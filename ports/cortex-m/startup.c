/*
 * Cortex-M reset: enable the FPU (hard-float builds touch it anywhere), copy
 * .data, zero .bss, open the semihosting console, run main, exit through
 * semihosting with main's status (QEMU exits with it).
 */
#include <stdint.h>
#include <string.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop;
extern void initialise_monitor_handles(void);
extern int main(void);
extern void exit(int status);

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

void Reset_Handler(void) {
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm volatile("dsb\n\tisb");
#endif
    memcpy(&__data_start__, &__etext, (size_t)((char *)&__data_end__ - (char *)&__data_start__));
    memset(&__bss_start__, 0, (size_t)((char *)&__bss_end__ - (char *)&__bss_start__));
    initialise_monitor_handles();
    exit(main());
}

/* A fault ends the run with a distinct status instead of hanging QEMU. */
void Default_Handler(void) {
    exit(99);
}

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    &__StackTop,     Reset_Handler,   Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0,
    0,               0,               0,               Default_Handler,
    Default_Handler, 0,               Default_Handler, SysTick_Handler,
};
