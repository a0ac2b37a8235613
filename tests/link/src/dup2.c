int shared_fn(void) { return 2; }
int nm_init(void) { return shared_fn(); }
