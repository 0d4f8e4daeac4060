/* Helpers shared by the C test programs: checks that report the file, line and the library's
 * last error, and small utilities. Every test program prints "ok: ..." lines and exits 0 when
 * every check passed, 1 otherwise (the runner, run.py, reads only the exit status). */
#ifndef POSTWIRE_TEST_COMMON_H
#define POSTWIRE_TEST_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postwire.h"

static int failures = 0;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            failures++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, " (last error: %s %s)\n",                                     \
                    pw_status_name(pw_last_error_status()), pw_last_error_message());     \
        }                                                                                 \
    } while (0)

/* A call that must succeed. */
#define OK(call)                                                                          \
    do {                                                                                  \
        pw_status st_ = (call);                                                           \
        CHECK(st_ == PW_OK, "%s returned %s", #call, pw_status_name(st_));                \
    } while (0)

/* A call that must fail with `want`. */
#define FAILS(want, call)                                                                 \
    do {                                                                                  \
        pw_status st_ = (call);                                                           \
        CHECK(st_ == (want), "%s returned %s, want %s", #call, pw_status_name(st_),       \
              pw_status_name(want));                                                      \
        CHECK(pw_last_error_status() == (want), "last error status after %s", #call);     \
    } while (0)

static inline int finish(const char *name) {
    if (failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

/* True when `hay` contains `needle`. */
static inline int contains(const char *hay, const char *needle) {
    return hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
}

#endif
