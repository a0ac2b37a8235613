/* A piece of firmware that loads modules. */
#include "natmod/loader.h"

int fw_find(const nm_export_t *table, size_t n);
int fw_find(const nm_export_t *table, size_t n) { return nm_export_find(table, n, "hal_print") != NULL; }
