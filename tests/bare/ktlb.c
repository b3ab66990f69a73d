/*
 * Bare-metal test of the TLB invalidations a kernel's own global
 * mappings rely on, for the virt machine.
 *
 * A Linux guest never shows whether a full TLB invalidation (TLBIALL) of
 * a changed kernel mapping is honoured: Linux invalidates such changes
 * page by page.  This program can.  At PL1 it maps global sections and
 * small pages, reads them until ESPT's kernel table (espt-kernel=on)
 * serves them, then changes a descriptor, or moves TTBR0 to another
 * first-level table, or points a first-level entry at another second-
 * level table, issues TLBIALL alone, and checks that the next read finds
 * the new page.  It also issues TLBIALL with nothing changed, which the
 * kernel table may survive.  The same for code: a global small page
 * whose function is called until the kernel table's jump cache serves
 * the calls, then moved to another physical page holding another
 * function (invariant 19).  It prints one line per check and a summary,
 * then powers the machine off through PSCI.
 *
 * With a mode word of 1 at KTLB_MODE_PA (-device loader,addr=...,data=1,
 * data-len=4) it instead warms the calls up, prints "KTLB-LOOP ready f"
 * and the function's address, and calls it at PL1 forever, IRQs masked,
 * with a spin loop between calls, for a debugger to attach to and stop
 * at the function (tests/test_debug.py, kernel/brk-gdb-running).
 *
 * With a mode word of 2 it checks the guarded kernel TBs instead
 * (kernel/guard-bare): one copy routine copies from global sections of
 * the identity map, then from a non-global small page far from them
 * (which the kernel table never holds, as the uaccess routines' user
 * pages), then from sections next to them it never read before,
 * checking every word.  Under espt-kernel=on the
 * non-global page makes the routine's TBs retranslate; guarded, their
 * reads of the fresh sections still go through the kernel table, which
 * then maps them (its counters show it), while the non-global page's
 * go through softmmu.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bare.h"

/* Physical pages behind the test mappings (RAM starts at 0x40000000). */
#define SEC_A_PA        0x40400000u     /* two 1 MiB sections */
#define SEC_B_PA        0x40500000u
#define PAGE_PA(n)      (0x40600000u + (n) * 4096)  /* small pages */
/* Their virtual addresses. */
#define SEC_VA          0x10000000u     /* a section */
#define PAGE_VA         0x20000000u     /* small pages */
#define TABLE_VA        0x30000000u     /* under one of two L2 tables */
#define CODE_VA         (PAGE_VA + 8 * 4096)    /* PAGE_PA(4) or (5) */
#define CODE_L2         8

#define ROUNDS          8

/* Where the host's loader device may put a mode word (not in the image). */
#define KTLB_MODE_PA    0x40800000u
#define MODE_LOOP       1
#define MODE_GUARD      2

/* The guard mode's pages: a non-global one, fresh sections, a buffer. */
#define NG_VA           0x70000000u     /* l2b's second-level table */
#define NG_L2           16              /* PAGE_PA(6), nG */
#define FRESH_VA        0x41000000u     /* FRESH_SECTIONS sections */
#define FRESH_PA        0x40900000u
#define FRESH_SECTIONS  4
#define BUF_PA          0x40d00000u     /* identity-mapped RAM */
#define COPY_WORDS      64

static uint32_t l1a[4096] __attribute__((aligned(16384)));
static uint32_t l1b[4096] __attribute__((aligned(16384)));
static uint32_t l2a[256] __attribute__((aligned(1024)));
static uint32_t l2b[256] __attribute__((aligned(1024)));
static uint32_t l2c[256] __attribute__((aligned(1024)));

uint32_t pabt_resume;
static volatile uint32_t f_count;       /* the abort handler counts */
static int passed, failed;

void record_fault(uint32_t fsr, uint32_t far, uint32_t kind)
{
    (void)fsr;
    (void)far;
    (void)kind;
    f_count++;
}

uint32_t svc_handler(uint32_t op, uint32_t arg)
{
    (void)op;
    (void)arg;
    return 0;
}

void finish(void)
{
    report_and_power_off("KTLB-TEST", passed, failed);
}

static void check(const char *name, int round, uint32_t got, uint32_t want)
{
    int ok = got == want && !f_count;

    puts_(name);
    puts_(" ");
    putdec(round);
    puts_(": value ");
    puthex(got);
    puts_(" faults ");
    putdec(f_count);
    puts_(ok ? " PASS\n" : " FAIL\n");
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    f_count = 0;
}

/* Normal write-back memory, global, domain 0, RW at PL1 only. */
static uint32_t section(uint32_t pa)
{
    return (pa & 0xfff00000) | 2 | 3 << 2 | 1 << 10;
}

static uint32_t small_page(uint32_t pa)
{
    return (pa & 0xfffff000) | 2 | 3 << 2 | 1 << 4;
}

static void tlbiall(void)
{
    asm volatile("dsb\n\t"
                 "mcr p15, 0, %0, c8, c7, 0\n\t"      /* TLBIALL */
                 "dsb\n\tisb" : : "r"(0) : "memory");
}

