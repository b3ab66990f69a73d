/*
 * Shared by the AArch64 bare-metal test images: what start.S provides
 * and calls, and enough of the PL011 to print.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BARE64_H
#define BARE64_H

#include <stdint.h>

/* The linker script's page of EL0 code (section .user_text). */
extern char __user_start[];

/*
 * start.S: enter EL0 at @pc with SP_EL0 = @sp and x0 = @arg, interrupts
 * masked; returns EL0's x0 once it takes a synchronous exception (its
 * SVC, or a fault), with ESR_EL1 in *@esr.
 */
uint64_t run_user(uint64_t pc, uint64_t sp, uint64_t arg, uint64_t *esr);

/* Called by start.S: the entry, and any exception taken at EL1. */
int main(void);
void el1_fault(uint64_t esr, uint64_t elr, uint64_t far)
    __attribute__((noreturn));

/* One 32-bit device access, never merged, split or moved. */
static inline uint32_t read32(uint64_t addr)
{
    uint32_t v;

    asm volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void write32(uint64_t addr, uint32_t v)
{
    asm volatile("str %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
}

#include "../bare/uart.h"

static inline void putx(uint64_t v)
{
    int i;

    for (i = 60; i >= 0; i -= 4) {
        putc_("0123456789abcdef"[(v >> i) & 15]);
    }
}

#endif
