/*
 * Bare-metal test of hardware breakpoints (DBGBVR/DBGBCR) on user code
 * that ESPT chains, for the virt machine.
 *
 * Under ESPT a user TB's direct jump to another guest page goes through
 * a link slot, and an indirect branch or return looks the next TB up
 * inline (docs/espt.md, invariant 13).  Upstream QEMU finds breakpoints
 * only where it looks a TB up (helper_lookup_tb_ptr(), cpu_exec()), so a
 * breakpoint armed after the jump was linked must still stop it there.
 * User code on page A calls f on page B 100 times, then an SVC arms
 * breakpoint 0 at f (or at a return site on page A) for PL0 only, and
 * user code makes the same call again: it must take a prefetch abort
 * with a debug-event IFSR at that address.  The abort handler records
 * the hit, disarms the breakpoint and retries the instruction, as a
 * debugger would.  The paths: a direct `bl` (chained), `blx rN` (inline
 * lookup), the return of `bx lr` and of `pop {pc}` (inline lookups),
 * each after a warm-up; a call never made before (the control: no link
 * yet); re-armed on every call; and calls running normally once
 * disarmed.  It prints one line per check and a summary, then powers
 * the machine off through PSCI.
 *
 * With a mode word at BRK_MODE_PA (-device loader,addr=...,data=1 or 2,
 * data-len=4) it instead prints "BRK-LOOP ready" after a warm-up and
 * calls f from page A forever, for a debugger to attach to
 * (tests/test_debug.py): mode 1 with IRQs masked and a spin loop of a
 * thousand TBs between calls, so that whatever stops the vCPU is
 * unlikely to stop it at f's TB; mode 2 with the virtual timer
 * interrupting at 1 kHz and f called back to back, as a Linux guest's
 * tick would.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bare.h"

#define GICD            0x08000000u
#define GICC            0x08010000u
#define TIMER_IRQ       27              /* virtual timer, PPI 11 */

/* Where the host's loader device may put a mode word (not in the image). */
#define BRK_MODE_PA     0x40800000u
enum { MODE_TEST, MODE_LOOP, MODE_LOOP_TIMER };

/* BCR: enabled, PMC = 0b10 (PL0 only), BAS = 0b1111, BT = 0 (address match) */
#define BCR_USER        (1u | 2u << 1 | 0xfu << 5)
/* IFSR.FS of a debug event (short descriptors) */
#define FS_DEBUG        0x02

enum { OP_ARM, OP_DISARM, OP_EXIT };

/* tests/bare/brk.c's user code, on pages A and B (see the asm below). */
uint32_t brk_call_bl(uint32_t n);
uint32_t brk_call_blx(uint32_t n);
uint32_t brk_call_pop(uint32_t n);
uint32_t brk_call_cold(uint32_t n);
void brk_loop(uint32_t spin) __attribute__((noreturn));
extern char brk_page_a[], brk_page_b[];
extern char brk_f[], brk_g[], brk_cold[];
extern char brk_ret_bl[], brk_ret_blx[], brk_ret_pop[];
extern char brk_vectors[];
void brk_enter_user(void (*fn)(void), uint32_t spsr);
void brk_pabt(uint32_t ifsr, uint32_t ifar, uint32_t addr);
void brk_irq(void);

static uint32_t l1[4096] __attribute__((aligned(16384)));
static uint8_t irq_stack[1024] __attribute__((aligned(8)));

uint32_t pabt_resume;                   /* bare.h wants it; unused here */
/* Breakpoint hits, as the prefetch abort handler saw them. */
static volatile uint32_t hits, hit_fsr, hit_far, hit_addr;
static volatile uint32_t ticks;
static int passed, failed;

/* ------------------------------------------------------------------ */

static void set_bp0(uint32_t bvr, uint32_t bcr)
{
    asm volatile("mcr p14, 0, %0, c0, c0, 4\n\t"        /* DBGBVR0 */
                 "mcr p14, 0, %1, c0, c0, 5\n\t"        /* DBGBCR0 */
                 "isb"
                 : : "r"(bvr), "r"(bcr) : "memory");
}

