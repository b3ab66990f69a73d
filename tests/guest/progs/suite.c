/*
 * suite: the guest side of the ESPT correctness suite.
 *
 * Each subtest stresses one way a guest can change, share or fault on its
 * user mappings, checks its own results, and prints what it saw on lines
 * starting with "suite: ".  The host runs the same suite with espt=off and
 * espt=on and requires identical "suite: " lines, so anything a shadow
 * table got wrong (a stale mapping, a lost write, a wrong fault address)
 * shows either as a failed check here or as a difference there.  Lines
 * starting with "info: " are facts about the guest kernel (are huge pages
 * available, ...) that the host test may look at but does not compare.
 *
 * Usage: suite [subtest...]   (default: all).  Exit status 0 only if every
 * subtest passed.  Each subtest runs in its own process.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "insn.h"
#include "rng.h"

static const char *cur = "?";   /* name of the running subtest */
static size_t page;


/* The word expected at byte offset off of a buffer filled with seed. */
static uint32_t pat(size_t off, uint32_t seed)
{
    uint32_t x = (uint32_t)off * 2654435761u ^ seed;

    x ^= x >> 15;
    return x * 0x2c1b3c6du;
}

static void fill_range(void *base, size_t from, size_t to, uint32_t seed)
{
    uint32_t *w = base;
    size_t i;

    for (i = from / 4; i < to / 4; i++) {
        w[i] = pat(i * 4, seed);
    }
}

/* Number of words in [from, to) that do not hold the pattern. */
static size_t bad_range(const void *base, size_t from, size_t to,
                        uint32_t seed)
{
    const uint32_t *w = base;
    size_t i, bad = 0;

    for (i = from / 4; i < to / 4; i++) {
        bad += w[i] != pat(i * 4, seed);
    }
    return bad;
}

static void *map_anon(size_t len, int prot)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        printf("suite: %s: FAIL mmap %zu: %s\n", cur, len, strerror(errno));
        exit(2);
    }
    return p;
}

/* ---- catching faults ------------------------------------------------ */

static sigjmp_buf fault_jmp;
static volatile int fault_sig, fault_code;
static volatile uintptr_t fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_code = si->si_code;
    fault_addr = (uintptr_t)si->si_addr;
    siglongjmp(fault_jmp, 1);
}

static void catch_faults(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
}

/*
 * Run fn(arg); return 0 if it completed, else the signal it raised (with
 * fault_addr and fault_code set).
 */
static int faults(void (*fn)(volatile void *), volatile void *arg)
{
    fault_sig = 0;
    fault_code = 0;
    fault_addr = 0;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        fn(arg);
        return 0;
    }
    return fault_sig;
}

static volatile uint32_t sink;

static void rd8(volatile void *p) { sink += *(volatile uint8_t *)p; }
static void wr8(volatile void *p) { *(volatile uint8_t *)p = 0xa5; }

struct __attribute__((packed)) u32p { uint32_t v; };
struct __attribute__((packed)) u16p { int16_t v; };
struct __attribute__((packed)) u64p { uint64_t v; };

static void rd32u(volatile void *p)
{
    sink += ((volatile struct u32p *)p)->v;
}

static void wr32u(volatile void *p)
{
    ((volatile struct u32p *)p)->v = 0x11223344;
}

/* Report a fault relative to base, so addresses need not match. */
static void report(const char *what, int sig, uintptr_t base)
{
    printf("suite: %s: %s sig=%d code=%d off=%ld\n", cur, what, sig,
           sig ? fault_code : 0, sig ? (long)(fault_addr - base) : 0L);
    mix(sig);
    mix(sig ? fault_addr - base : 0);
}

/* ---- churn: mmap / munmap / mprotect / mremap ----------------------- */

#define SLOTS 24

