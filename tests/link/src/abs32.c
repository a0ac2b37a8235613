/* Built with -fno-pic -mcmodel=kernel: takes the address with R_X86_64_32S. */
int counter;
int *counter_addr(void) { return &counter; }
