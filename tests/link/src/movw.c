/* Built with -mslow-flash-data for Cortex-M3: addresses via MOVW/MOVT. */
int counter;
int *counter_addr(void) { return &counter; }