static void t_churn(void)
{
    struct { char *p; size_t len; uint32_t seed; } s[SLOTS];
    int fd = open("/tmp/suite-churn", O_RDWR | O_CREAT | O_TRUNC, 0600);
    unsigned ops[8] = { 0 };
    char *file;
    int i, it;

    CHECK(fd >= 0, "open: %s", strerror(errno));
    CHECK(ftruncate(fd, page) == 0, "ftruncate");
    file = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(file != MAP_FAILED, "mmap file");
    fill_range(file, 0, page, 0xf11e);
    munmap(file, page);

    memset(s, 0, sizeof(s));
    for (it = 0; it < 2500; it++) {
        int k = rng() % SLOTS, op = rng() % 8;
        size_t len;
        char *q;

        if (!s[k].p) {
            s[k].len = (1 + rng() % 6) * page;
            s[k].seed = rng();
            s[k].p = map_anon(s[k].len, PROT_READ | PROT_WRITE);
            fill_range(s[k].p, 0, s[k].len, s[k].seed);
            continue;
        }
        ops[op]++;
        CHECK(bad_range(s[k].p, 0, s[k].len, s[k].seed) == 0,
              "slot %d lost its data before op %d (iteration %d)", k, op, it);
        switch (op) {
        case 0:                     /* unmap */
            munmap(s[k].p, s[k].len);
            s[k].p = NULL;
            break;
        case 1:                     /* read-only, write must fault */
            CHECK(mprotect(s[k].p, s[k].len, PROT_READ) == 0, "mprotect");
            i = faults(wr8, s[k].p + s[k].len - 1);
            CHECK(i == SIGSEGV && fault_addr == (uintptr_t)s[k].p +
                  s[k].len - 1, "write to read-only: sig %d", i);
            CHECK(mprotect(s[k].p, s[k].len, PROT_READ | PROT_WRITE) == 0,
                  "mprotect");
            break;
        case 2:                     /* grow, maybe moving */
            len = s[k].len + (1 + rng() % 4) * page;
            q = mremap(s[k].p, s[k].len, len, MREMAP_MAYMOVE);
            CHECK(q != MAP_FAILED, "mremap grow: %s", strerror(errno));
            if (q != MAP_FAILED) {
                CHECK(bad_range(q, 0, s[k].len, s[k].seed) == 0,
                      "mremap grow lost data");
                fill_range(q, s[k].len, len, s[k].seed);
                s[k].p = q;
                s[k].len = len;
            }
            break;
        case 3:                     /* shrink */
            if (s[k].len > page) {
                len = s[k].len - page;
                q = mremap(s[k].p, s[k].len, len, 0);
                CHECK(q == s[k].p, "mremap shrink: %s", strerror(errno));
                s[k].len = len;
            }
            break;
        case 4:                     /* move to a given place */
            q = map_anon(s[k].len, PROT_NONE);
            q = mremap(s[k].p, s[k].len, s[k].len,
                       MREMAP_MAYMOVE | MREMAP_FIXED, q);
            CHECK(q != MAP_FAILED, "mremap fixed: %s", strerror(errno));
            if (q != MAP_FAILED) {
                /* The old place must be gone. */
                i = faults(rd8, s[k].p);
                CHECK(i == SIGSEGV, "old place of a moved mapping readable");
                s[k].p = q;
            }
            break;
        case 5:                     /* rewrite */
            s[k].seed = rng();
            fill_range(s[k].p, 0, s[k].len, s[k].seed);
            break;
        case 6:                     /* same address, file page then zeros */
            q = mmap(s[k].p, page, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
            CHECK(q == s[k].p, "mmap fixed file");
            CHECK(bad_range(q, 0, page, 0xf11e) == 0,
                  "file page mapped over anon shows stale data");
            /* Replace the whole slot: mremap needs it to be one VMA. */
            q = mmap(s[k].p, s[k].len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            CHECK(q == s[k].p, "mmap fixed anon");
            for (i = 0; i < (int)(s[k].len / 4); i++) {
                if (((uint32_t *)q)[i]) {
                    break;
                }
            }
            CHECK(i == (int)(s[k].len / 4), "fresh anon page not zero");
            fill_range(s[k].p, 0, s[k].len, s[k].seed);
            break;
        case 7:                     /* PROT_NONE and back */
            CHECK(mprotect(s[k].p, page, PROT_NONE) == 0, "mprotect");
            i = faults(rd8, s[k].p + 5);
            CHECK(i == SIGSEGV && fault_code == SEGV_ACCERR,
                  "read of PROT_NONE: sig %d code %d", i, fault_code);
            CHECK(mprotect(s[k].p, page, PROT_READ | PROT_WRITE) == 0,
                  "mprotect");
            break;
        }
        mix(op);
    }
    for (i = 0; i < SLOTS; i++) {
        if (s[i].p) {
            CHECK(bad_range(s[i].p, 0, s[i].len, s[i].seed) == 0,
                  "slot %d lost its data", i);
            mix(s[i].len);
        }
    }
    close(fd);
    unlink("/tmp/suite-churn");
    printf("suite: churn: ops %u %u %u %u %u %u %u %u\n", ops[0], ops[1],
           ops[2], ops[3], ops[4], ops[5], ops[6], ops[7]);
}

/* ---- cow: fork + copy-on-write with most of RAM in use -------------- */

static void t_cow(void)
{
    long avail = sysconf(_SC_AVPHYS_PAGES);
    size_t len, npages, i, bad;
    char *p;
    int c, status, nchild = 3;

    /* A quarter of free memory (at most 256 MiB); children dirty a quarter. */
    npages = avail / 4;
    if (npages > (256u << 20) / page) {
        npages = (256u << 20) / page;
    }
    len = npages * page;
    p = map_anon(len, PROT_READ | PROT_WRITE);
    fill_range(p, 0, len, 0xc0);
    for (c = 0; c < nchild; c++) {
        if (fork() == 0) {
            size_t bad = 0;

            for (i = c; i < npages; i += 4) {
                fill_range(p, i * page, (i + 1) * page, 0xc1 + c);
            }
            for (i = 0; i < npages; i++) {
                bad += bad_range(p, i * page, (i + 1) * page,
                                 i % 4 == (size_t)c ? 0xc1 + c : 0xc0);
            }
            _exit(bad ? 1 : 0);
        }
    }
    /* The parent writes too, while the children run. */
    for (i = 3; i < npages; i += 4) {
        fill_range(p, i * page, (i + 1) * page, 0xcf);
    }
    for (c = 0; c < nchild; c++) {
        CHECK(wait(&status) > 0 && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0, "child saw wrong data (%#x)", status);
    }
    bad = 0;
    for (i = 0; i < npages; i++) {
        bad += bad_range(p, i * page, (i + 1) * page,
                         i % 4 == 3 ? 0xcf : 0xc0) != 0;
    }
    CHECK(bad == 0, "%zu parent pages changed by a child", bad);
    munmap(p, len);
    printf("info: cow: %zu MiB\n", len >> 20);
    printf("suite: cow: %d children\n", nchild);
}

/* ---- asids: more live processes than the guest has ASIDs ------------ */

#define NPROC 300
#define ROUNDS 3
#define FIXED_VA ((void *)0x30000000)

static void t_asids(void)
{
    int go[2], ack[2], i, r, status, bad = 0;
    char c;

    CHECK(pipe(go) == 0 && pipe(ack) == 0, "pipe");
    for (i = 0; i < NPROC; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            printf("suite: asids: FAIL fork %d: %s\n", i, strerror(errno));
            exit(2);
        }
        if (pid == 0) {
            /* Every process has its own data at the same address. */
            uint32_t *p = mmap(FIXED_VA, page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            close(go[1]);
            close(ack[0]);
            fill_range(p, 0, page, i);
            for (r = 0; r < ROUNDS; r++) {
                if (read(go[0], &c, 1) != 1) {
                    _exit(3);
                }
                c = bad_range(p, 0, page, i + r * NPROC) ? 'x' : 'o';
                fill_range(p, 0, page, i + (r + 1) * NPROC);
                if (write(ack[1], &c, 1) != 1) {
                    _exit(3);
                }
            }
            _exit(0);
        }
    }
    close(go[0]);
    close(ack[1]);
    for (r = 0; r < ROUNDS; r++) {
        for (i = 0; i < NPROC; i++) {
            CHECK(write(go[1], "g", 1) == 1, "write go");
        }
        for (i = 0; i < NPROC; i++) {
            CHECK(read(ack[0], &c, 1) == 1, "read ack");
            bad += c != 'o';
        }
    }
    for (i = 0; i < NPROC; i++) {
        wait(&status);
        bad += !WIFEXITED(status) || WEXITSTATUS(status);
    }
    CHECK(bad == 0, "%d processes saw another one's data", bad);
    printf("suite: asids: %d processes x %d rounds, %d bad\n", NPROC, ROUNDS,
           bad);
}

/* ---- threads: atomics, futexes, shared memory ----------------------- */

#define NTHREADS 4
#define ITERS 60000

static volatile uint32_t atomic_ctr, locked_ctr;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;
static uint32_t *shared;       /* NTHREADS x 16 KiB */
static int futex_word;
static uint32_t thread_bad;

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg, i, j, round;
    size_t slice = 16384;

    for (round = 0; round < 4; round++) {
        fill_range(shared, id * slice, (id + 1) * slice, round * 16 + id);
        for (i = 0; i < ITERS / 4; i++) {
            __atomic_fetch_add(&atomic_ctr, 1, __ATOMIC_SEQ_CST);
            if ((i & 15) == 0) {
                pthread_mutex_lock(&lock);
                locked_ctr++;
                pthread_mutex_unlock(&lock);
            }
        }
        pthread_barrier_wait(&barrier);
        /* Everyone's slice must be visible to everyone. */
        for (j = 0; j < NTHREADS; j++) {
            if (bad_range(shared, j * slice, (j + 1) * slice,
                          round * 16 + j)) {
                __atomic_fetch_add(&thread_bad, 1, __ATOMIC_SEQ_CST);
            }
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static long futex(int *uaddr, int op, int val)
{
    return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void *ponger(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < 500; i++) {
        while (__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE) != 1) {
            futex(&futex_word, FUTEX_WAIT, 0);
        }
        __atomic_store_n(&futex_word, 0, __ATOMIC_RELEASE);
        futex(&futex_word, FUTEX_WAKE, 1);
    }
    return NULL;
}

static void t_threads(void)
{
    pthread_t t[NTHREADS], pong;
    int i;

    shared = map_anon(NTHREADS * 16384, PROT_READ | PROT_WRITE);
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0,
              "pthread_create");
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
    }
    CHECK(atomic_ctr == NTHREADS * (ITERS / 4) * 4, "atomic counter %u",
          atomic_ctr);
    CHECK(locked_ctr == NTHREADS * ((ITERS / 4 + 15) / 16) * 4, "locked counter %u",
          locked_ctr);
    CHECK(thread_bad == 0, "%u stale slices seen", thread_bad);

    /* Futex ping-pong: each side sleeps until the other wakes it. */
    pthread_create(&pong, NULL, ponger, NULL);
    for (i = 0; i < 500; i++) {
        __atomic_store_n(&futex_word, 1, __ATOMIC_RELEASE);
        futex(&futex_word, FUTEX_WAKE, 1);
        while (__atomic_load_n(&futex_word, __ATOMIC_ACQUIRE) != 0) {
            futex(&futex_word, FUTEX_WAIT, 1);
        }
    }
    pthread_join(pong, NULL);
    mix(atomic_ctr);
    mix(locked_ctr);
    printf("suite: threads: atomic %u locked %u stale %u pingpong 500\n",
           atomic_ctr, locked_ctr, thread_bad);
}

/* ---- smc / jit: generated and self-modifying code -------------------- */

/* The instructions are encoded by insn.h, for A32 or A64. */
typedef uint32_t (*fn0)(void);
typedef uint32_t (*fn2)(uint32_t, uint32_t);
typedef uint32_t (*fn3)(uint32_t, uint32_t, uint32_t *);

static void flush(void *p, size_t len)
{
    __builtin___clear_cache((char *)p, (char *)p + len);
}

static void t_smc(void)
{
    uint32_t *code = map_anon(page, PROT_READ | PROT_WRITE | PROT_EXEC);
    volatile uint32_t *data = code + page / 8;  /* same page as the code */
    uint32_t i, r, sum = 0;

    /* A function rewritten with a new constant before every call. */
    for (i = 0; i < 3000; i++) {
        code[0] = I_MOVW(0, i * 7 & 0xffff);
        code[1] = I_RET;
        flush(code, 8);
        r = ((fn0)code)();
        CHECK(r == (i * 7 & 0xffff), "rewritten function returned %u not %u",
              r, i * 7 & 0xffff);
        sum += r;
        *data += r;             /* data writes into a page with code */
    }
    CHECK(*data == sum, "data word beside code: %u vs %u", *data, sum);
    mix(sum);

    /*
     * Code that overwrites its own next instruction (r0 <- 3 replaces
     * r0 <- 2) without cache maintenance: architecturally either value
     * may be seen; the two runs must agree.
     */
    code[0] = I_STR(1, 2, 0);       /* str r1, [r2] (A64: str w1, [x2]) */
    code[1] = I_MOVW(0, 1);
    code[2] = I_MOVW(0, 2);
    code[3] = I_RET;
    flush(code, 16);
    r = ((fn3)code)(0, I_MOVW(0, 3), &code[2]);
    printf("suite: smc: self-modifying store saw %u\n", r);
    mix(r);

    printf("suite: smc: rewrite x3000 sum %u\n", sum);
}

static void t_jit(void)
{
    uint32_t *buf = map_anon(4 * page, PROT_READ | PROT_WRITE);
    uint32_t i, r, total = 0;

    /*
     * A JIT-style loop: emit a counted loop with a new step into a fresh
     * place of the buffer, flip the buffer to executable (W^X), run it,
     * flip it back.  f(n, 0) = n * step.
     */
    for (i = 0; i < 400; i++) {
        uint32_t *f = buf + (i % 16) * (page / 16);   /* 16 x 1 KiB */
        uint32_t step = 1 + i % 200, n = 50 + i % 97;

        CHECK(mprotect(buf, 4 * page, PROT_READ | PROT_WRITE) == 0, "W");
        f[0] = I_ADD_IMM(1, 1, step);   /* loop: add r1, r1, #step */
        f[1] = I_SUBS_IMM(0, 0, 1);     /*       subs r0, r0, #1   */
        f[2] = I_B(COND_NE, 2, 0);      /*       bne loop          */
        f[3] = I_MOV_R0_R1;             /*       mov r0, r1        */
        f[4] = I_RET;
        flush(f, 20);
        CHECK(mprotect(buf, 4 * page, PROT_READ | PROT_EXEC) == 0, "X");
        r = ((fn2)f)(n, 0);
        CHECK(r == n * step, "jit %u: %u != %u", i, r, n * step);
        total += r;
    }
    mix(total);
    printf("suite: jit: 400 functions total %u\n", total);
}

/*
 * codealias: one page of code seen at two addresses, then one of them
 * remapped to other code.  Nothing is written, so no translation is
 * invalidated: only the guest's TLB flush of that page tells QEMU to
 * forget what it cached for the address.
 */
static int code_file(const char *path, uint32_t value)
{
    uint32_t code[2] = { I_MOVW(0, value), I_RET };
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

    CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    unlink(path);
    CHECK(ftruncate(fd, page) == 0, "ftruncate: %s", strerror(errno));
    CHECK(pwrite(fd, code, sizeof(code), 0) == sizeof(code),
          "pwrite: %s", strerror(errno));
    return fd;
}

static void map_code(uint8_t *at, int fd)
{
    CHECK(mmap(at, page, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
               fd, 0) == at, "mmap at %p: %s", (void *)at, strerror(errno));
}

static void t_codealias(void)
{
    /* Half a MiB apart: no other code near either address. */
    uint8_t *a = map_anon(1 << 20, PROT_NONE), *b = a + (512 << 10);
    int one = code_file("/tmp/suite-code1", 1);
    int two = code_file("/tmp/suite-code2", 2);
    uint32_t i, r, sum = 0;

    for (i = 0; i < 100; i++) {
        map_code(a, one);
        map_code(b, one);
        r = ((fn0)a)();
        CHECK(r == 1, "round %u: first address ran %u", i, r);
        r = ((fn0)b)();
        CHECK(r == 1, "round %u: second address ran %u", i, r);
        sum += r;
        map_code(b, two);
        r = ((fn0)b)();
        CHECK(r == 2, "round %u: remapped address still ran %u", i, r);
        sum += r;
        r = ((fn0)a)();
        CHECK(r == 1, "round %u: first address ran %u after the remap", i, r);
        sum += r;
    }
    munmap(a, 1 << 20);
    close(one);
    close(two);
    mix(sum);
    printf("suite: codealias: 100 remaps, sum %u\n", sum);
}

/* ---- signals: faults a program can catch ----------------------------- */

static void exec_at(volatile void *p) { sink += ((fn0)p)(); }

/*
 * Kernel addresses a user access must fault on: the start of the linear
 * map (A32: PAGE_OFFSET 0xc0000000 of the 3G/1G split; A64: the bottom
 * of the TTBR1 half, 0xffff000000000000 with 48-bit VAs).
 */
#ifdef __aarch64__
#define KERNEL_VA       0xffff000000000000ul
#else
#define KERNEL_VA       0xc0000000ul
#endif

static void t_signals(void)
{
    char *b = map_anon(4 * page, PROT_READ | PROT_WRITE);
    int fd, s;
    char *f;

    catch_faults();
    memset(b, 1, 4 * page);
    CHECK(mprotect(b + page, page, PROT_READ) == 0, "mprotect");
    CHECK(mprotect(b + 3 * page, page, PROT_NONE) == 0, "mprotect");

    report("write read-only", faults(wr8, b + page + 100), (uintptr_t)b);
    report("read PROT_NONE", faults(rd8, b + 3 * page + 7), (uintptr_t)b);
    report("read kernel", faults(rd8, (void *)(KERNEL_VA + 0x10)), 0);
    report("write kernel", faults(wr8, (void *)(KERNEL_VA + 0x100000)), 0);
#ifdef __aarch64__
    /* No vectors page for A64 tasks: the kernel's user page is the vDSO. */
    report("read vdso", faults(rd8, (void *)getauxval(AT_SYSINFO_EHDR)), 0);
#else
    report("read vectors", faults(rd8, (void *)0xffff0000), 0);
#endif
    report("read NULL", faults(rd8, NULL), 0);
    report("write text", faults(wr8, (void *)t_signals), (uintptr_t)t_signals);
    /* Page-crossing accesses whose second half faults. */
    report("read across into none", faults(rd32u, b + 3 * page - 2),
           (uintptr_t)b);
    report("write across into ro", faults(wr32u, b + 2 * page - 1),
           (uintptr_t)b);
    printf("suite: signals: after it %02x\n", (uint8_t)b[2 * page - 1]);
    report("write across from ro", faults(wr32u, b + 3 * page - 3),
           (uintptr_t)b);
    printf("suite: signals: after it %02x\n", (uint8_t)b[3 * page - 3]);
    /* Executing from a page without PROT_EXEC. */
    ((uint32_t *)b)[0] = I_RET;
    flush(b, 4);
    report("exec no-exec", faults(exec_at, b), (uintptr_t)b);

    /* SIGBUS: a file mapping past the end of the file. */
    fd = open("/tmp/suite-bus", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 100) == 0, "file");
    f = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(f != MAP_FAILED, "mmap");
    report("read in file", faults(rd8, f + 50), (uintptr_t)f);
    report("read past EOF", faults(rd8, f + page + 8), (uintptr_t)f);
    report("write past EOF", faults(wr8, f + page + 9), (uintptr_t)f);
    /* Truncating under a live mapping must take its pages away. */
    f[10] = 7;
    CHECK(ftruncate(fd, 0) == 0, "truncate");
    s = faults(rd8, f + 10);
    report("read after truncate", s, (uintptr_t)f);
    close(fd);
    unlink("/tmp/suite-bus");
    printf("suite: signals: done\n");
}

