int lib_b(int);
int lib_a(int x) { return lib_b(x) + 1; }
