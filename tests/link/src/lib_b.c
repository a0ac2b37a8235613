int lib_b(int x) { return x * 3; }
