/* Calls three functions nothing defines, two of them C++ (declared here
 * with their mangled names, so no C++ compiler is needed): every one must
 * be reported, C++ names demangled. */
#define NM_EXPORT __attribute__((visibility("default"), used))

extern int missing_c(int);
extern int ns_foo(int) __asm__("_ZN2ns3fooEi");
extern unsigned vec_size(const void *) __asm__("_ZNKSt6vectorIiSaIiEE4sizeEv");

NM_EXPORT int use_undef(int x) {
    return missing_c(x) + ns_foo(x) + (int)vec_size(&x);
}
