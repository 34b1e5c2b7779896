/* A check that records a failure and goes on: the C self-check programs
 * print "FAIL line N: ..." for each and exit 1 if `failed` is not zero. */
#ifndef OXSIO_TEST_EXPECT_H
#define OXSIO_TEST_EXPECT_H

#include <stdio.h>

static int failed = 0;

#define EXPECT(cond, ...)                       \
    do {                                        \
        if (!(cond)) {                          \
            printf("FAIL line %d: ", __LINE__); \
            printf(__VA_ARGS__);                \
            printf("\n");                       \
            failed++;                           \
        }                                       \
    } while (0)

#endif