/* ---- unaligned and page-crossing accesses ---------------------------- */

static void t_unaligned(void)
{
    char *b = map_anon(4 * page, PROT_READ | PROT_WRITE);
    uint32_t acc = 0;
    int off, pg;

    /* Pages 1..3 untouched: the first access to each is a crossing one. */
    for (pg = 1; pg < 4; pg++) {
        for (off = -7; off < 0; off++) {
            char *p = b + pg * page + off;

            acc += ((struct u32p *)p)->v;               /* ldr  */
            acc += ((struct u16p *)p)->v;               /* ldrsh */
            ((struct u32p *)p)->v = 0x01020304u * (pg * 16 - off);
            ((struct u16p *)(p + 1))->v = -off * 1001;  /* strh */
            acc += ((struct u64p *)p)->v >> 7;
            ((struct u64p *)(p - 3))->v ^= 0x8000000180000001ull * pg;
        }
    }
    mix(acc);
    for (off = 0; off < 4 * (int)page; off += 4) {
        mix(*(uint32_t *)(b + off));
    }
#ifdef __aarch64__
    /*
     * ldp/stp of a pair of words and ldr of a doubleword at odd addresses,
     * across pages: A64 allows them on normal memory, no fix-up needed.
     */
    fault_sig = 0;
    if (sigsetjmp(fault_jmp, 1)) {
        report("ldp/stp/ldr", fault_sig, (uintptr_t)b);
    } else {
        uint32_t lo, hi;
        uint64_t x;
        char *src = b + page - 3;

        __asm__ volatile("ldp %w0, %w1, [%2]" : "=r"(lo), "=r"(hi)
                         : "r"(src) : "memory");
        src = b + 2 * page - 2;
        __asm__ volatile("stp %w1, %w2, [%0]" : : "r"(src), "r"(lo), "r"(hi)
                         : "memory");
        src = b + 3 * page - 5;
        __asm__ volatile("ldr %0, [%1]" : "=r"(x) : "r"(src) : "memory");
        printf("suite: unaligned: ldp %08x %08x stp %08x ldr %08x %08x\n",
               lo, hi, ((struct u32p *)(b + 2 * page))->v, (uint32_t)x,
               (uint32_t)(x >> 32));
        mix(lo ^ hi ^ (uint32_t)x ^ (uint32_t)(x >> 32));
    }
#else
    /* ldrd/strd and ldm at odd addresses: the kernel fixes them up. */
    fault_sig = 0;
    if (sigsetjmp(fault_jmp, 1)) {
        report("ldrd/strd/ldm", fault_sig, (uintptr_t)b);
    } else {
        register uint32_t lo __asm__("r2"), hi __asm__("r3");
        register uint32_t a0 __asm__("r4"), a1 __asm__("r5");
        register char *src __asm__("r1") = b + page - 3;

        __asm__ volatile("ldrd %0, %1, [%2]" : "=r"(lo), "=r"(hi)
                         : "r"(src) : "memory");
        src = b + 2 * page - 2;
        __asm__ volatile("strd %1, %2, [%0]" : : "r"(src), "r"(lo), "r"(hi)
                         : "memory");
        src = b + 3 * page - 5;
        __asm__ volatile("ldm %2, {%0, %1}" : "=r"(a0), "=r"(a1)
                         : "r"(src) : "memory");
        printf("suite: unaligned: ldrd %08x %08x strd %08x ldm %08x %08x\n",
               lo, hi, ((struct u32p *)(b + 2 * page))->v, a0, a1);
        mix(lo ^ hi ^ a0 ^ a1);
    }
#endif
    printf("suite: unaligned: acc %08x\n", acc);
}