/*
 * A prefetch abort: a breakpoint hit is recorded and the breakpoint
 * disarmed, so that the retried instruction runs.  Anything else cannot
 * be retried: end the test.
 */
void brk_pabt(uint32_t ifsr, uint32_t ifar, uint32_t addr)
{
    uint32_t fs = (ifsr & 0xf) | ((ifsr >> 6) & 0x10);

    hits++;
    hit_fsr = fs;
    hit_far = ifar;
    hit_addr = addr;
    set_bp0(0, 0);
    if (fs != FS_DEBUG) {
        puts_("BRK-TEST unexpected prefetch abort: ifsr ");
        puthex(ifsr);
        puts_(" at ");
        puthex(addr);
        puts_("\n");
        failed++;
        finish();
    }
}

/* Anything but a prefetch abort, SVC or IRQ: report it and stop. */
void record_fault(uint32_t fsr, uint32_t far, uint32_t kind)
{
    puts_("BRK-TEST unexpected exception ");
    putdec(kind);
    puts_(": fsr ");
    puthex(fsr);
    puts_(" far/lr ");
    puthex(far);
    puts_("\n");
    failed++;
    finish();
}

/* The virtual timer's interrupt: the next tick in 1 ms. */
void brk_irq(void)
{
    uint32_t iar = read32(GICC + 0x0c), frq;

    if ((iar & 0x3ff) == TIMER_IRQ) {
        asm volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(frq));
        asm volatile("mcr p15, 0, %0, c14, c3, 0\n\tisb"   /* CNTV_TVAL */
                     : : "r"(frq / 1000) : "memory");
        ticks++;
    }
    if ((iar & 0x3ff) < 1020) {
        write32(GICC + 0x10, iar);                          /* EOIR */
    }
}

uint32_t svc_handler(uint32_t op, uint32_t arg)
{
    if (op == OP_ARM) {
        set_bp0(arg, BCR_USER);
    } else if (op == OP_DISARM) {
        set_bp0(0, 0);
    } else if (op == OP_EXIT) {
        finish();
    }
    return 0;
}

/* ------------------------------------------------------------------ */

/*
 * Check one round: the calls returned @sum (want @want_sum), and the
 * breakpoint was hit @want_hits times, the last time at @want_addr with
 * a debug-event IFSR.
 */
static void check(const char *name, uint32_t sum, uint32_t want_sum,
                  uint32_t want_hits, const char *want_addr)
{
    int ok = sum == want_sum && hits == want_hits &&
             (want_hits == 0 || (hit_fsr == FS_DEBUG &&
                                 hit_addr == (uint32_t)want_addr));

    puts_("  ");
    puts_(name);
    puts_(": sum ");
    putdec(sum);
    puts_(" hits ");
    putdec(hits);
    puts_(" fs ");
    puthex(hits ? hit_fsr : 0);
    puts_(" at ");
    puthex(hits ? hit_addr : 0);
    puts_(ok ? " PASS\n" : " FAIL\n");
    if (ok) {
        passed++;
    } else {
        failed++;
    }
    hits = hit_fsr = hit_far = hit_addr = 0;
}

/* Arm breakpoint 0 at @addr, make @n calls through @call, disarm. */
static uint32_t armed(const char *addr, uint32_t (*call)(uint32_t), uint32_t n)
{
    uint32_t sum;

    svc(OP_ARM, (uint32_t)addr);
    sum = call(n);
    svc(OP_DISARM, 0);
    return sum;
}

/*
 * Call through @call 100 times one call at a time, then 100 calls at once:
 * every jump the calls make, from the function's first TB and from its
 * loop, has been made before (so it is linked, or its target cached).
 */
static uint32_t warm(uint32_t (*call)(uint32_t))
{
    uint32_t i, sum = 0;

    for (i = 0; i < 100; i++) {
        sum += call(1);
    }
    return sum + call(100);
}

