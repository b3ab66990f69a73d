/*
 * Bare-metal test of ARMv7 domains (DACR) for the virt machine.
 *
 * Linux only ever moves the user domain between client and no access, so
 * a Linux guest cannot show whether a DACR write keeps a TLB entry it
 * must not keep.  This program can: it maps memory and code in three
 * domains, as sections and as small pages, writes DACR from the kernel
 * (supervisor mode) and, through SVC, on behalf of user mode, and checks
 * each access and instruction fetch against the architecture: domain
 * faults for no access, permission faults for a client, none for a
 * manager.  User mode also reads every 4 KiB of a 1 MiB section and of a
 * 64 KiB page.  It prints one line per check and a summary, then powers
 * the machine off through PSCI.
 *
 * Under ESPT the user-mode accesses run through the shadow tables, and
 * the kernel-mode ones through the softmmu TLBs that DACR writes flush
 * only in part.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bare.h"


/* Physical pages behind the test mappings (RAM starts at 0x40000000). */
#define DATA_PA         0x40400000u
#define CODE_PA         0x40500000u
#define PAGES_PA        0x40600000u
/* Their virtual addresses. */
#define DATA_VA         0x10000000u     /* domain 1 section, RW everywhere */
#define DATA_RO_VA      0x10100000u     /* its alias, read-only everywhere */
#define DATA_URO_VA     0x10200000u     /* its alias, read-only for user */
#define CODE_VA         0x20000000u     /* domain 1 section, code */
#define PAGES_VA        0x30000000u     /* domain 2, 4 KiB pages */
#define NPAGES          16
#define LARGE_VA        (PAGES_VA + 0x10000)    /* then one 64 KiB page */
#define REMAP_VA        (PAGES_VA + 0x20000)    /* a code page, remapped */
#define REMAP_PA(n)     (PAGES_PA + 0x20000 + (n) * 4096)
#define REMAP_IDX       32
#define MANY_VA         (PAGES_VA + 0x40000)    /* more small pages */
#define MANY_PA         (PAGES_PA + 0x40000)
#define MANY_IDX        64
#define NMANY           40

/* DACR fields */
#define NOACC   0u
#define CLIENT  1u
#define MANAGER 3u
#define DACR(d0, d1, d2)        ((d0) | (d1) << 2 | (d2) << 4)

/* Short-descriptor fault status codes (FS[4:0]) */
#define FS_NONE         0x00
#define FS_DOMAIN_SEC   0x09
#define FS_DOMAIN_PAGE  0x0b
#define FS_PERM_SEC     0x0d
#define FS_PERM_PAGE    0x0f

enum { NONE, DABT, PABT, UND };
enum { OP_DACR, OP_EXIT };

static uint32_t l1[4096] __attribute__((aligned(16384)));
static uint32_t l2[256] __attribute__((aligned(1024)));

uint32_t pabt_resume;
/* The last fault, as the abort handlers saw it: see check(). */
static volatile uint32_t f_kind, f_fsr, f_far, f_count;    /* handlers */
static int passed, failed;

/* ------------------------------------------------------------------ */

void record_fault(uint32_t fsr, uint32_t far, uint32_t kind)
{
    f_kind = kind;
    f_fsr = fsr;
    f_far = far;
    f_count++;
}

static void set_dacr(uint32_t v)
{
    asm volatile("mcr p15, 0, %0, c3, c0, 0\n\tisb" : : "r"(v) : "memory");
}

uint32_t svc_handler(uint32_t op, uint32_t arg)
{
    if (op == OP_DACR) {
        set_dacr(arg);
    } else if (op == OP_EXIT) {
        finish();
    }
    return 0;
}

/* One load or store: a data abort skips it, leaving 0xbad in place. */
static uint32_t try_read(uint32_t va)
{
    uint32_t v = 0xbad;

    asm volatile("ldr %0, [%1]" : "+r"(v) : "r"(va) : "memory");
    return v;
}

static void try_write(uint32_t va, uint32_t v)
{
    asm volatile("str %0, [%1]" : : "r"(v), "r"(va) : "memory");
}