/* ---- huge: transparent huge pages and hugetlbfs --------------------- */

static void t_huge(void)
{
    /* 20 huge pages: more than a shadow table records one by one. */
    size_t len = 40 << 20, hl = 4 << 20;
    size_t far = 36 << 20;
    char *raw = map_anon(len + (2 << 20), PROT_READ | PROT_WRITE);
    char *p = (char *)(((uintptr_t)raw + (2 << 20) - 1) &
                       ~(uintptr_t)((2 << 20) - 1));
    char line[256];
    long thp = 0;
    FILE *f;
    char *h;
    int fd, s, status;

    catch_faults();
    madvise(p, len, MADV_HUGEPAGE);
    fill_range(p, 0, len, 0x1a);
    f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof(line), f)) {
        sscanf(line, "AnonHugePages: %ld", &thp);
    }
    if (f) {
        fclose(f);
    }
    printf("info: huge: thp_kib=%ld\n", thp);
    /* Split a huge page by changing one small page inside it. */
    CHECK(mprotect(p + (2 << 20) + 3 * page, page, PROT_READ) == 0,
          "mprotect");
    s = faults(wr8, p + (2 << 20) + 3 * page + 1);
    report("write into split huge page", s, (uintptr_t)p);
    CHECK(munmap(p + (4 << 20) + page, page) == 0, "munmap in huge page");
    s = faults(rd8, p + (4 << 20) + page + 2);
    report("read hole in huge page", s, (uintptr_t)p);
    /* The same in the 19th huge page. */
    CHECK(munmap(p + far + 5 * page, page) == 0, "munmap in far huge page");
    s = faults(rd8, p + far + 5 * page + 2);
    report("read hole in far huge page", s, (uintptr_t)p);
    CHECK(bad_range(p, 0, (4 << 20) + page, 0x1a) == 0 &&
          bad_range(p, (4 << 20) + 2 * page, far + 5 * page, 0x1a) == 0 &&
          bad_range(p, far + 6 * page, len, 0x1a) == 0,
          "huge page data lost by split");
    munmap(raw, len + (2 << 20));

    /* hugetlbfs, where the kernel has it. */
    fd = open("/proc/sys/vm/nr_hugepages", O_WRONLY);
    if (fd >= 0) {
        (void)!write(fd, "8\n", 2);
        close(fd);
    }
    h = mmap(NULL, hl, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    printf("info: huge: hugetlb=%d\n", h != MAP_FAILED);
    if (h != MAP_FAILED) {
        fill_range(h, 0, hl, 0x2b);
        if (fork() == 0) {
            /* Private hugetlb copy-on-write in the child. */
            fill_range(h, 0, 2 << 20, 0x2c);
            _exit(bad_range(h, 0, 2 << 20, 0x2c) ||
                  bad_range(h, 2 << 20, hl, 0x2b));
        }
        wait(&status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hugetlb child");
        CHECK(bad_range(h, 0, hl, 0x2b) == 0, "hugetlb parent data");
        CHECK(mprotect(h, 2 << 20, PROT_READ) == 0, "mprotect hugetlb");
        report("write read-only hugetlb", faults(wr8, h + 4096 * 3 + 5),
               (uintptr_t)h);
        munmap(h, hl);
    }
    printf("suite: huge: done\n");
}

/* ---- highmem: more anonymous memory than the kernel's lowmem --------- */

static void t_highmem(void)
{
    size_t chunk = 64 << 20;
    long long avail = (long long)sysconf(_SC_AVPHYS_PAGES) * page;
    int n = 0, i, bad = 0;
    char *c[16];

    /*
     * Leave a quarter of what is free; at most 16 chunks (1 GiB, which
     * fits the 3 GiB of an A32 task beside the rest; also the limit on
     * A64, so both ISAs do the same).
     */
    while (n < 16 && (n + 1) * (long long)chunk < avail / 4 * 3) {
        c[n] = map_anon(chunk, PROT_READ | PROT_WRITE);
        fill_range(c[n], 0, chunk, 0x300 + n);
        n++;
    }
    for (i = 0; i < n; i++) {
        bad += bad_range(c[i], 0, chunk, 0x300 + i) != 0;
        munmap(c[i], chunk);
    }
    CHECK(bad == 0, "%d chunks lost data", bad);
    printf("info: highmem: %d MiB\n", n * 64);
    printf("suite: highmem: %s\n", bad ? "bad" : "ok");
}

/* ---- devmem: user-space mapping of device registers ------------------ */

static void t_devmem(void)
{
    /* The virt board's virtio-mmio transports; unused ones have no driver. */
    const off_t base = 0x0a000000;
    volatile uint32_t *r;
    int fd, i;

    catch_faults();
    fd = open("/dev/mem", O_RDWR | O_SYNC);
    CHECK(fd >= 0, "open /dev/mem: %s", strerror(errno));
    if (fd < 0) {
        return;
    }
    r = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, base);
    CHECK(r != MAP_FAILED, "mmap /dev/mem: %s", strerror(errno));
    if (r == MAP_FAILED) {
        return;
    }
    for (i = 0; i < 8; i++) {
        volatile uint32_t *t = r + i * 0x200 / 4;

        t[0x14 / 4] = 0;                /* DeviceFeaturesSel: a write */
        printf("suite: devmem: transport %d magic %08x version %u "
               "device %u vendor %08x\n", i, t[0], t[1], t[2], t[3]);
        mix(t[0] ^ t[1] ^ t[2] ^ t[3]);
    }
    CHECK(r[0] == 0x74726976, "virtio-mmio magic not seen: %08x", r[0]);
    munmap((void *)r, page);
    close(fd);
}

/* ---- procmem: the guest's memory through /proc/self/mem -------------- */