static void user_main(void)
{
    uint32_t i, sum;

    puts_("BRK-TEST f ");
    puthex((uint32_t)brk_f);
    puts_(" page A ");
    puthex((uint32_t)brk_page_a);
    puts_(" page B ");
    puthex((uint32_t)brk_page_b);
    puts_("\n");

    /* The control: a call never made before, so nothing linked yet. */
    check("cold bl", armed(brk_cold, brk_call_cold, 1), 7, 1, brk_cold);

    /*
     * Each after a warm-up of its own path.  A direct call, linked;
     * the handler disarms at the first hit.
     */
    check("warm-up bl", warm(brk_call_bl), 600, 0, 0);
    check("bl f", armed(brk_f, brk_call_bl, 100), 300, 1, brk_f);
    /* An indirect call, looked up inline. */
    check("warm-up blx", warm(brk_call_blx), 600, 0, 0);
    check("blx f", armed(brk_f, brk_call_blx, 100), 300, 1, brk_f);
    /* Returns to page A, looked up inline. */
    warm(brk_call_bl);
    check("bx lr return site", armed(brk_ret_bl, brk_call_bl, 100), 300, 1,
          brk_ret_bl);
    warm(brk_call_blx);
    check("blx return site", armed(brk_ret_blx, brk_call_blx, 100), 300, 1,
          brk_ret_blx);
    check("warm-up pop pc", warm(brk_call_pop), 1000, 0, 0);
    check("pop pc return site", armed(brk_ret_pop, brk_call_pop, 100), 500, 1,
          brk_ret_pop);

    /* Armed for every call: every call stops. */
    warm(brk_call_bl);
    for (i = 0, sum = 0; i < 100; i++) {
        sum += armed(brk_f, brk_call_bl, 1);
    }
    check("bl f re-armed 100 times", sum, 300, 100, brk_f);
    warm(brk_call_blx);
    for (i = 0, sum = 0; i < 100; i++) {
        sum += armed(brk_ret_blx, brk_call_blx, 1);
    }
    check("blx return site re-armed 100 times", sum, 300, 100, brk_ret_blx);

    /* Disarmed: the calls run as before, without a stop. */
    sum = warm(brk_call_bl) + warm(brk_call_blx) + warm(brk_call_pop);
    check("disarmed", sum, 600 + 600 + 1000, 0, 0);
    svc(OP_EXIT, 0);
}

/* Warm up, say so, then call f forever: see the header. */
static void user_loop(void)
{
    uint32_t mode = read32(BRK_MODE_PA);

    warm(brk_call_bl);
    warm(brk_call_blx);
    puts_("BRK-LOOP ready f ");
    puthex((uint32_t)brk_f);
    puts_(mode == MODE_LOOP_TIMER ? " timer\n" : " quiet\n");
    brk_loop(mode == MODE_LOOP_TIMER ? 1 : 1000);
}

void finish(void)
{
    report_and_power_off("BRK-TEST", passed, failed);
}

/* ------------------------------------------------------------------ */

/* Section: normal write-back memory, or device memory with XN. */
static uint32_t section(uint32_t pa, uint32_t ap, int device)
{
    uint32_t d = (pa & 0xfff00000) | 2 | (ap & 3) << 10 | (ap >> 2) << 15;

    return d | (device ? (1 << 2) | (1 << 4) : (3 << 2));
}