static void clear_fault(void)
{
    f_kind = NONE;
    f_fsr = 0;
    f_far = 0;
}

static uint32_t fault_fs(void)
{
    return (f_fsr & 0xf) | ((f_fsr >> 6) & 0x10);
}

/*
 * Check the last access: its value, and the fault it took (@kind, with
 * status @fs at address @far) or none.
 */
static void check(const char *name, uint32_t got, uint32_t want,
                  uint32_t kind, uint32_t fs, uint32_t far)
{
    int ok = got == want && f_kind == kind &&
             (kind == NONE || (fault_fs() == fs && f_far == far));

    puts_(name);
    puts_(": value ");
    puthex(got);
    puts_(" fault ");
    putdec(f_kind);
    puts_(" fs ");
    puthex(f_kind == NONE ? 0 : fault_fs());
    puts_(" far ");
    puthex(f_kind == NONE ? 0 : f_far);
    puts_(ok ? " PASS\n" : " FAIL\n");
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    clear_fault();
}

/* ------------------------------------------------------------------ */

/* Section: normal write-back memory, or device memory with XN. */
static uint32_t section(uint32_t pa, int domain, uint32_t ap, int device)
{
    uint32_t d = (pa & 0xfff00000) | 2 | domain << 5 |
                 (ap & 3) << 10 | (ap >> 2) << 15;

    return d | (device ? (1 << 2) | (1 << 4) : (3 << 2));
}

static void setup_mmu(void)
{
    uint32_t i, sctlr;

    /* RAM holding this program: identity, domain 0, RW for everyone. */
    for (i = 0x400; i < 0x410; i++) {
        l1[i] = section(i << 20, 0, 3, 0);
    }
    l1[0x090] = section(0x09000000, 0, 3, 1);        /* UART */
    l1[DATA_VA >> 20] = section(DATA_PA, 1, 3, 0);
    l1[DATA_RO_VA >> 20] = section(DATA_PA, 1, 6, 0);
    l1[DATA_URO_VA >> 20] = section(DATA_PA, 1, 2, 0);
    l1[CODE_VA >> 20] = section(CODE_PA, 1, 3, 0);
    /* A page table in domain 2: small pages, RW for everyone. */
    l1[PAGES_VA >> 20] = (uint32_t)l2 | 1 | 2 << 5;
    for (i = 0; i < NPAGES; i++) {
        l2[i] = (PAGES_PA + i * 4096) | 2 | 3 << 2 | 3 << 4;
        /* A 64 KiB page takes 16 identical entries. */
        l2[16 + i] = (PAGES_PA + 0x10000) | 1 | 3 << 2 | 3 << 4;
    }
    for (i = 0; i < NMANY; i++) {
        l2[MANY_IDX + i] = (MANY_PA + i * 4096) | 2 | 3 << 2 | 3 << 4;
    }

    asm volatile(
        "mcr p15, 0, %0, c2, c0, 2\n\t"         /* TTBCR: short, TTBR0 only */
        "mcr p15, 0, %1, c2, c0, 0\n\t"         /* TTBR0 */
        "mcr p15, 0, %2, c13, c0, 1\n\t"        /* CONTEXTIDR: ASID 1 */
        "mcr p15, 0, %0, c8, c7, 0\n\t"         /* TLBIALL */
        "dsb\n\tisb"
        : : "r"(0), "r"((uint32_t)l1), "r"(1) : "memory");
    set_dacr(DACR(CLIENT, CLIENT, CLIENT));
    asm volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
    sctlr |= 1 | 1 << 2 | 1 << 12;              /* M, C, I */
    sctlr &= ~(1u << 1 | 1u << 13 | 1u << 28 | 1u << 29);  /* A, V, TRE, AFE */
    asm volatile("mcr p15, 0, %0, c1, c0, 0\n\tisb" : : "r"(sctlr) : "memory");
}

