/*
 * memtest: a guest program that exercises the guest MMU through Linux
 * and checks its own results.
 *
 *  - mmap / munmap / mprotect of anonymous memory, with a pattern that
 *    depends on the address so a page mapped at the wrong place shows;
 *  - fork with copy-on-write: parent and child write the same pages and
 *    each must keep seeing its own data;
 *  - a SIGSEGV caught by the program: write to a read-only page, read a
 *    PROT_NONE page and touch an unmapped page; si_addr and si_code must
 *    name the faulting address and the kind of fault;
 *  - a file-backed shared mapping on tmpfs seen through read().
 *
 * Prints "memtest: <check> ok" per check and a final digest of everything
 * it computed, so the same program under two emulators can be compared.
 * Exit status 0 only if every check passed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static long page;

static uint32_t pattern(uintptr_t addr, uint32_t seed)
{
    uint32_t x = (uint32_t)addr * 2654435761u ^ seed;

    x ^= x >> 15;
    return x * 0x2c1b3c6du;
}

static void fill(void *p, size_t len, uint32_t seed)
{
    uint32_t *w = p;
    size_t i;

    for (i = 0; i < len / 4; i++) {
        w[i] = pattern((uintptr_t)&w[i], seed);
    }
}

static size_t verify(const void *p, size_t len, uint32_t seed)
{
    const uint32_t *w = p;
    size_t i, bad = 0;

    for (i = 0; i < len / 4; i++) {
        if (w[i] != pattern((uintptr_t)&w[i], seed)) {
            bad++;
        }
        mix(w[i]);
    }
    return bad;
}

static void test_mmap(void)
{
    enum { N = 64 };
    char *maps[N];
    size_t len;
    int i, round;

    for (round = 0; round < 4; round++) {
        for (i = 0; i < N; i++) {
            len = (size_t)page * (1 + (i * 7 + round) % 13);
            maps[i] = mmap(NULL, len, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHECK(maps[i] != MAP_FAILED, "mmap: %s", strerror(errno));
            if (maps[i] == MAP_FAILED) {
                return;
            }
            /* Fresh anonymous memory must read as zero. */
            CHECK(maps[i][len - 1] == 0 && maps[i][0] == 0, "not zeroed");
            fill(maps[i], len, round * N + i);
        }
        /* Unmap every other one, remap at the same hint, check the rest. */
        for (i = 0; i < N; i += 2) {
            len = (size_t)page * (1 + (i * 7 + round) % 13);
            CHECK(munmap(maps[i], len) == 0, "munmap");
        }
        for (i = 1; i < N; i += 2) {
            len = (size_t)page * (1 + (i * 7 + round) % 13);
            CHECK(verify(maps[i], len, round * N + i) == 0,
                  "round %d map %d corrupted", round, i);
            /* Read-only, still readable and unchanged. */
            CHECK(mprotect(maps[i], len, PROT_READ) == 0, "mprotect");
            CHECK(verify(maps[i], len, round * N + i) == 0, "after mprotect");
            CHECK(munmap(maps[i], len) == 0, "munmap");
        }
    }
    printf("memtest: mmap ok\n");
}

static void test_fork_cow(void)
{
    size_t len = 256 * (size_t)page;
    char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int pipefd[2], status;
    pid_t pid;
    uint32_t child_bad = 99;

    CHECK(buf != MAP_FAILED, "mmap");
    if (buf == MAP_FAILED) {
        return;
    }
    fill(buf, len, 1);
    CHECK(pipe(pipefd) == 0, "pipe");
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        uint32_t bad;

        /* Child: still sees the parent's data, then writes its own. */
        bad = verify(buf, len, 1);
        fill(buf, len, 2);
        bad += verify(buf, len, 2);
        usleep(20000);          /* let the parent write meanwhile */
        bad += verify(buf, len, 2);
        if (write(pipefd[1], &bad, sizeof(bad)) != sizeof(bad)) {
            _exit(2);
        }
        _exit(bad ? 1 : 0);
    }
    /* Parent writes every other page while the child runs. */
    {
        size_t off;

        for (off = 0; off < len; off += 2 * page) {
            fill(buf + off, page, 3);
        }
        for (off = 0; off < len; off += page) {
            uint32_t seed = (off / page) % 2 ? 1 : 3;

            CHECK(verify(buf + off, page, seed) == 0,
                  "parent page %ld corrupted", (long)(off / page));
        }
    }
    CHECK(read(pipefd[0], &child_bad, sizeof(child_bad)) == sizeof(child_bad),
          "read from child");
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && child_bad == 0,
          "child saw %u bad words, status 0x%x", child_bad, status);
    close(pipefd[0]);
    close(pipefd[1]);
    munmap(buf, len);
    printf("memtest: fork-cow ok\n");
}

