int policy(void) { return 42; }