/*
 * Under -M virt,secure=on this runs in Secure state (the Secure banks of
 * SCTLR, DACR, TTBR0...).  Turn the Non-secure bank's MMU on too, with
 * DACR_NS all manager: an emulator that read the Non-secure banks for
 * Secure EL0 would see an MMU-on, all-access user mode and miss every
 * change of DACR_S.  The banks are reached from Monitor mode with SCR.NS
 * set.  Returns whether it ran in Secure state.
 */
static int setup_nonsecure_bank(void)
{
    uint32_t pfr1;

    asm volatile("mrc p15, 0, %0, c0, c1, 1" : "=r"(pfr1));
    if (!(pfr1 & 0xf0)) {
        return 0;               /* no Security Extensions: Non-secure */
    }
    asm volatile(
        "mrs r3, cpsr\n\t"
        "cps #0x16\n\t"                          /* Monitor mode */
        "mrc p15, 0, r2, c1, c1, 0\n\t"          /* SCR */
        "orr r1, r2, #1\n\t"
        "mcr p15, 0, r1, c1, c1, 0\n\tisb\n\t"   /* SCR.NS: NS banks */
        "mrc p15, 0, r1, c1, c0, 0\n\t"
        "orr r1, r1, #1\n\t"
        "mcr p15, 0, r1, c1, c0, 0\n\t"          /* SCTLR_NS.M */
        "mvn r1, #0\n\t"
        "mcr p15, 0, r1, c3, c0, 0\n\t"          /* DACR_NS: all manager */
        "mcr p15, 0, r2, c1, c1, 0\n\tisb\n\t"   /* SCR.NS clear again */
        "msr cpsr_c, r3\n\tisb"
        : : : "r1", "r2", "r3", "memory");
    return 1;
}

/* Put "mov r0, #42; bx lr" at CODE_VA, through its physical alias. */
static void setup_code(void)
{
    write32(CODE_PA, 0xe3a0002a);
    write32(CODE_PA + 4, 0xe12fff1e);
    asm volatile(
        "mcr p15, 0, %0, c7, c11, 1\n\t"        /* DCCMVAU */
        "dsb\n\t"
        "mcr p15, 0, %1, c7, c5, 0\n\t"         /* ICIALLU */
        "dsb\n\tisb"
        : : "r"(CODE_PA), "r"(0) : "memory");
}

#define CODE_FN ((uint32_t (*)(void))CODE_VA)

/* ------------------------------------------------------------------ */

/*
 * Kernel code whose page is remapped to other code, with only a TLBIMVA
 * to say so: the TB cached for its PC must go.  Flushes of pages without
 * code in between (the kmap pattern) may keep the cached TBs.
 */
static void remap_checks(void)
{
    uint32_t (*fn)(void) = (uint32_t (*)(void))REMAP_VA;
    uint32_t i, sum = 0;

    puts_("kernel code remap:\n");
    for (i = 0; i < 2; i++) {
        write32(REMAP_PA(i), 0xe3a00007 + i);   /* mov r0, #7 (#8) */
        write32(REMAP_PA(i) + 4, 0xe12fff1e);   /* bx lr */
        asm volatile("mcr p15, 0, %0, c7, c11, 1\n\tdsb"
                     : : "r"(REMAP_PA(i)) : "memory");
    }
    asm volatile("mcr p15, 0, %0, c7, c5, 0\n\tdsb\n\tisb"
                 : : "r"(0) : "memory");
    for (i = 0; i < 20; i++) {
        l2[REMAP_IDX] = REMAP_PA(i & 1) | 2 | 3 << 2 | 3 << 4;
        asm volatile("dsb\n\t"
                     "mcr p15, 0, %0, c8, c7, 1\n\t"   /* TLBIMVA */
                     "mcr p15, 0, %1, c8, c7, 1\n\t"   /* and a data page */
                     "dsb\n\tisb"
                     : : "r"(REMAP_VA), "r"(PAGES_VA) : "memory");
        sum += fn() == 7 + (i & 1);
        sum += fn() == 7 + (i & 1);
    }
    check("  remapped code runs", sum, 40, NONE, 0, 0);
}

