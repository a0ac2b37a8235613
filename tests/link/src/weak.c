/* A weak undefined hook (absent: 0, call skipped) and a weak definition
 * that a strong one in strong.c overrides. */
#define NM_EXPORT __attribute__((visibility("default"), used))
extern void optional_hook(void) __attribute__((weak));
__attribute__((weak)) int policy(void) { return 1; }
NM_EXPORT int run_weak(void) {
    if (optional_hook) {
        optional_hook();
    }
    return policy() + (optional_hook ? 100 : 0);
}
