/*
 * Shared by the bare-metal test images: what start.S provides and calls.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BARE_H
#define BARE_H

#include <stdint.h>

/* start.S: fn(), or 0xdead if fetching it takes a prefetch abort. */
uint32_t try_call(uint32_t (*fn)(void));
/* start.S: run fn in user mode, IRQs masked; it never returns here. */
void enter_user(void (*fn)(void));
/* Where the prefetch abort handler resumes: try_call's landing pad. */
extern uint32_t pabt_resume;

/* Called by start.S: the entry, the abort handlers, SVC from user mode. */
int main(void);
void record_fault(uint32_t fsr, uint32_t far, uint32_t kind);
uint32_t svc_handler(uint32_t op, uint32_t arg);
void finish(void) __attribute__((noreturn));

/* One 32-bit access, never merged, split or moved by the compiler. */
static inline uint32_t read32(uint32_t addr)
{
    uint32_t v;

    asm volatile("ldr %0, [%1]" : "=r"(v) : "r"(addr) : "memory");
    return v;
}

static inline void write32(uint32_t addr, uint32_t v)
{
    asm volatile("str %0, [%1]" : : "r"(v), "r"(addr) : "memory");
}

/* From user mode: svc_handler(op, arg) at PL1, and its result. */
static inline uint32_t svc(uint32_t op, uint32_t arg)
{
    register uint32_t r0 asm("r0") = op;
    register uint32_t r1 asm("r1") = arg;

    asm volatile("svc #0" : "+r"(r0) : "r"(r1) : "memory", "lr");
    return r0;
}

#include "uart.h"

static inline void puthex(uint32_t v)
{
    int i;

    puts_("0x");
    for (i = 28; i >= 0; i -= 4) {
        putc_("0123456789abcdef"[(v >> i) & 15]);
    }
}

static inline void putdec(uint32_t v)
{
    char buf[12];
    int n = 0;

    do {
        buf[n++] = '0' + v % 10;
        v /= 10;
    } while (v);
    while (n) {
        putc_(buf[--n]);
    }
}

/*
 * The summary lines the tests' harness reads ("TAG passed N failed M
 * OK|FAIL", "TAG end"), then power off through PSCI SYSTEM_OFF.
 */
static inline void __attribute__((noreturn))
report_and_power_off(const char *tag, uint32_t passed, uint32_t failed)
{
    puts_(tag);
    puts_(" passed ");
    putdec(passed);
    puts_(" failed ");
    putdec(failed);
    puts_(failed ? " FAIL\n" : " OK\n");
    puts_(tag);
    puts_(" end\n");
    asm volatile("ldr r0, =0x84000008\n\thvc #0" : : : "r0", "memory");
    for (;;) {
        asm volatile("wfi");
    }
}

#endif
