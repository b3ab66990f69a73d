/*
 * LD_PRELOAD fault injection for ESPT's host mapping calls.
 *
 * Finds ESPT's reservation (the first PROT_NONE, MAP_NORESERVE mmap of at
 * least 1 TiB: nothing else in QEMU is that big) and makes a fraction of
 * the mmap/mprotect/munmap calls inside it fail with ENOMEM, as they do
 * at vm.max_map_count.  ESPT_FAILINJECT_PERMILLE (default 50) sets the
 * fraction.  At exit it prints how many calls it failed, so a test can
 * compare that with ESPT's own host-failures counter.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uintptr_t lo, hi;
static unsigned long permille = 50;
static unsigned long calls, failed;

static int inject(void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    uint64_t z;

    if (!hi || a < lo || a >= hi) {
        return 0;
    }
    /* splitmix64 of the call number: deterministic, spread out. */
    z = __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    if (z % 1000 >= permille) {
        return 0;
    }
    __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);
    errno = ENOMEM;
    return 1;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long p;

    if ((flags & MAP_FIXED) && inject(addr)) {
        return MAP_FAILED;
    }
    p = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (p != -1 && !hi && prot == PROT_NONE && (flags & MAP_NORESERVE) &&
        len >= (1ull << 40)) {
        lo = p;
        hi = p + len;
    }
    return (void *)p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

int mprotect(void *addr, size_t len, int prot)
{
    if (inject(addr)) {
        return -1;
    }
    return syscall(SYS_mprotect, addr, len, prot);
}

int munmap(void *addr, size_t len)
{
    if (inject(addr)) {
        return -1;
    }
    return syscall(SYS_munmap, addr, len);
}

static void __attribute__((constructor)) start(void)
{
    const char *p = getenv("ESPT_FAILINJECT_PERMILLE");

    if (p && sscanf(p, "%lu", &permille) != 1) {
        permille = 50;
    }
}

static void __attribute__((destructor)) report(void)
{
    fprintf(stderr, "failinject: failed %lu of %lu calls in the ESPT "
            "reservation\n", failed, calls);
}
