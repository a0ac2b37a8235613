#define NM_EXPORT __attribute__((visibility("default"), used))
int lib_a(int);
NM_EXPORT int use_lib(int x) { return lib_a(x); }