static void t_procmem(void)
{
    char *b = map_anon(2 * page, PROT_READ | PROT_WRITE);
    char *ro = map_anon(page, PROT_READ);
    char tmp[64];
    int fd = open("/proc/self/mem", O_RDWR), ffd;
    char *fm;

    CHECK(fd >= 0, "open /proc/self/mem: %s", strerror(errno));
    fill_range(b, 0, 2 * page, 0x9e);
    CHECK(pread(fd, tmp, 64, (uintptr_t)b + page - 32) == 64, "pread");
    CHECK(memcmp(tmp, b + page - 32, 64) == 0, "pread saw other data");
    CHECK(pwrite(fd, "through proc", 12, (uintptr_t)b + page - 6) == 12,
          "pwrite");
    CHECK(memcmp(b + page - 6, "through proc", 12) == 0,
          "pwrite not seen by loads");

    /* A forced write to a read-only page replaces it (copy-on-write). */
    sink += ro[5];
    CHECK(pwrite(fd, "forced", 6, (uintptr_t)ro + 3) == 6, "pwrite ro: %s",
          strerror(errno));
    CHECK(memcmp(ro + 3, "forced", 6) == 0, "forced write not seen: %.6s",
          ro + 3);

    /* ... and to a private read-only file mapping, leaving the file alone. */
    ffd = open("/tmp/suite-procmem", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(ffd >= 0 && pwrite(ffd, "file data here", 14, 0) == 14, "file");
    fm = mmap(NULL, page, PROT_READ, MAP_PRIVATE, ffd, 0);
    CHECK(fm != MAP_FAILED, "mmap file");
    sink += fm[0];
    CHECK(pwrite(fd, "FILE", 4, (uintptr_t)fm) == 4, "pwrite file map");
    CHECK(memcmp(fm, "FILE data here", 14) == 0, "private copy: %.14s", fm);
    CHECK(pread(ffd, tmp, 14, 0) == 14 && memcmp(tmp, "file data here", 14)
          == 0, "the file changed");
    close(ffd);
    unlink("/tmp/suite-procmem");
    close(fd);
    mix(bad_range(b, 0, page - 8, 0x9e));
    printf("suite: procmem: ok\n");
}

/*
 * ---- flags: user-mode writes of the condition flags (MSR APSR) -------
 *
 * A64 has no APSR: NZCV and FPSR.QC (where A64 keeps the Q flag) are
 * written with MSR and read back with MRS, and the conditions include
 * AL and NV, which A64 allows (both always hold).  The GE bits and SEL
 * have no A64 counterpart: the nearest, a byte select by the flags, is
 * made of four CSELs.
 */

#ifdef __aarch64__
#define NCONDS 16
#else
#define NCONDS 14
#endif

/* Whether ARM condition @cond (0 = EQ ... 13 = LE, 14 = AL, 15 = NV
 * (A64 only)) holds for NZCV @f. */
static int cond_holds(int cond, unsigned f)
{
    int n = !!(f & 8), z = !!(f & 4), c = !!(f & 2), v = !!(f & 1);
    int r[] = { z, !z, c, !c, n, !n, v, !v, c && !z, !c || z, n == v,
                n != v, !z && n == v, z || n != v, 1, 1 };

    return r[cond];
}

#ifdef __aarch64__
/* Bit @bit of %[c] = whether condition @cond holds. */
#define COND_BIT(cond, bit) \
    "csel %[t], %[one], xzr, " #cond "\n\t" \
    "orr %[c], %[c], %[t], lsl #" #bit "\n\t"

/* Write NZCV and FPSR.QC, read them back and test every condition. */
static __attribute__((noinline)) uint32_t
flags_probe(uint32_t psr, uint32_t *conds)
{
    uint64_t nzcv, fpsr, old, c, t;

    asm volatile("mrs %[old], fpsr\n\t"
                 "msr fpsr, %[q]\n\t"
                 "msr nzcv, %[f]\n\t"
                 "mov %[c], #0\n\t"
                 COND_BIT(eq, 0) COND_BIT(ne, 1) COND_BIT(cs, 2)
                 COND_BIT(cc, 3) COND_BIT(mi, 4) COND_BIT(pl, 5)
                 COND_BIT(vs, 6) COND_BIT(vc, 7) COND_BIT(hi, 8)
                 COND_BIT(ls, 9) COND_BIT(ge, 10) COND_BIT(lt, 11)
                 COND_BIT(gt, 12) COND_BIT(le, 13) COND_BIT(al, 14)
                 COND_BIT(nv, 15)
                 "mrs %[n], nzcv\n\t"
                 "mrs %[fp], fpsr\n\t"
                 "msr fpsr, %[old]"
                 : [c] "=&r"(c), [t] "=&r"(t), [n] "=&r"(nzcv),
                   [fp] "=&r"(fpsr), [old] "=&r"(old)
                 : [f] "r"((uint64_t)(psr & 0xf0000000u)),
                   [q] "r"((uint64_t)(psr & 0x08000000u)), [one] "r"(1ul)
                 : "cc");
    *conds = c;
    return (uint32_t)nzcv | ((uint32_t)fpsr & 0x08000000u);
}

/* Write NZCV = @ge and pick bytes by V, C, Z and N as SEL does by GE. */
static __attribute__((noinline)) uint32_t
ge_probe(uint32_t ge)
{
    uint32_t r, t;

    asm volatile("msr nzcv, %[f]\n\t"
                 "csel %w[t], %w[a], %w[b], vs\n\t"
                 "and %w[r], %w[t], #0xff\n\t"
                 "csel %w[t], %w[a], %w[b], cs\n\t"
                 "and %w[t], %w[t], #0xff00\n\t"
                 "orr %w[r], %w[r], %w[t]\n\t"
                 "csel %w[t], %w[a], %w[b], eq\n\t"
                 "and %w[t], %w[t], #0xff0000\n\t"
                 "orr %w[r], %w[r], %w[t]\n\t"
                 "csel %w[t], %w[a], %w[b], mi\n\t"
                 "and %w[t], %w[t], #0xff000000\n\t"
                 "orr %w[r], %w[r], %w[t]"
                 : [r] "=&r"(r), [t] "=&r"(t)
                 : [f] "r"((uint64_t)ge << 28), [a] "r"(0x44332211u),
                   [b] "r"(0xddccbbaau)
                 : "cc");
    return r;
}
#else

/* Write NZCVQ, read them back and test every condition, in ARM state. */
static __attribute__((target("arm"), noinline)) uint32_t
flags_probe(uint32_t psr, uint32_t *conds)
{
    uint32_t out, c;

    asm volatile("msr APSR_nzcvq, %[psr]\n\t"
                 "mov %[c], #0\n\t"
                 "orreq %[c], %[c], #1\n\t"
                 "orrne %[c], %[c], #2\n\t"
                 "orrcs %[c], %[c], #4\n\t"
                 "orrcc %[c], %[c], #8\n\t"
                 "orrmi %[c], %[c], #16\n\t"
                 "orrpl %[c], %[c], #32\n\t"
                 "orrvs %[c], %[c], #64\n\t"
                 "orrvc %[c], %[c], #128\n\t"
                 "orrhi %[c], %[c], #256\n\t"
                 "orrls %[c], %[c], #512\n\t"
                 "orrge %[c], %[c], #1024\n\t"
                 "orrlt %[c], %[c], #2048\n\t"
                 "orrgt %[c], %[c], #4096\n\t"
                 "orrle %[c], %[c], #8192\n\t"
                 "mrs %[o], APSR"
                 : [c] "=&r"(c), [o] "=r"(out) : [psr] "r"(psr) : "cc");
    *conds = c;
    return out;
}

/* Write the GE bits and let SEL pick bytes by them. */
static __attribute__((target("arm"), noinline)) uint32_t
ge_probe(uint32_t ge)
{
    uint32_t r;

    asm volatile("msr APSR_g, %[g]\n\t"
                 "sel %[r], %[a], %[b]"
                 : [r] "=r"(r)
                 : [g] "r"(ge << 16), [a] "r"(0x44332211), [b] "r"(0xddccbbaa)
                 : "cc");
    return r;
}
#endif

static void t_flags(void)
{
    uint32_t v, out, conds, want, i, r;
    int cond;

    for (v = 0; v < 32; v++) {
        uint32_t psr = (v & 15) << 28 | (v >> 4) << 27;

        out = flags_probe(psr, &conds);
        for (cond = 0, want = 0; cond < NCONDS; cond++) {
            want |= cond_holds(cond, v & 15) << cond;
        }
        CHECK((out & 0xf8000000) == psr, "APSR %08x read back %08x", psr, out);
        CHECK(conds == want, "flags %x: conditions %04x, want %04x", v, conds,
              want);
        mix(out & 0xf8000000);
        mix(conds);
    }
    for (v = 0; v < 16; v++) {
        r = ge_probe(v);
        for (i = 0, want = 0; i < 4; i++) {
            want |= ((v >> i & 1 ? 0x44332211 : 0xddccbbaa) & 0xffu << 8 * i);
        }
        CHECK(r == want, "GE %x: sel %08x, want %08x", v, r, want);
        mix(r);
    }
    printf("suite: flags: ok\n");
}

/*
 * ---- chain: direct jumps from one page of code to another -------------
 *
 * QEMU links translated code only within a guest page; qemu-espt also
 * links user-mode jumps to other pages (docs/espt.md, invariant 13).  In
 * each part a caller page jumps with a direct `bl' to a callee page, and
 * what the callee page holds or allows changes while the caller page is
 * left alone: the linked jump must follow every change.
 */
static void emit_caller(uint32_t *c, uint32_t *callee)
{
    size_t n = 0;

    c[n++] = I_CALL_ENTER;
    c[n++] = I_BL(c + 1, callee);
    c[n++] = I_CALL_LEAVE;
#ifdef __aarch64__
    c[n++] = I_RET;
#endif
    flush(c, n * 4);
}

static void map_fixed_anon(void *at, int prot)
{
    CHECK(mmap(at, page, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
               -1, 0) == at, "mmap at %p: %s", at, strerror(errno));
}

/* Mutual recursion between two pages, returns and all. */
static volatile uint32_t rec_step = 3;
static uint32_t rec_b(uint32_t n);

__attribute__((noinline, aligned(4096)))
static uint32_t rec_a(uint32_t n)
{
    return n ? rec_b(n - 1) * rec_step + (n & 7) : 1;
}

__attribute__((noinline, aligned(4096)))
static uint32_t rec_b(uint32_t n)
{
    return n ? rec_a(n - 1) ^ (n * 2654435761u) : 2;
}

/* A computed-goto dispatch loop whose handlers call the pages above. */
__attribute__((noinline, aligned(4096)))
static uint32_t interp(const uint8_t *prog, uint32_t len, uint32_t rounds)
{
    static void *const op[] = { &&op_add, &&op_rec, &&op_mul, &&op_next };
    uint32_t acc = 7, pc = 0;

    goto *op[prog[pc]];
op_add:
    acc += prog[pc + 1];
    pc += 2;
    goto *op[prog[pc]];
op_rec:
    acc ^= rec_a(prog[pc + 1]);
    pc += 2;
    goto *op[prog[pc]];
op_mul:
    acc *= 2654435761u;
    pc += 1;
    goto *op[prog[pc]];
op_next:
    if (--rounds) {
        pc = 0;
        goto *op[prog[pc]];
    }
    (void)len;
    return acc;
}

struct chain_thread {
    uint32_t *caller;
    uint32_t bad;
};

static void *chain_thread(void *arg)
{
    struct chain_thread *t = arg;
    uint32_t i;

    for (i = 0; i < 8000; i++) {
        t->bad += ((fn0)t->caller)() != 1;
    }
    return NULL;
}

static void t_chain(void)
{
    /* Callers and callees 256 KiB apart, in a reservation of our own. */
    uint8_t *r = map_anon(1 << 20, PROT_NONE);
    uint32_t *caller = (uint32_t *)r;
    uint32_t *callee = (uint32_t *)(r + (256 << 10));
    uint32_t *jit = (uint32_t *)(r + (512 << 10));
    uint32_t *caller2 = caller + 64, *caller3 = caller + 128;
    static const uint8_t prog[] = { 0, 5, 1, 40, 2, 0, 9, 1, 300 & 0xff, 3 };
    int one = code_file("/tmp/suite-chain1", 1);
    int two = code_file("/tmp/suite-chain2", 2);
    struct chain_thread th[4];
    pthread_t tid[4];
    uint32_t i, k, v, sum = 0, bad;
    int sig, st;
    pid_t pid;

    map_fixed_anon(caller, PROT_READ | PROT_WRITE | PROT_EXEC);
    emit_caller(caller, callee);

    /* dlopen/dlclose: two libraries in turn at one address. */
    for (i = 0; i < 100; i++) {
        uint32_t want = 1 + i % 2;

        munmap(callee, page);
        map_code((uint8_t *)callee, want == 1 ? one : two);
        for (k = 0; k < 3; k++) {
            v = ((fn0)caller)();
            CHECK(v == want, "remap %u call %u: ran %u", i, k, v);
            sum += v;
        }
    }
    printf("suite: chain: remap 100 x 3 calls, sum %u\n", sum);

    /*
     * fork: the child replaces the callee page, the caller page stays
     * shared; both keep calling, taking turns on the CPU.
     */
    map_code((uint8_t *)callee, one);
    for (k = 0; k < 3; k++) {
        sum += ((fn0)caller)();
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        map_code((uint8_t *)callee, two);
        bad = 0;
        for (i = 0; i < 100; i++) {
            bad += ((fn0)caller)() != 2;
            sched_yield();
        }
        _exit(bad ? 1 : 0);
    }
    CHECK(pid > 0, "fork: %s", strerror(errno));
    bad = 0;
    for (i = 0; i < 100; i++) {
        bad += ((fn0)caller)() != 1;
        sched_yield();
    }
    CHECK(bad == 0, "parent ran the child's callee %u times", bad);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "child ran the parent's callee (status %#x)", st);
    printf("suite: chain: fork parent %s, child %s\n", bad ? "wrong" : "1",
           st == 0 ? "2" : "wrong");

    /* mprotect(PROT_NONE) of the callee: a fetch fault at the callee. */
    CHECK(mprotect(callee, page, PROT_NONE) == 0, "mprotect: %s",
          strerror(errno));
    sig = faults(exec_at, caller);
    report("prot_none call", sig, (uintptr_t)callee);
    CHECK(sig == SIGSEGV && fault_addr == (uintptr_t)callee,
          "call into PROT_NONE: sig %d at %#lx, callee %p", sig,
          (unsigned long)fault_addr, (void *)callee);
    CHECK(mprotect(callee, page, PROT_READ | PROT_EXEC) == 0, "mprotect");
    v = ((fn0)caller)();
    CHECK(v == 1, "after PROT_NONE: ran %u", v);
    sum += v;

    /* A JIT rewrites the callee page in place (RWX, no mprotect). */
    map_fixed_anon(jit, PROT_READ | PROT_WRITE | PROT_EXEC);
    emit_caller(caller2, jit);
    for (i = 0; i < 200; i++) {
        jit[0] = I_MOVW(0, i * 7);
        jit[1] = I_RET;
        flush(jit, 8);
        for (k = 0; k < 2; k++) {
            v = ((fn0)caller2)();
            CHECK(v == i * 7, "jit %u call %u: ran %u", i, k, v);
            sum += v;
        }
    }
    printf("suite: chain: jit 200 rewrites ok\n");

    /* Threads (on several vCPUs with -smp 4) share the linked jump. */
    emit_caller(caller3, callee);
    for (i = 0; i < 4; i++) {
        th[i].caller = caller3;
        th[i].bad = 0;
        CHECK(pthread_create(&tid[i], NULL, chain_thread, &th[i]) == 0,
              "pthread_create");
    }
    bad = 0;
    for (i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        bad += th[i].bad;
    }
    CHECK(bad == 0, "threads: %u wrong calls", bad);

    /* Deep recursion and a dispatch loop, across pages. */
    v = rec_a(20000);
    mix(v);
    printf("suite: chain: recursion %u\n", v);
    v = interp(prog, sizeof(prog), 2000);
    mix(v);
    printf("suite: chain: interp %u\n", v);

    munmap(r, 1 << 20);
    close(one);
    close(two);
    mix(sum);
    printf("suite: chain: sum %u\n", sum);
}

