/* Thread-local storage: refused by name (a module has no thread pointer). */
extern __thread int counter;
__attribute__((visibility("default"))) int tls_next(void) { return counter++; }