static void set_ttbr0(uint32_t *l1)
{
    asm volatile("mcr p15, 0, %0, c2, c0, 0\n\tisb"
                 : : "r"((uint32_t)l1) : "memory");
}

static void icache_flush(void)
{
    asm volatile("dsb\n\t"
                 "mcr p15, 0, %0, c7, c5, 0\n\t"    /* ICIALLU */
                 "dsb\n\tisb" : : "r"(0) : "memory");
}

/* At @pa, a function returning @value (A32: mov r0, #value; bx lr). */
static void write_function(uint32_t pa, uint32_t value)
{
    write32(pa, 0xe3a00000 | (value & 0xff));
    write32(pa + 4, 0xe12fff1e);
}

/*
 * Many calls of the function at CODE_VA from the same code, so that
 * the calls and returns run through chained or inline-looked-up jumps:
 * @want if every call returned it, else what the last returned.
 */
static uint32_t calls(uint32_t want)
{
    uint32_t (*fn)(void) = (uint32_t (*)(void))CODE_VA;
    uint32_t i, same = 0, got = 0;

    for (i = 0; i < 64; i++) {
        got = fn();
        same += got == want;
    }
    return same == 64 ? want : got;
}

/*
 * Many reads of @va by the same code, so that it runs translated, with
 * its accesses through the kernel table, before a change is made: the
 * sum of the words read, each expected to be @want.
 */
static uint32_t reads(uint32_t va, uint32_t want)
{
    uint32_t i, same = 0;

    for (i = 0; i < 64; i++) {
        same += read32(va + (i & 7) * 4) == want;
    }
    return same == 64 ? want : read32(va);
}

static void setup_mmu(void)
{
    uint32_t i, sctlr;

    /* RAM holding this program: identity; the UART. */
    for (i = 0x400; i < 0x410; i++) {
        l1a[i] = section(i << 20);
    }
    l1a[0x090] = (0x09000000 & 0xfff00000) | 2 | 1 << 4 | 1 << 10 | 1 << 2;
    l1a[SEC_VA >> 20] = section(SEC_A_PA);
    l1a[PAGE_VA >> 20] = (uint32_t)l2a | 1;
    l1a[TABLE_VA >> 20] = (uint32_t)l2b | 1;
    l2a[CODE_L2] = small_page(PAGE_PA(4));
    for (i = 0; i < 4; i++) {
        l2a[i] = small_page(PAGE_PA(i));
        l2b[i] = small_page(PAGE_PA(8 + i));
        l2c[i] = small_page(PAGE_PA(12 + i));
    }
    /* The second first-level table: the same but for the section. */
    for (i = 0; i < 4096; i++) {
        l1b[i] = l1a[i];
    }
    l1b[SEC_VA >> 20] = section(SEC_B_PA);

    asm volatile(
        "mcr p15, 0, %0, c2, c0, 2\n\t"         /* TTBCR: short, TTBR0 only */
        "mcr p15, 0, %1, c2, c0, 0\n\t"         /* TTBR0 */
        "mcr p15, 0, %2, c13, c0, 1\n\t"        /* CONTEXTIDR: ASID 1 */
        "mcr p15, 0, %0, c8, c7, 0\n\t"         /* TLBIALL */
        "dsb\n\tisb"
        : : "r"(0), "r"((uint32_t)l1a), "r"(1) : "memory");
    asm volatile("mcr p15, 0, %0, c3, c0, 0\n\tisb" : : "r"(1) : "memory");
    asm volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
    sctlr |= 1 | 1 << 2 | 1 << 12;              /* M, C, I */
    sctlr &= ~(1u << 1 | 1u << 13 | 1u << 28 | 1u << 29);  /* A, V, TRE, AFE */
    asm volatile("mcr p15, 0, %0, c1, c0, 0\n\tisb" : : "r"(sctlr) : "memory");
}

/*
 * The guard mode's copy routine, one loop whose loads and stores stay
 * in one TB; returns the sum of the words copied.
 */
static uint32_t __attribute__((noinline))
copy(uint32_t dst, uint32_t src, uint32_t n)
{
    /* volatile: each word is loaded and stored, no libc-like copy. */
    volatile uint32_t *d = (volatile uint32_t *)dst; /* see above */
    const volatile uint32_t *s = (const volatile uint32_t *)src; /* as d */
    uint32_t i, sum = 0;

    for (i = 0; i < n; i++) {
        d[i] = s[i];
        sum += d[i];
    }
    return sum;
}

/* The sum of COPY_WORDS words from @pa + 4 * i holding @base + i. */
static uint32_t fill(uint32_t pa, uint32_t base)
{
    uint32_t i;

    for (i = 0; i < COPY_WORDS; i++) {
        write32(pa + i * 4, base + i);
    }
    return COPY_WORDS * base + COPY_WORDS * (COPY_WORDS - 1) / 2;
}

