/* A module reading a firmware variable: its address comes from a GOT slot
 * with -fpic; medlow and medany code would put it in an instruction. */
extern int fw_var;
__attribute__((visibility("default"))) int get_fw_var(void) { return fw_var; }
