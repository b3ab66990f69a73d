/*
 * ASID rollover with 8-bit ASIDs (TCR_EL1.AS = 0), which no Linux guest
 * on QEMU's CPU models uses (they all offer 16 bits, and Linux takes
 * them): 300 EL0 "processes", each with its own translation tables and
 * one private page at the same virtual address, run in turn for three
 * rounds.  ASIDs are handed out like Linux's allocator with 255 of them:
 * a process keeps its ASID within a generation, and when they run out
 * TLBI VMALLE1IS starts a new generation.  TTBR0 bits 63:56, ignored
 * with 8-bit ASIDs, hold junk.  Each run increments the private counter
 * through the plain and a tagged (TBI) pointer; EL1 checks every result
 * and every page.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "bare64.h"

#define NPROC   300
#define ROUNDS  3
#define PAGE    4096
#define USER_VA 0x80000000ull

static uint64_t l1[NPROC][512] __attribute__((aligned(PAGE)));
static uint64_t l2[NPROC][512] __attribute__((aligned(PAGE)));
static uint64_t l3[NPROC][512] __attribute__((aligned(PAGE)));
static uint32_t data[NPROC][PAGE / 4] __attribute__((aligned(PAGE)));
static uint64_t gen_of[NPROC];
static unsigned asid_of[NPROC];

void el1_fault(uint64_t esr, uint64_t elr, uint64_t far)
{
    puts_("ASID8 EL1 exception esr=");
    putx(esr);
    puts_(" elr=");
    putx(elr);
    puts_(" far=");
    putx(far);
    puts_("\nASID8 end\n");
    for (;;) {
        asm volatile("wfi");
    }
}

/*
 * EL0's program: counter += 1 through the plain pointer, read it back
 * through the same page with tag 0x5a in the top byte, return the sum.
 */
asm(".pushsection .user_text, \"ax\"\n"
    "user_entry:\n"
    "    ldr  w1, [x0]\n"
    "    add  w1, w1, #1\n"
    "    str  w1, [x0]\n"
    "    mov  x4, #0x5a\n"
    "    lsl  x4, x4, #56\n"
    "    orr  x3, x0, x4\n"
    "    ldr  w2, [x3]\n"
    "    add  w0, w1, w2\n"
    "    svc  #0\n"
    ".popsection\n");

#define AF      (1ull << 10)
#define NG      (1ull << 11)
#define SH_IN   (3ull << 8)
#define ATTR(i) ((uint64_t)(i) << 2)
#define PXN     (1ull << 53)
#define UXN     (1ull << 54)
#define AP_EL0_RW   (1ull << 6)
#define AP_RO       (3ull << 6)

static void build_tables(int p)
{
    /* EL1's identity map: devices below 1 GiB, RAM from 1 GiB; global. */
    l1[p][0] = 0x00000000ull | AF | ATTR(0) | PXN | UXN | 1;
    l1[p][1] = 0x40000000ull | AF | SH_IN | ATTR(1) | UXN | 1;
    /*
     * The user region at 2 GiB: code (EL0 read-only, executable) and the
     * process's own page, not global.
     */
    l1[p][2] = (uint64_t)(uintptr_t)l2[p] | 3;
    l2[p][0] = (uint64_t)(uintptr_t)l3[p] | 3;
    l3[p][0] = (uint64_t)(uintptr_t)__user_start |
               AF | NG | SH_IN | ATTR(1) | AP_RO | PXN | 3;
    l3[p][1] = (uint64_t)(uintptr_t)data[p] |
               AF | NG | SH_IN | ATTR(1) | AP_EL0_RW | PXN | UXN | 3;
}

static void set_ttbr0(int p, unsigned asid)
{
    uint64_t junk = (uint64_t)((p * 37) & 0xff) << 56;
    uint64_t v = (uint64_t)(uintptr_t)l1[p] | ((uint64_t)asid << 48) | junk;

    asm volatile("msr ttbr0_el1, %0; isb" : : "r"(v) : "memory");
}

int main(void)
{
    uint64_t gen = 1, esr, r, sum = 0;
    unsigned next = 1, rollovers = 0, bad = 0;
    int round, i, p;

    write32(UART_CR, 0x301);    /* UARTEN, TXE, RXE */
    puts_("ASID8 begin\n");
    for (p = 0; p < NPROC; p++) {
        build_tables(p);
        data[p][0] = p * 1000;
    }
    asm volatile("dsb ish" : : : "memory");
    /*
     * MAIR: 0 device nGnRnE, 1 normal write-back.  TCR: T0SZ 25 (39-bit
     * VA), 4 KiB granule, inner-shareable write-back walks, no TTBR1
     * walks, 40-bit PA, AS 0 (8-bit ASIDs), TBI0.
     */
    asm volatile("msr mair_el1, %0" : : "r"(0xff00ull));
    asm volatile("msr tcr_el1, %0" : : "r"(25ull | (1ull << 8) | (1ull << 10) |
                                           (3ull << 12) | (1ull << 23) |
                                           (2ull << 32) | (1ull << 37)));
    set_ttbr0(0, 0);
    asm volatile("tlbi vmalle1; dsb ish; isb" : : : "memory");
    /* SCTLR_EL1: its RES1 bits, I, C, M. */
    asm volatile("msr sctlr_el1, %0; isb"
                 : : "r"(0x30d00800ull | (1 << 12) | 4 | 1));

    for (round = 0; round < ROUNDS; round++) {
        for (i = 0; i < NPROC; i++) {
            /* Even rounds in order, odd ones backwards. */
            p = round & 1 ? NPROC - 1 - i : i;
            if (gen_of[p] != gen) {
                if (next == 256) {
                    /* Out of ASIDs: a new generation, as Linux does. */
                    asm volatile("dsb ishst; tlbi vmalle1is; dsb ish; isb"
                                 : : : "memory");
                    gen++;
                    next = 1;
                    rollovers++;
                }
                asid_of[p] = next++;
                gen_of[p] = gen;
            }
            set_ttbr0(p, asid_of[p]);
            r = run_user(USER_VA, 0, USER_VA + PAGE, &esr);
            if ((esr >> 26) != 0x15 ||
                r != 2 * (uint64_t)(p * 1000 + round + 1)) {
                bad++;
                if (bad < 10) {
                    puts_("ASID8 process ");
                    putx(p);
                    puts_(" round ");
                    putx(round);
                    puts_(": esr ");
                    putx(esr);
                    puts_(" result ");
                    putx(r);
                    puts_(" FAIL\n");
                }
            }
            sum = sum * 31 + r;
        }
    }
    for (p = 0; p < NPROC; p++) {
        bad += data[p][0] != (uint32_t)(p * 1000 + ROUNDS);
    }
    puts_("ASID8 rollovers ");
    putx(rollovers);
    puts_(" checksum ");
    putx(sum);
    puts_(bad ? " failed\n" : " ok\n");
    puts_("ASID8 end\n");
    for (;;) {
        asm volatile("wfi");
    }
}
