static int ready;
__attribute__((constructor)) static void setup(void) { ready = 1; }
int is_ready(void) { return ready; }
