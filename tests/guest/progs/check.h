/*
 * check.h: what the guest test programs share.  Each program is one
 * static binary built from one .c file that includes this.
 *
 *  - failures, CHECK(): a failed check prints "<check_prefix>: FAIL
 *    <function>:<line>: <message>" and is counted;
 *  - digest, mix(): an FNV-1a digest of everything a program computed, so
 *    that two runs (espt=off and espt=on) can be compared by one line.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GUEST_CHECK_H
#define GUEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int failures;
static uint32_t digest = 2166136261u;
static const char *check_prefix = "?";

static inline void mix(uint32_t v)
{
    int i;

    for (i = 0; i < 4; i++) {
        digest ^= (v >> (8 * i)) & 0xff;
        digest *= 16777619u;
    }
}

#define CHECK(cond, ...) do {                                       \
        if (!(cond)) {                                              \
            printf("%s: FAIL %s:%d: ", check_prefix, __func__,      \
                   __LINE__);                                       \
            printf(__VA_ARGS__);                                    \
            printf("\n");                                           \
            failures++;                                             \
        }                                                           \
    } while (0)

#endif
