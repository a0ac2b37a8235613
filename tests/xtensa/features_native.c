/* features_native.c SCRIPT: the `call` lines of a board script run on
 * features_board.c compiled natively, printed as the board prints them
 * (`FN(ARGS) = VALUE`): the output an Xtensa board must give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features_board.c"

typedef long (*fn6_t)(long, long, long, long, long, long);
static const struct {
    const char *name;
    void *fn;
} fns[] = {
#define F(n) {#n, (void *)n}
    F(nm_init), F(feat_op), F(feat_data), F(feat_switch), F(feat_float), F(feat_ftoi), F(feat_copy),
    F(feat_name), F(div64_lo), F(div64_hi), F(sdiv64_lo), F(sdiv64_hi), F(double_lo), F(double_hi),
#undef F
};

int main(int argc, char **argv) {
    char line[256];
    FILE *f = argc == 2 ? fopen(argv[1], "r") : NULL;
    if (!f) {
        fprintf(stderr, "usage: features_native SCRIPT\n");
        return 2;
    }
    while (fgets(line, sizeof line, f)) {
        char *w[9];
        int n = 0;
        for (char *t = strtok(line, " \t\r\n"); t && n < 9; t = strtok(NULL, " \t\r\n")) {
            w[n++] = t;
        }
        if (n < 3 || strcmp(w[0], "call") != 0) {
            continue;
        }
        long a[6] = {0};
        for (int i = 3; i < n; i++) {
            a[i - 3] = strtol(w[i], NULL, 0);
        }
        void *fn = NULL;
        for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
            fn = strcmp(fns[i].name, w[2]) == 0 ? fns[i].fn : fn;
        }
        if (!fn) {
            fprintf(stderr, "features_native: no function %s\n", w[2]);
            return 1;
        }
        /* every function takes ints: pass them as the int-sized values the board passes */
        long r = ((fn6_t)fn)((int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4], (int)a[5]);
        printf("%s(", w[2]);
        for (int i = 3; i < n; i++) {
            printf("%s%s", i > 3 ? ", " : "", w[i]);
        }
        printf(") = %d\n", (int)r);
    }
    fclose(f);
    return 0;
}