static sigjmp_buf fault_jmp;
/* Written by the signal handler, read after siglongjmp: must be volatile. */
static volatile void *fault_addr;
static volatile int fault_code, fault_sig;  /* set by on_fault() */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_addr = si->si_addr;
    fault_code = si->si_code;
    siglongjmp(fault_jmp, 1);
}

/* Returns 1 if accessing p faulted. */
static int try_access(volatile char *p, int write)
{
    fault_sig = 0;
    fault_addr = NULL;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        if (write) {
            *p = 0x5a;
        } else {
            mix(*p);
        }
        return 0;
    }
    return 1;
}

static void test_segv(void)
{
    struct sigaction sa;
    char *ro, *none, *gone;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction");

    ro = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED, "mmap");
    memset(ro, 0x11, 2 * page);
    CHECK(mprotect(ro + page, page, PROT_READ) == 0, "mprotect");

    /* Writable page: no fault. */
    CHECK(!try_access(ro + 5, 1), "write to a writable page faulted");
    /* Read-only page: reading works, writing faults with SEGV_ACCERR. */
    CHECK(!try_access(ro + page + 3, 0), "read of read-only page faulted");
    CHECK(try_access(ro + page + 123, 1),
          "write to read-only page did not fault");
    CHECK(fault_sig == SIGSEGV && fault_addr == ro + page + 123 &&
          fault_code == SEGV_ACCERR,
          "ro write: sig %d addr %p (want %p) code %d", fault_sig,
          fault_addr, ro + page + 123, fault_code);
    CHECK(ro[page + 123] == 0x11, "faulting write changed memory");

    none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none != MAP_FAILED, "mmap");
    CHECK(try_access(none + 77, 0), "read of PROT_NONE page did not fault");
    CHECK(fault_addr == none + 77 && fault_code == SEGV_ACCERR,
          "prot_none: addr %p (want %p) code %d", fault_addr, none + 77,
          fault_code);

    gone = mmap(NULL, page, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    gone[0] = 1;
    CHECK(munmap(gone, page) == 0, "munmap");
    CHECK(try_access(gone + 9, 0), "read of unmapped page did not fault");
    CHECK(fault_addr == gone + 9 && fault_code == SEGV_MAPERR,
          "unmapped: addr %p (want %p) code %d", fault_addr, gone + 9,
          fault_code);

    /* Making it writable again must take effect. */
    CHECK(mprotect(ro + page, page, PROT_READ | PROT_WRITE) == 0, "mprotect");
    CHECK(!try_access(ro + page + 123, 1), "write after mprotect faulted");
    CHECK(ro[page + 123] == 0x5a, "write after mprotect lost");

    munmap(ro, 2 * page);
    munmap(none, page);
    signal(SIGSEGV, SIG_DFL);
    printf("memtest: segv ok\n");
}

static void test_shared_file(void)
{
    const char *path = "/tmp/memtest.shared";
    size_t len = 16 * (size_t)page;
    char *m, *buf;
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    if (fd < 0) {
        return;
    }
    CHECK(ftruncate(fd, len) == 0, "ftruncate");
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap shared");
    fill(m, len, 42);
    buf = malloc(len);
    CHECK(pread(fd, buf, len, 0) == (ssize_t)len, "pread");
    CHECK(memcmp(buf, m, len) == 0, "file contents differ from the mapping");
    /* And the other way: write() shows through the mapping. */
    memset(buf, 0xa5, page);
    CHECK(pwrite(fd, buf, page, 3 * page) == page, "pwrite");
    CHECK((unsigned char)m[3 * page + 17] == 0xa5,
          "pwrite not visible in mapping");
    mix(m[3 * page + 17]);
    munmap(m, len);
    free(buf);
    close(fd);
    unlink(path);
    printf("memtest: shared-file ok\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_prefix = "memtest";
    page = sysconf(_SC_PAGESIZE);
    test_mmap();
    test_fork_cow();
    test_segv();
    test_shared_file();
    printf("memtest: digest %08x\n", digest);
    printf("memtest: %s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
