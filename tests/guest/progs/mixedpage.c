/*
 * A JIT's worst page: generated code and the data it keeps updating on
 * one page.  Under ESPT the page stays read-only in the shadow table (it
 * holds translated code), so every store to it is a host fault plus a
 * one-instruction softmmu TB.  Prints a checksum that must not depend on
 * how the stores were run.
 *
 *   mixedpage [STORES]    (default 200000)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "insn.h"

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
    uint32_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint32_t (*fn)(uint32_t);
    uint32_t sum = 0, i;

    if (page == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    page[0] = I_TRIPLE_R0;      /* fn(x) = 3x: add r0, r0, r0, lsl #1 */
    page[1] = I_RET;            /* bx lr (A64: ret) */
    __builtin___clear_cache((char *)page, (char *)(page + 2));
    fn = (uint32_t (*)(uint32_t))page;
    for (i = 0; i < n; i++) {
        /* Data words at 256..511: the same page as the code above. */
        page[256 + (i & 255)] += fn(i) ^ sum;
        sum = sum * 31 + page[256 + ((i * 7) & 255)];
    }
    printf("mixedpage: %u stores, checksum %08x\n", n, sum);
    return 0;
}