/*
 * A shadow fault storm puts the vCPU on softmmu TBs for a while
 * (docs/espt.md, invariant 5) in the middle of a CF_ESPT TB, which runs
 * on.  Its next direct exit that was never taken before leaves to the
 * main loop, which finds the next TB under the softmmu cflags: that link
 * must not be made, or once ESPT is back the CF_ESPT TB jumps straight
 * into a TB of the other kind (on 10.0 one with PC-relative code, which
 * a CF_ESPT TB's linked exit leaves with a stale PC).  The generated
 * loop reads one word of each page of @d (r2; A64: x2) until r3 == stop
 * (r1; A64: w3, w1), then returns the address of its last instruction
 * but one, PC-relative.
 * The storm goes cold at about the 64th fault of its window, so the loop
 * stops a little after that (60-75), before a timer tick ends the TB.
 */
#ifdef __aarch64__
#define I_LDR_SCRATCH_R2 0xb9400049u    /* ldr w9, [x2] */
#define I_CMP_R3_R1     0x6b01007fu     /* cmp w3, w1 */
#define I_CMP_R3_R0     0x6b00007fu     /* cmp w3, w0 */
#define I_ADD_R2_PAGE   0x91400442u     /* add x2, x2, #4096 */
#define I_ADR_R0        0x10000040u     /* adr x0, . + 8 */
#else
#define I_LDR_SCRATCH_R2 0xe592c000u    /* ldr ip, [r2] */
#define I_CMP_R3_R1     0xe1530001u     /* cmp r3, r1 */
#define I_CMP_R3_R0     0xe1530000u     /* cmp r3, r0 */
#define I_ADD_R2_PAGE   0xe2822a01u     /* add r2, r2, #4096 */
#define I_ADR_R0        0xe28f0000u     /* add r0, pc, #0 (. + 8) */
#endif
#define COLD_PAGES      512
#define COLD_ROUNDS     32

typedef uintptr_t (*fnp3)(uint32_t, uint32_t, uint32_t *);

static void emit_coldloop(uint32_t *c)
{
    c[0] = I_MOVW(3, 0);
    c[1] = I_LDR_SCRATCH_R2;            /* loop: */
    c[2] = I_CMP_R3_R1;
    c[3] = I_B(COND_EQ, 3, 8);          /* beq out */
    c[4] = I_ADD_R2_PAGE;
    c[5] = I_ADD_IMM(3, 3, 1);
    c[6] = I_CMP_R3_R0;
    c[7] = I_B(COND_NE, 7, 1);          /* bne loop */
    c[8] = I_ADR_R0;                    /* out: r0 = &c[10] */
    c[9] = I_RET;
    flush(c, 40);
}

/*
 * Take shadow faults on every page of @d, with more than 16 mapped pages
 * dropped in the same 4 ms window: that window starts with the fault on
 * @kick, after 5 ms without faults, and @small's pages are dropped then.
 */
static uintptr_t cold_storm(uint32_t *code, uint32_t stop, uint8_t *d,
                           uint8_t *small, uint8_t *kick)
{
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    /* volatile: the loads are the point, their values are not */
    volatile uint8_t *k = kick, *sm = small;
    uint32_t i;

    mprotect(d, COLD_PAGES * page, PROT_READ);
    mprotect(d, COLD_PAGES * page, PROT_READ | PROT_WRITE);
    mprotect(kick, page, PROT_READ);
    mprotect(kick, page, PROT_READ | PROT_WRITE);
    for (i = 0; i < 32; i++) {
        (void)sm[i * page];
    }
    nanosleep(&ts, NULL);
    (void)*k;
    mprotect(small, 32 * page, PROT_READ);
    mprotect(small, 32 * page, PROT_READ | PROT_WRITE);
    return ((fnp3)code)(COLD_PAGES, stop, (uint32_t *)d);
}

