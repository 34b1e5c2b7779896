/* Small helpers shared by the C examples: sleeping, clocks, JSON quoting,
 * and a CHECK macro that prints the oxsio error and exits. */
#ifndef OXSIO_EXAMPLES_COMMON_H
#define OXSIO_EXAMPLES_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oxsio.h"

#define CHECK(call)                                                              \
    do {                                                                         \
        oxsio_result check_r_ = (call);                                          \
        if (check_r_ != OXSIO_RESULT_OK) {                                       \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__,   \
                    #call, oxsio_result_message(check_r_),                       \
                    oxsio_last_error_message());                                 \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static inline void sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static inline uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes `s` (len bytes) as a JSON string literal into out (cap bytes,
 * NUL-terminated, truncated safely). Returns the number of bytes written. */
static inline size_t json_quote(char *out, size_t cap, const char *s, size_t len) {
    size_t n = 0;
    if (cap < 3) return 0;
    out[n++] = '"';
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

#endif