/*
 * The same checks from kernel and user mode; @dacr writes DACR directly
 * (kernel) or through SVC (user).
 */
static void domain_checks(const char *who, void (*dacr)(uint32_t))
{
    uint32_t i, sum, first;

    /*
     * Each check uses a TLB entry and then writes DACR and uses it again,
     * with no output in between: the entry is still there to be kept
     * wrongly.
     */
    puts_(who);
    puts_(":\n");
    /* A client gets the section's permissions; no access faults. */
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    first = try_read(DATA_VA);
    dacr(DACR(CLIENT, NOACC, CLIENT));
    check("  no-access read", try_read(DATA_VA), 0xbad, DABT, FS_DOMAIN_SEC,
          DATA_VA);
    check("  client read before", first, 0x11111111, NONE, 0, 0);
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    check("  client again", try_read(DATA_VA + 4), 0x22222222, NONE, 0, 0);

    /* Client: a read-only mapping refuses a write. */
    try_write(DATA_RO_VA + 8, 0x33333333);
    check("  client write to RO", try_read(DATA_VA + 8), 0, DABT,
          FS_PERM_SEC, DATA_RO_VA + 8);
    /* Manager: no permission checks; the write goes through. */
    dacr(DACR(CLIENT, MANAGER, CLIENT));
    try_write(DATA_RO_VA + 8, 0x44444444);
    first = try_read(DATA_VA + 8);
    /* Manager to client takes that away again. */
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    try_write(DATA_RO_VA + 8, 0x55555555);
    check("  client write to RO again", try_read(DATA_VA + 8), 0x44444444,
          DABT, FS_PERM_SEC, DATA_RO_VA + 8);
    check("  manager write to RO before", first, 0x44444444, NONE, 0, 0);
    try_write(DATA_VA + 8, 0);

    /* Instruction fetches follow the domain too. */
    first = try_call(CODE_FN);
    dacr(DACR(CLIENT, NOACC, CLIENT));
    check("  no-access call", try_call(CODE_FN), 0xdead, PABT, FS_DOMAIN_SEC,
          CODE_VA);
    check("  client call before", first, 42, NONE, 0, 0);
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    check("  client call again", try_call(CODE_FN), 42, NONE, 0, 0);

    /* Small pages take their domain from the first-level entry. */
    for (i = 0, sum = 0; i < NPAGES; i++) {
        sum += try_read(PAGES_VA + i * 4096);
    }
    /* Losing domain 2 faults there, not in domain 1. */
    dacr(DACR(CLIENT, CLIENT, NOACC));
    first = try_read(DATA_VA);
    check("  no-access page read", try_read(PAGES_VA + 4096), 0xbad, DABT,
          FS_DOMAIN_PAGE, PAGES_VA + 4096);
    check("  pages read before", sum, NPAGES * (NPAGES + 1) / 2, NONE, 0, 0);
    check("  other domain read", first, 0x11111111, NONE, 0, 0);
    dacr(DACR(CLIENT, CLIENT, MANAGER));
    check("  manager page read", try_read(PAGES_VA + 2 * 4096), 3, NONE, 0, 0);
    dacr(DACR(CLIENT, CLIENT, CLIENT));

    /*
     * More small pages of one domain than a TLB may be tracked by page
     * for: every one of them must fault once the domain goes.
     */
    for (i = 0, sum = 0; i < NMANY; i++) {
        sum += try_read(MANY_VA + i * 4096) == 0x200 + i;
    }
    dacr(DACR(CLIENT, CLIENT, NOACC));
    for (i = 0, first = 0; i < NMANY; i++) {
        try_read(MANY_VA + i * 4096);
        first += f_kind == DABT && fault_fs() == FS_DOMAIN_PAGE &&
                 f_far == MANY_VA + i * 4096;
        clear_fault();
    }
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    check("  many pages read before", sum, NMANY, NONE, 0, 0);
    check("  many no-access page reads", first, NMANY, NONE, 0, 0);

    /*
     * Many round trips: the entries of the domain that stays a client are
     * used between the writes, the other one faults every time.
     */
    for (i = 0, sum = 0; i < 200; i++) {
        dacr(DACR(CLIENT, CLIENT, i & 1 ? NOACC : CLIENT));
        sum += try_read(DATA_VA) == 0x11111111;
        sum += try_read(PAGES_VA + (i % NPAGES) * 4096) == (i % NPAGES) + 1;
        sum += f_kind == DABT;
        clear_fault();
    }
    dacr(DACR(CLIENT, CLIENT, CLIENT));
    check("  round trips", sum, 400, NONE, 0, 0);
}