static void t_coldlink(void)
{
    uint8_t *d = map_anon(COLD_PAGES * page, PROT_READ | PROT_WRITE);
    uint8_t *kick = map_anon(page, PROT_READ | PROT_WRITE);
    uint8_t *small = map_anon(32 * page, PROT_READ | PROT_WRITE);
    struct timespec ts = { 0, 30 * 1000 * 1000 };
    uint32_t i, k, bad = 0;
    uintptr_t v, want;

    memset(d, 1, COLD_PAGES * page);
    memset(kick, 1, page);
    memset(small, 1, 32 * page);
    for (i = 0; i < COLD_ROUNDS; i++) {
        /* A fresh code page each round: TBs whose exits are all unlinked. */
        uint32_t *code = map_anon(page, PROT_READ | PROT_WRITE | PROT_EXEC);

        emit_coldloop(code);
        want = (uintptr_t)(code + 10);
        v = cold_storm(code, 60 + i % 16, d, small, kick);
        CHECK(v == want, "round %u storm: 0x%lx, want 0x%lx", i,
              (unsigned long)v, (unsigned long)want);
        bad += v != want;
        /* ESPT again (softmmu periods last 20 ms), then the same exit. */
        nanosleep(&ts, NULL);
        for (k = 0; k < 4; k++) {
            v = ((fnp3)code)(COLD_PAGES, 1 + k, (uint32_t *)d);
            CHECK(v == want, "round %u call %u: 0x%lx, want 0x%lx", i, k,
                  (unsigned long)v, (unsigned long)want);
            bad += v != want;
        }
        munmap(code, page);
    }
    munmap(d, COLD_PAGES * page);
    munmap(kick, page);
    munmap(small, 32 * page);
    printf("suite: coldlink: %u rounds, %u wrong\n", i, bad);
}

#ifdef __aarch64__
/*
 * ---- tbi: tagged pointers (top-byte ignore, on for EL0 data) ---------
 *
 * Every tag must reach the same byte as the untagged pointer, loads and
 * stores alike, and a fault through a tagged pointer is reported at the
 * untagged address (the kernel clears the tag in si_addr).
 */
static volatile void *tagged(volatile void *p, unsigned tag)
{
    return (volatile void *)((uintptr_t)p | (uintptr_t)(tag & 0xff) << 56);
}

static void t_tbi(void)
{
    uint32_t *b = map_anon(2 * page, PROT_READ | PROT_WRITE);
    uint32_t i, sum = 0, n = 2 * page / 4;
    int s;

    catch_faults();
    for (i = 0; i < n; i += 7) {
        unsigned tag = i * 37;
        volatile uint32_t *t = tagged(&b[i], tag);
        uint32_t v = i * 2654435761u;

        *t = v;
        CHECK(b[i] == v, "tag %02x: a tagged store not seen untagged",
              tag & 0xff);
        b[i] ^= 0x5a5a5a5a;
        CHECK(*(volatile uint32_t *)tagged(&b[i], tag + 1) ==
              (v ^ 0x5a5a5a5a), "tag %02x: a tagged load missed a store",
              (tag + 1) & 0xff);
        sum += *t;
    }
    mix(sum);
    CHECK(mprotect(b + page / 4, page, PROT_READ) == 0, "mprotect");
    s = faults(wr8, tagged(b + page / 4 + 3, 0xa7));
    report("tagged store to read-only", s, (uintptr_t)b);
    CHECK(munmap(b + page / 4, page) == 0, "munmap");
    s = faults(rd8, tagged(b + page / 4 + 5, 0x3c));
    report("tagged load from unmapped", s, (uintptr_t)b);
    munmap(b, page);
    printf("suite: tbi: %u words, sum %u\n", (n + 6) / 7, sum);
}
#endif

/*
 * ---- kern: what the kernel's own accesses do ---------------------------
 *
 * With espt-kernel=on the guest kernel's loads and stores go through the
 * host MMU too (docs/espt.md, "The guest kernel"); user space makes the
 * kernel touch memory in every way it can, and checks what it did:
 * copies through pipes, files and splice from and to every kind of page,
 * process_vm_readv/writev and /proc/PID/mem across processes, a copy
 * that runs into an unmapped page, mprotect while a read blocks, futexes
 * between threads, and signals delivered into a tight loop.
 */

/* The kinds of user page the kernel copies from and to. */
enum { K_ANON, K_FILE, K_STACK, K_BIG, K_KINDS };

static char *kern_buf(int kind, char *stackbuf, int *fd)
{
    char *p;

    *fd = -1;
    switch (kind) {
    case K_ANON:
        return map_anon(2 * page, PROT_READ | PROT_WRITE);
    case K_FILE:
        *fd = open("/tmp/suite-kern", O_RDWR | O_CREAT | O_TRUNC, 0600);
        CHECK(*fd >= 0 && ftruncate(*fd, 2 * page) == 0, "file");
        p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
        CHECK(p != MAP_FAILED, "mmap file");
        return p;
    case K_STACK:
        return stackbuf;
    default:
        /* Far into a big mapping: likely highmem on a 32-bit kernel. */
        p = map_anon(64 * page, PROT_READ | PROT_WRITE);
        memset(p, 1, 64 * page);
        return p + 60 * page;
    }
}

static void kern_copies(void)
{
    static char stackspace[4 * 65536] __attribute__((aligned(65536)));
    char *src, *dst;
    int k, j, pfd[2], sfd, dfd;
    size_t len = page + page / 2, bad = 0;
    ssize_t n;

    for (k = 0; k < K_KINDS; k++) {
        for (j = 0; j < K_KINDS; j++) {
            src = kern_buf(k, stackspace, &sfd);
            dst = kern_buf(j, stackspace + 2 * 65536, &dfd);
            fill_range(src, 0, len, 0x51 + k * 7 + j);
            memset(dst, 0, len);
            CHECK(pipe(pfd) == 0, "pipe");
            /* write() copies from user, read() to user */
            n = write(pfd[1], src + 3, len - 8);
            CHECK(n == (ssize_t)(len - 8), "write %zd", n);
            n = read(pfd[0], dst + 3, len - 8);
            CHECK(n == (ssize_t)(len - 8), "read %zd", n);
            bad += memcmp(src + 3, dst + 3, len - 8) != 0;
            /* vmsplice() and splice(): pages into a pipe and out */
            {
                struct iovec iov = { src, len };

                memset(dst, 0, len);
                n = vmsplice(pfd[1], &iov, 1, 0);
                CHECK(n == (ssize_t)len, "vmsplice %zd", n);
                n = read(pfd[0], dst, len);
                CHECK(n == (ssize_t)len, "read spliced %zd", n);
                bad += memcmp(src, dst, len) != 0;
            }
            mix(bad_range(dst, 0, len & ~3, 0x51 + k * 7 + j));
            close(pfd[0]);
            close(pfd[1]);
            if (sfd >= 0) {
                close(sfd);
            }
            if (dfd >= 0) {
                close(dfd);
            }
        }
    }
    unlink("/tmp/suite-kern");
    printf("suite: kern: copies between %d kinds of page: %zu bad\n",
           K_KINDS, bad);
    CHECK(bad == 0, "%zu copies differ", bad);
}

/* process_vm_readv/writev and /proc/PID/mem on a child's pages. */
static void kern_other_process(void)
{
    char *b = map_anon(4 * page, PROT_READ | PROT_WRITE);
    char tmp[256], path[64];
    int go[2], done[2], fd;
    struct iovec l, r;
    pid_t pid;
    ssize_t n;

    fill_range(b, 0, 4 * page, 0x77);
    CHECK(pipe(go) == 0 && pipe(done) == 0, "pipes");
    pid = fork();
    if (pid == 0) {
        char c;

        /* The child's copy: changed, then read by the parent. */
        fill_range(b, page, 2 * page, 0x78);
        CHECK(write(done[1], "r", 1) == 1, "ready");
        CHECK(read(go[0], &c, 1) == 1, "go");
        _exit(bad_range(b, 2 * page, 3 * page, 0x79) == 0 &&
              memcmp(b + 3 * page, "proc mem", 8) == 0 ? 0 : 1);
    }
    CHECK(read(done[0], tmp, 1) == 1, "child ready");
    l.iov_base = tmp;
    l.iov_len = sizeof(tmp);
    r.iov_base = b + page + 100;
    r.iov_len = sizeof(tmp);
    n = process_vm_readv(pid, &l, 1, &r, 1, 0);
    CHECK(n == sizeof(tmp), "process_vm_readv %zd: %s", n, strerror(errno));
    fill_range(b, 0, 4 * page, 0x78);   /* what the child has there */
    CHECK(memcmp(tmp, b + page + 100, sizeof(tmp)) == 0,
          "process_vm_readv read other data");
    fill_range(b, 2 * page, 3 * page, 0x79);
    l.iov_base = b + 2 * page;
    l.iov_len = page;
    r.iov_base = b + 2 * page;
    r.iov_len = page;
    n = process_vm_writev(pid, &l, 1, &r, 1, 0);
    CHECK(n == (ssize_t)page, "process_vm_writev %zd", n);
    snprintf(path, sizeof(path), "/proc/%d/mem", pid);
    fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, "proc mem", 8, (uintptr_t)b + 3 * page) == 8,
          "pwrite %s: %s", path, strerror(errno));
    CHECK(pread(fd, tmp, 16, (uintptr_t)b + page) == 16 &&
          memcmp(tmp, b + page, 16) == 0, "pread %s", path);
    close(fd);
    CHECK(write(go[1], "g", 1) == 1, "go");
    {
        int st;

        CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
              WEXITSTATUS(st) == 0, "child saw other data (%#x)", st);
    }
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
    munmap(b, 4 * page);
    printf("suite: kern: process_vm and /proc/PID/mem ok\n");
}

