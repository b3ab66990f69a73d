/*
 * mmapchurn N: map, touch, partly protect and unmap anonymous memory N
 * times.  Page faults, TLB shootdowns and VMA changes; little compute.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, i;
    long page = sysconf(_SC_PAGESIZE);
    uint32_t sum = 0;

    for (i = 0; i < n; i++) {
        size_t pages = 1 + (i * 37) % 64, p;
        char *m = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (m == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (p = 0; p < pages; p++) {
            m[p * page + (i % page)] = (char)(i + p);
        }
        if (pages > 2 && mprotect(m + page, page, PROT_READ)) {
            perror("mprotect");
            return 1;
        }
        for (p = 0; p < pages; p++) {
            sum = sum * 31 + (unsigned char)m[p * page + (i % page)];
        }
        munmap(m, pages * page);
    }
    printf("mmapchurn: %d rounds, sum %08x\n", n, sum);
    return 0;
}
