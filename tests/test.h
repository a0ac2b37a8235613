/*
 * A tiny test harness: CHECK records a failure with file:line and goes on;
 * TEST_MAIN runs the listed tests and exits non-zero if any check failed.
 */
#ifndef NATMOD_TEST_H
#define NATMOD_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                            \
    do {                                                                       \
        test_checks++;                                                         \
        if (!(cond)) {                                                         \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        test_checks++;                                                         \
        if (va_ != vb_) {                                                      \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", \
                    __FILE__, __LINE__, #a, va_, #b, vb_);                     \
        }                                                                      \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                        \
    do {                                                                       \
        test_checks++;                                                         \
        if (!strstr((hay), (needle))) {                                        \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",        \
                    __FILE__, __LINE__, (hay), (needle));                      \
        }                                                                      \
    } while (0)

#define RUN(test)                                                              \
    do {                                                                       \
        int before_ = test_failures;                                           \
        test();                                                                \
        printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #test); \
    } while (0)

#define TEST_DONE()                                                            \
    (printf("%d checks, %d failed\n", test_checks, test_failures),            \
     (test_failures || !test_checks) ? 1 : 0)

#endif /* NATMOD_TEST_H */
