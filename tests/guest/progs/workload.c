/*
 * workload: a short, deterministic user-mode compute workload whose cost
 * is dominated by guest loads and stores, the thing ESPT makes cheaper.
 *
 *   workload [SCALE]      SCALE 1 (default) runs a few seconds under TCG
 *
 * Phases: a random pointer chase over a large array (one TLB-missing
 * load after another), an open-addressing hash table, a merge sort, and
 * a byte-wise LZ-style match search.  Prints one line per phase with its
 * guest-measured time and a checksum, then the total.  The checksums do
 * not depend on addresses or timing, so two runs must print the same
 * checksums.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1000000000.0;
}

static uint32_t chase(int scale)
{
    size_t n = (size_t)4 << 20;            /* 16 MiB of uint32_t */
    uint32_t *next = malloc(n * sizeof(*next));
    uint32_t i, j, t, p = 0, sum = 0;
    long steps = 3000000L * scale;

    /* Sattolo's algorithm: one cycle through every element. */
    for (i = 0; i < n; i++) {
        next[i] = i;
    }
    for (i = n - 1; i > 0; i--) {
        j = rng() % i;
        t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
    while (steps--) {
        p = next[p];
        sum += p;
    }
    free(next);
    return sum;
}

static uint32_t hashtab(int scale)
{
    size_t cap = 1 << 21, mask = cap - 1;
    uint32_t *keys = calloc(cap, sizeof(*keys));
    uint32_t *vals = calloc(cap, sizeof(*vals));
    uint32_t sum = 0, k, h;
    long i, ops = 1500000L * scale;

    for (i = 0; i < ops; i++) {
        k = (rng() % 1000003) + 1;
        h = (k * 2654435761u) & mask;
        while (keys[h] && keys[h] != k) {
            h = (h + 1) & mask;
        }
        keys[h] = k;
        vals[h] += (uint32_t)i;
        sum += vals[h] ^ k;
    }
    free(keys);
    free(vals);
    return sum;
}

static void msort(uint32_t *a, uint32_t *tmp, size_t n)
{
    size_t h = n / 2, i = 0, j = h, k = 0;

    if (n < 2) {
        return;
    }
    msort(a, tmp, h);
    msort(a + h, tmp, n - h);
    while (i < h && j < n) {
        tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
    }
    while (i < h) {
        tmp[k++] = a[i++];
    }
    while (j < n) {
        tmp[k++] = a[j++];
    }
    memcpy(a, tmp, n * sizeof(*a));
}

static uint32_t sorting(int scale)
{
    size_t n = (size_t)600000 * scale, i;
    uint32_t *a = malloc(n * sizeof(*a)), *tmp = malloc(n * sizeof(*a));
    uint32_t sum = 0;

    for (i = 0; i < n; i++) {
        a[i] = rng();
    }
    msort(a, tmp, n);
    for (i = 0; i < n; i++) {
        sum = sum * 31 + a[i];
        if (i && a[i - 1] > a[i]) {
            sum = 0xbad;
            break;
        }
    }
    free(a);
    free(tmp);
    return sum;
}

static uint32_t matching(int scale)
{
    size_t n = (size_t)2 << 20, i;
    unsigned char *buf = malloc(n);
    int32_t *head = malloc(65536 * sizeof(*head));
    uint32_t sum = 0;
    int pass;

    for (i = 0; i < n; i++) {
        /* Text-like: a small alphabet with repeats. */
        buf[i] = (i > 64 && rng() % 4 == 0) ? buf[i - 1 - rng() % 64]
                                            : 'a' + rng() % 20;
    }
    for (pass = 0; pass < scale; pass++) {
        memset(head, 0xff, 65536 * sizeof(*head));
        for (i = 0; i + 258 < n; i++) {
            uint32_t h = (buf[i] << 8 | buf[i + 1]) ^ buf[i + 2] << 4;
            int32_t cand = head[h & 0xffff];
            size_t len = 0;

            if (cand >= 0) {
                while (len < 258 && buf[cand + len] == buf[i + len]) {
                    len++;
                }
            }
            head[h & 0xffff] = (int32_t)i;
            sum += len;
        }
    }
    free(buf);
    free(head);
    return sum;
}

static void phase(const char *name, uint32_t (*fn)(int), int scale)
{
    double t = now();
    uint32_t c = fn(scale);

    printf("workload: %-8s checksum %08x time %.3f\n", name, c, now() - t);
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    double t0 = now();

    if (scale < 1) {
        fprintf(stderr, "usage: workload [SCALE>=1]\n");
        return 2;
    }
    phase("chase", chase, scale);
    phase("hashtab", hashtab, scale);
    phase("sort", sorting, scale);
    phase("match", matching, scale);
    printf("workload: total time %.3f\n", now() - t0);
    return 0;
}