static void setup_mmu(void)
{
    uint32_t i, sctlr;

    /* RAM holding this program and the mode word: RW for everyone. */
    for (i = 0x400; i < 0x410; i++) {
        l1[i] = section(i << 20, 3, 0);
    }
    l1[0x090] = section(0x09000000, 3, 1);      /* UART, for user mode too */
    l1[0x080] = section(0x08000000, 1, 1);      /* GIC, kernel only */
    asm volatile(
        "mcr p15, 0, %0, c2, c0, 2\n\t"         /* TTBCR: short, TTBR0 only */
        "mcr p15, 0, %1, c2, c0, 0\n\t"         /* TTBR0 */
        "mcr p15, 0, %2, c13, c0, 1\n\t"        /* CONTEXTIDR: ASID 1 */
        "mcr p15, 0, %3, c3, c0, 0\n\t"         /* DACR: domain 0 client */
        "mcr p15, 0, %0, c8, c7, 0\n\t"         /* TLBIALL */
        "dsb\n\tisb"
        : : "r"(0), "r"((uint32_t)l1), "r"(1), "r"(1) : "memory");
    asm volatile("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
    sctlr |= 1 | 1 << 2 | 1 << 12;              /* M, C, I */
    sctlr &= ~(1u << 1 | 1u << 13 | 1u << 28 | 1u << 29);  /* A, V, TRE, AFE */
    asm volatile("mcr p15, 0, %0, c1, c0, 0\n\tisb" : : "r"(sctlr) : "memory");
}

/*
 * Monitor debug mode: the OS lock open (any value but the key) and
 * DBGDSCRext.MDBGen set, breakpoint 0 disabled.
 */
static void setup_debug(void)
{
    uint32_t dscr;

    asm volatile("mcr p14, 0, %0, c1, c0, 4\n\tisb"    /* DBGOSLAR */
                 : : "r"(0) : "memory");
    asm volatile("mrc p14, 0, %0, c0, c2, 2" : "=r"(dscr));  /* DBGDSCRext */
    dscr |= 1u << 15;                                        /* MDBGen */
    asm volatile("mcr p14, 0, %0, c0, c2, 2\n\tisb" : : "r"(dscr) : "memory");
    set_bp0(0, 0);
}

/* The GIC's distributor and CPU interface, and the virtual timer. */
static void setup_timer(void)
{
    uint32_t frq;

    write32(GICD + 0x000, 1);                           /* GICD_CTLR */
    write32(GICD + 0x100, 1u << TIMER_IRQ);             /* ISENABLER0 */
    write32(GICC + 0x004, 0xff);                        /* GICC_PMR */
    write32(GICC + 0x000, 1);                           /* GICC_CTLR */
    asm volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(frq));
    asm volatile("mcr p15, 0, %0, c14, c3, 0\n\t"       /* CNTV_TVAL */
                 "mcr p15, 0, %1, c14, c3, 1\n\tisb"    /* CNTV_CTL: on */
                 : : "r"(frq / 1000), "r"(1) : "memory");
}

int main(void)
{
    uint32_t mode = read32(BRK_MODE_PA);

    asm volatile("mcr p15, 0, %0, c12, c0, 0\n\tisb"    /* VBAR */
                 : : "r"(brk_vectors) : "memory");
    asm volatile("cps #0x12\n\t"                        /* IRQ mode's stack */
                 "mov sp, %0\n\t"
                 "cps #0x13"
                 : : "r"(irq_stack + sizeof(irq_stack)) : "memory");
    setup_mmu();
    setup_debug();
    if (mode == MODE_LOOP || mode == MODE_LOOP_TIMER) {
        if (mode == MODE_LOOP_TIMER) {
            setup_timer();
        }
        /* User mode; IRQs unmasked for the timer (0x50), else 0xd0. */
        brk_enter_user(user_loop, mode == MODE_LOOP_TIMER ? 0x50 : 0xd0);
    }
    puts_("BRK-TEST start\n");
    brk_enter_user(user_main, 0xd0);
    return 0;
}

/*
 * The vectors, and user code on two pages of its own: page A holds the
 * callers (and the return sites), page B what they call.
 */