/* The guard mode: see the header. */
static void guard(void)
{
    uint32_t r, k, want_sec, want_ng, want_fresh[FRESH_SECTIONS];

    want_sec = fill(SEC_A_PA + 0x100, 0x5000);
    want_ng = fill(PAGE_PA(6), 0x6000);
    for (k = 0; k < FRESH_SECTIONS; k++) {
        want_fresh[k] = fill(FRESH_PA + (k << 20), 0x7000 + (k << 8));
        l1a[(FRESH_VA >> 20) + k] = section(FRESH_PA + (k << 20));
    }
    l2b[NG_L2] = small_page(PAGE_PA(6)) | 1 << 11;      /* nG */
    l1a[NG_VA >> 20] = (uint32_t)l2b | 1;
    tlbiall();
    puts_("KTLB-TEST start\n");
    for (r = 0; r < ROUNDS; r++) {
        check("global section", r,
              copy(BUF_PA, SEC_A_PA + 0x100, COPY_WORDS), want_sec);
        check("non-global page", r,
              copy(BUF_PA, NG_VA + NG_L2 * 4096, COPY_WORDS), want_ng);
    }
    for (k = 0; k < FRESH_SECTIONS; k++) {
        check("fresh section", k,
              copy(BUF_PA, FRESH_VA + (k << 20), COPY_WORDS), want_fresh[k]);
        check("non-global again", k,
              copy(BUF_PA, NG_VA + NG_L2 * 4096, COPY_WORDS), want_ng);
    }
    finish();
}

/* Warm up, say so, then call the function forever: see the header. */
static void __attribute__((noreturn)) loop(void)
{
    uint32_t (*fn)(void) = (uint32_t (*)(void))CODE_VA;
    uint32_t i;

    calls(0x1c);
    calls(0x1c);
    puts_("KTLB-LOOP ready f ");
    puthex(CODE_VA);
    puts_("\n");
    for (;;) {
        for (i = 0; i < 1000; i++) {
            asm volatile("" : : : "memory");
        }
        fn();
    }
}

int main(void)
{
    uint32_t i, r;
    uint32_t mode = read32(KTLB_MODE_PA);

    write32(SEC_A_PA, 0xa);
    write32(SEC_B_PA, 0xb);
    for (i = 0; i < 16; i++) {
        write32(PAGE_PA(i), 0x100 + i);
    }
    write_function(PAGE_PA(4), 0x1c);
    write_function(PAGE_PA(5), 0x2c);
    icache_flush();
    setup_mmu();
    if (mode == MODE_LOOP) {
        loop();
    }
    if (mode == MODE_GUARD) {
        guard();
    }
    puts_("KTLB-TEST start\n");
    for (r = 0; r < ROUNDS; r++) {
        /* Nothing changed: the same pages after TLBIALL. */
        reads(SEC_VA, 0xa);
        reads(PAGE_VA, 0x100);
        tlbiall();
        check("unchanged section", r, reads(SEC_VA, 0xa), 0xa);
        check("unchanged page", r, reads(PAGE_VA, 0x100), 0x100);

        /* A section descriptor changed, then TLBIALL. */
        l1a[SEC_VA >> 20] = section(SEC_B_PA);
        tlbiall();
        check("section moved", r, reads(SEC_VA, 0xb), 0xb);
        l1a[SEC_VA >> 20] = section(SEC_A_PA);
        tlbiall();
        check("section back", r, reads(SEC_VA, 0xa), 0xa);

        /* A small page's descriptor changed, then TLBIALL. */
        l2a[0] = small_page(PAGE_PA(1));
        tlbiall();
        check("page moved", r, reads(PAGE_VA, 0x101), 0x101);
        l2a[0] = small_page(PAGE_PA(0));
        tlbiall();
        check("page back", r, reads(PAGE_VA, 0x100), 0x100);

        /* Another first-level table (a process switch), then TLBIALL. */
        set_ttbr0(l1b);
        tlbiall();
        check("other L1 table", r, reads(SEC_VA, 0xb), 0xb);
        set_ttbr0(l1a);
        tlbiall();
        check("first L1 table", r, reads(SEC_VA, 0xa), 0xa);

        /* A first-level entry to another second-level table. */
        reads(TABLE_VA, 0x108);
        l1a[TABLE_VA >> 20] = (uint32_t)l2c | 1;
        tlbiall();
        check("other L2 table", r, reads(TABLE_VA, 0x10c), 0x10c);
        l1a[TABLE_VA >> 20] = (uint32_t)l2b | 1;
        tlbiall();
        check("first L2 table", r, reads(TABLE_VA, 0x108), 0x108);

        /* Code: nothing changed, then its page moved, then back. */
        calls(0x1c);
        tlbiall();
        check("unchanged code", r, calls(0x1c), 0x1c);
        l2a[CODE_L2] = small_page(PAGE_PA(5));
        tlbiall();
        check("code moved", r, calls(0x2c), 0x2c);
        l2a[CODE_L2] = small_page(PAGE_PA(4));
        tlbiall();
        check("code back", r, calls(0x1c), 0x1c);
    }
    finish();
    return 0;
}
