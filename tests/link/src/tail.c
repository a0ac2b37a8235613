/* A module whose text ends just before the first page boundary while the
 * rest of its slice (data, relocations, tables, a long export name) runs
 * past it: the linker must put RW a page further, after the whole slice. */
#define NM_EXPORT __attribute__((visibility("default"), used))

static const unsigned char table[3940] = {7, 11, 13};
int counter = 5;                        /* reached PC-relatively from text */
const unsigned char *table_ptr = table; /* a PTR64 record into TEXT */

NM_EXPORT int tail_get(int i) {
    return table_ptr[i & 3] + counter++;
}

NM_EXPORT int
an_export_with_a_long_name_so_that_the_string_table_alone_outgrows_what_is_left_of_the_page_after_text_0123456789(
    void) {
    return table[1];
}

NM_EXPORT int
a_second_export_with_a_long_name_so_that_the_string_table_alone_outgrows_what_is_left_of_the_page_9876543210(
    void) {
    return table[2];
}