asm(
"   .section .text.brk, \"ax\"\n"
"   .arm\n"
"   .align  5\n"
"   .global brk_vectors\n"
"brk_vectors:\n"
"   b       .\n"
"   b       brk_und_entry\n"
"   b       brk_svc_entry\n"
"   b       brk_pabt_entry\n"
"   b       brk_dabt_entry\n"
"   b       .\n"
"   b       brk_irq_entry\n"
"   b       .\n"
"brk_und_entry:\n"
"   mov     r0, #0\n"
"   sub     r1, lr, #4\n"
"   mov     r2, #3\n"
"   bl      record_fault\n"
"brk_dabt_entry:\n"
"   mrc     p15, 0, r0, c5, c0, 0\n"
"   mrc     p15, 0, r1, c6, c0, 0\n"
"   mov     r2, #1\n"
"   bl      record_fault\n"
/* SVC from user mode: r0 = svc_handler(r0, r1). */
"brk_svc_entry:\n"
"   push    {r1-r3, r12, lr}\n"
"   bl      svc_handler\n"
"   pop     {r1-r3, r12, lr}\n"
"   movs    pc, lr\n"
/* Prefetch abort: brk_pabt(IFSR, IFAR, address), then retry it. */
"brk_pabt_entry:\n"
"   sub     lr, lr, #4\n"
"   push    {r0-r3, r12, lr}\n"
"   mrc     p15, 0, r0, c5, c0, 1\n"
"   mrc     p15, 0, r1, c6, c0, 2\n"
"   mov     r2, lr\n"
"   bl      brk_pabt\n"
"   pop     {r0-r3, r12, lr}\n"
"   movs    pc, lr\n"
"brk_irq_entry:\n"
"   sub     lr, lr, #4\n"
"   push    {r0-r3, r12, lr}\n"
"   bl      brk_irq\n"
"   pop     {r0-r3, r12, lr}\n"
"   movs    pc, lr\n"
/* void brk_enter_user(void (*fn)(void), uint32_t spsr) */
"   .global brk_enter_user\n"
"brk_enter_user:\n"
"   mov     lr, r0\n"
"   msr     spsr_cxsf, r1\n"
"   movs    pc, lr\n"
"   .ltorg\n"
"\n"
"   .balign 4096\n"
"   .global brk_page_a\n"
"brk_page_a:\n"
/* uint32_t brk_call_bl(uint32_t n): n direct calls of brk_f, their sum */
"   .global brk_call_bl\n"
"brk_call_bl:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: bl      brk_f\n"
"   .global brk_ret_bl\n"
"brk_ret_bl:\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
/* uint32_t brk_call_blx(uint32_t n): the same through blx r6 */
"   .global brk_call_blx\n"
"brk_call_blx:\n"
"   push    {r4, r5, r6, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"   ldr     r6, =brk_f\n"
"1: blx     r6\n"
"   .global brk_ret_blx\n"
"brk_ret_blx:\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, r6, pc}\n"
/* uint32_t brk_call_pop(uint32_t n): n calls of brk_g, which pops pc */
"   .global brk_call_pop\n"
"brk_call_pop:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: bl      brk_g\n"
"   .global brk_ret_pop\n"
"brk_ret_pop:\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
/* uint32_t brk_call_cold(uint32_t n): n calls of brk_cold */
"   .global brk_call_cold\n"
"brk_call_cold:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: bl      brk_cold\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
/*
 * void brk_loop(uint32_t spin): forever spin (a TB per iteration), then
 * call brk_f directly.
 */
"   .global brk_loop\n"
"brk_loop:\n"
"   mov     r4, r0\n"
"2: mov     r1, r4\n"
"3: subs    r1, r1, #1\n"
"   bne     3b\n"
"   bl      brk_f\n"
"   b       2b\n"
"   .ltorg\n"
"\n"
"   .balign 4096\n"
"   .global brk_page_b\n"
"brk_page_b:\n"
"   .global brk_f\n"
"brk_f:\n"
"   mov     r0, #3\n"
"   bx      lr\n"
"   .global brk_g\n"
"brk_g:\n"
"   push    {r4, lr}\n"
"   mov     r0, #5\n"
"   pop     {r4, pc}\n"
"   .global brk_cold\n"
"brk_cold:\n"
"   mov     r0, #7\n"
"   bx      lr\n"
"   .balign 4096\n"
"   .text\n"
);
