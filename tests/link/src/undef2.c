/* A second object needing one of undef.c's missing functions (reported
 * once, for the first object that needs it) and one of its own. */
#define NM_EXPORT __attribute__((visibility("default"), used))

extern int ns_foo(int) __asm__("_ZN2ns3fooEi");
extern int other_missing(void);

NM_EXPORT int use_undef2(int x) {
    return ns_foo(x) * other_missing();
}
