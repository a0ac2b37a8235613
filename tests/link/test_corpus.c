/*
 * Malformed inputs: link every file listed in <dir>/MANIFEST and check the
 * error code and the words of the one-line message. Lines:
 *   <file> TAB <arch> TAB <ERR_NAME> TAB <syms-file or -> [TAB <words in the message>]...
 * The harness itself never crashes on them (run it under ASan/UBSan).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "link/link.h"

static const struct { const char *name; int code; } codes[] = {
    {"OK", NM_OK}, {"IO", NM_ERR_IO}, {"ELF", NM_ERR_ELF}, {"ARCHIVE", NM_ERR_ARCHIVE},
    {"RELOC", NM_ERR_RELOC}, {"NOSYM", NM_ERR_NOSYM}, {"DUP", NM_ERR_DUP},
    {"UNSUPPORTED", NM_ERR_UNSUPPORTED}, {"ARCH", NM_ERR_ARCH}, {"FLOAT_ABI", NM_ERR_FLOAT_ABI},
    {"INVAL", NM_ERR_INVAL},
};

static int code_of(const char *s) {
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (!strcmp(codes[i].name, s)) {
            return codes[i].code;
        }
    }
    return 1;
}

static int arch_of(const char *s) {
    for (unsigned i = 1; i < NM_ARCH_COUNT; i++) {
        if (!strcmp(nm_arch_name(i), s)) {
            return (int)i;
        }
    }
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_link_corpus dir\n");
        return 2;
    }
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/MANIFEST", argv[1]);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) {
        return TEST_DONE();
    }
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char *save, *tok[32];
        int n = 0;
        if (line[0] == '#') {
            continue;
        }
        for (char *t = strtok_r(line, "\t\r\n", &save); t && n < 32; t = strtok_r(NULL, "\t\r\n", &save)) {
            tok[n++] = t;
        }
        if (n < 4) {
            continue;
        }
        char file[1024], symfile[1024];
        snprintf(file, sizeof file, "%s/%s", argv[1], tok[0]);
        snprintf(symfile, sizeof symfile, "%s/%s", argv[1], tok[3]);
        nml_input_t in[2];
        memset(in, 0, sizeof in);
        in[0].path = file;
        nml_options_t opt;
        memset(&opt, 0, sizeof opt);
        opt.arch = (uint8_t)arch_of(tok[1]);
        opt.inputs = in;
        opt.n_inputs = 1;
        opt.syms_path = strcmp(tok[3], "-") ? symfile : NULL;
        opt.gc_sections = 1;
        nml_result_t res;
        char detail[512];
        int err = nml_link(&opt, &res, detail, sizeof detail);
        int want = code_of(tok[2]);
        test_checks++;
        if (err != want) {
            test_failures++;
            fprintf(stderr, "%s: got %d (%s: %s), want %s\n", tok[0], err, nm_strerror(err), err ? detail : "",
                    tok[2]);
        }
        for (int i = 4; i < n; i++) {
            if (err) {
                CHECK_STR_CONTAINS(detail, tok[i]);
            }
        }
        if (err) {
            CHECK(!strchr(detail, '\n'));
            printf("%-28s %s\n", tok[0], detail);
        } else {
            nml_result_free(&res);
        }
        cases++;
    }
    fclose(f);
    printf("%d corpus files\n", cases);
    return TEST_DONE();
}