static void kernel_dacr(uint32_t v)
{
    set_dacr(v);
}

static void user_dacr(uint32_t v)
{
    svc(OP_DACR, v);
}

/*
 * Every 4 KiB of a section and of a 64 KiB page, after touching one of
 * them: under ESPT the first fault maps the whole large page at once.
 * Writes through one alias of the section are read back through another.
 */
static void large_checks(void)
{
    uint32_t i, sum;

    puts_("large pages:\n");
    for (i = 0, sum = 0; i < 256; i++) {
        sum += try_read(DATA_VA + i * 4096 + 16) == 0x1000 + i;
    }
    check("  section pages", sum, 256, NONE, 0, 0);
    for (i = 0; i < 256; i++) {
        try_write(DATA_VA + i * 4096 + 20, i * 3);
    }
    for (i = 0, sum = 0; i < 256; i++) {
        sum += try_read(DATA_RO_VA + i * 4096 + 20) == i * 3;
    }
    check("  section aliases", sum, 256, NONE, 0, 0);
    for (i = 0, sum = 0; i < NPAGES; i++) {
        sum += try_read(LARGE_VA + i * 4096) == 0x100 + i;
    }
    check("  64 KiB page", sum, NPAGES, NONE, 0, 0);
}

/* User mode, as far as the user-readable-only alias goes. */
static void user_main(void)
{
    large_checks();
    domain_checks("user", user_dacr);

    /* PL0 read-only alias: reads pass, writes fault, managers write. */
    puts_("user only:\n");
    check("  read URO", try_read(DATA_URO_VA + 4), 0x22222222, NONE, 0, 0);
    try_write(DATA_URO_VA + 12, 0x66666666);
    check("  write URO", try_read(DATA_VA + 12), 0, DABT, FS_PERM_SEC,
          DATA_URO_VA + 12);
    svc(OP_DACR, DACR(CLIENT, MANAGER, CLIENT));
    try_write(DATA_URO_VA + 12, 0x77777777);
    check("  manager write URO", try_read(DATA_VA + 12), 0x77777777,
          NONE, 0, 0);
    svc(OP_DACR, DACR(CLIENT, CLIENT, CLIENT));
    try_write(DATA_URO_VA + 12, 0x88888888);
    check("  client write URO again", try_read(DATA_VA + 12), 0x77777777,
          DABT, FS_PERM_SEC, DATA_URO_VA + 12);
    svc(OP_EXIT, 0);
}

void finish(void)
{
    report_and_power_off("DACR-TEST", passed, failed);
}

int main(void)
{
    uint32_t i;

    write32(DATA_PA, 0x11111111);
    write32(DATA_PA + 4, 0x22222222);
    for (i = 0; i < NPAGES; i++) {
        write32(PAGES_PA + i * 4096, i + 1);
        write32(PAGES_PA + 0x10000 + i * 4096, 0x100 + i);
    }
    for (i = 0; i < NMANY; i++) {
        write32(MANY_PA + i * 4096, 0x200 + i);
    }
    for (i = 1; i < 256; i++) {
        write32(DATA_PA + i * 4096 + 16, 0x1000 + i);
    }
    write32(DATA_PA + 16, 0x1000);
    setup_mmu();
    setup_code();
    puts_("DACR-TEST start\n");
    if (setup_nonsecure_bank()) {
        puts_("DACR-TEST secure state, non-secure MMU on\n");
    }
    domain_checks("kernel", kernel_dacr);
    remap_checks();
    enter_user(user_main);
    return 0;
}