/* A copy from user that runs into an unmapped page, both ways. */
static void kern_partial(void)
{
    char *b = map_anon(3 * page, PROT_READ | PROT_WRITE);
    char *out = map_anon(3 * page, PROT_READ | PROT_WRITE);
    int pfd[2], fd;
    ssize_t w, r;

    fill_range(b, 0, 2 * page, 0x3a);
    CHECK(munmap(b + page, 2 * page) == 0, "munmap");
    CHECK(pipe(pfd) == 0, "pipe");
    w = write(pfd[1], b + page - 100, 200);
    printf("suite: kern: write across into unmapped: %zd (%s)\n", w,
           w < 0 ? strerror(errno) : "partial");
    r = w > 0 ? read(pfd[0], out, w) : 0;
    CHECK(r == w || w < 0, "read back %zd of %zd", r, w);
    mix(w);
    /* copy_to_user into a buffer whose second page is gone */
    fd = open("/tmp/suite-kern2", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, b, page) == (ssize_t)page, "file");
    CHECK(munmap(out + page, page) == 0, "munmap out");
    r = pread(fd, out + page - 64, 256, 0);
    printf("suite: kern: read across into unmapped: %zd (%s)\n", r,
           r < 0 ? strerror(errno) : "partial");
    mix(r);
    CHECK(r <= 0 || memcmp(out + page - 64, b, r) == 0, "partial read data");
    close(fd);
    unlink("/tmp/suite-kern2");
    close(pfd[0]);
    close(pfd[1]);
}

static int kern_rfd;
static char *kern_rbuf;
static volatile ssize_t kern_rret;
static volatile int kern_rerr;

static void *kern_reader(void *arg)
{
    (void)arg;
    kern_rret = read(kern_rfd, kern_rbuf, 64);
    kern_rerr = errno;
    return NULL;
}

/* mprotect() of the buffer while a read() into it blocks. */
static void kern_mprotect_read(void)
{
    pthread_t th;
    int pfd[2];

    kern_rbuf = map_anon(page, PROT_READ | PROT_WRITE);
    kern_rbuf[0] = 1;
    CHECK(pipe(pfd) == 0, "pipe");
    kern_rfd = pfd[0];
    CHECK(pthread_create(&th, NULL, kern_reader, NULL) == 0, "thread");
    usleep(20000);              /* the reader blocks in read() */
    CHECK(mprotect(kern_rbuf, page, PROT_READ) == 0, "mprotect");
    CHECK(write(pfd[1], "while protected", 15) == 15, "write");
    pthread_join(th, NULL);
    printf("suite: kern: read into a page made read-only: %zd (%s)\n",
           (ssize_t)kern_rret, kern_rret < 0 ? strerror(kern_rerr) : "ok");
    mix(kern_rret);
    CHECK(kern_rret < 0 && kern_rerr == EFAULT, "read gave %zd",
          (ssize_t)kern_rret);
    close(pfd[0]);
    close(pfd[1]);
    munmap(kern_rbuf, page);
}

static int kern_fword;
static volatile int kern_turns;

static void *kern_pong(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < 2000; i++) {
        while (__atomic_load_n(&kern_fword, __ATOMIC_ACQUIRE) != 1) {
            futex(&kern_fword, FUTEX_WAIT, 0);
        }
        kern_turns++;
        __atomic_store_n(&kern_fword, 0, __ATOMIC_RELEASE);
        futex(&kern_fword, FUTEX_WAKE, 1);
    }
    return NULL;
}

/* Two threads hand a futex word back and forth. */
static void kern_futex(void)
{
    pthread_t th;
    int i;

    CHECK(pthread_create(&th, NULL, kern_pong, NULL) == 0, "thread");
    for (i = 0; i < 2000; i++) {
        while (__atomic_load_n(&kern_fword, __ATOMIC_ACQUIRE) != 0) {
            futex(&kern_fword, FUTEX_WAIT, 1);
        }
        kern_turns++;
        __atomic_store_n(&kern_fword, 1, __ATOMIC_RELEASE);
        futex(&kern_fword, FUTEX_WAKE, 1);
    }
    pthread_join(th, NULL);
    printf("suite: kern: futex turns %d\n", kern_turns);
    mix(kern_turns);
    CHECK(kern_turns == 4000, "turns %d", kern_turns);
}

static volatile uint32_t kern_sigs, kern_loop[64];

static void kern_on_usr1(int sig)
{
    (void)sig;
    kern_sigs++;
    kern_loop[kern_sigs & 63] += kern_sigs;
}

/* Signals delivered into a tight loop that stores to memory. */
static void kern_signals(void)
{
    struct sigaction sa;
    pid_t me = getpid(), pid;
    uint32_t i;
    int st;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = kern_on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pid = fork();
    if (pid == 0) {
        for (i = 0; i < 300; i++) {
            kill(me, SIGUSR1);
            usleep(200);
        }
        kill(me, SIGUSR2);
        _exit(0);
    }
    signal(SIGUSR2, SIG_IGN);
    {
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (i = 0; ; i++) {
            kern_loop[i & 63] += i;
            if ((i & 0xfff) == 0 && sigpending(&set) == 0 &&
                sigismember(&set, SIGUSR2)) {
                break;
            }
        }
    }
    waitpid(pid, &st, 0);
    /* How many arrive varies (they do not queue): only that some did. */
    printf("suite: kern: signals delivered into a loop: %s\n",
           kern_sigs > 0 && kern_sigs <= 300 ? "some" : "none");
    CHECK(kern_sigs > 0 && kern_sigs <= 300, "signals %u", kern_sigs);
}

static void t_kern(void)
{
    kern_copies();
    kern_other_process();
    kern_partial();
    kern_mprotect_read();
    kern_futex();
    kern_signals();
}

/* ---- driver ----------------------------------------------------------- */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    { "churn", t_churn }, { "cow", t_cow }, { "asids", t_asids },
    { "threads", t_threads }, { "smc", t_smc }, { "jit", t_jit },
    { "signals", t_signals }, { "unaligned", t_unaligned },
    { "huge", t_huge }, { "highmem", t_highmem }, { "devmem", t_devmem },
    { "procmem", t_procmem }, { "flags", t_flags },
    { "codealias", t_codealias }, { "chain", t_chain },
    { "coldlink", t_coldlink }, { "kern", t_kern },
#ifdef __aarch64__
    { "tbi", t_tbi },
#endif
};

static int run(int i)
{
    int status;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        static char prefix[64];

        cur = tests[i].name;
        snprintf(prefix, sizeof(prefix), "suite: %s", cur);
        check_prefix = prefix;
        catch_faults();
        tests[i].fn();
        printf("suite: %s: digest %08x %s\n", cur, digest,
               failures ? "FAIL" : "ok");
        fflush(stdout);
        _exit(failures ? 1 : 0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        printf("suite: %s: FAIL cannot run\n", tests[i].name);
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("suite: %s: FAIL status %#x\n", tests[i].name, status);
        return 1;
    }
    return 0;
}

/*
 * Whether MGLRU runs: its look-around clears young bits without a TLB
 * flush, which shadow-mapped pages would never set again (docs/espt.md,
 * invariant 12).  -1: the kernel has no MGLRU.
 */
static void lru_gen_info(void)
{
    FILE *f = fopen("/sys/kernel/mm/lru_gen/enabled", "r");
    unsigned v = 0;
    int on = -1;

    if (f) {
        on = fscanf(f, "%x", &v) == 1 ? (v != 0) : -1;
        fclose(f);
    }
    printf("info: mm: lru_gen_enabled=%d\n", on);
}

int main(int argc, char **argv)
{
    int i, j, bad = 0, n = sizeof(tests) / sizeof(tests[0]);

    setvbuf(stdout, NULL, _IOLBF, 0);
    page = sysconf(_SC_PAGESIZE);
    lru_gen_info();
    if (argc < 2) {
        for (i = 0; i < n; i++) {
            bad += run(i);
        }
    }
    for (j = 1; j < argc; j++) {
        for (i = 0; i < n && strcmp(argv[j], tests[i].name); i++) {
        }
        if (i == n) {
            printf("suite: no such subtest: %s\n", argv[j]);
            bad++;
            continue;
        }
        bad += run(i);
    }
    printf("suite: %d failed\n", bad);
    return bad ? 1 : 0;
}
