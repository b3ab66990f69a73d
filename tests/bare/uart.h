/*
 * The virt board's PL011 UART, enough to print: shared by the AArch32
 * (bare.h) and AArch64 (tests/bare64/bare64.h) bare-metal images, which
 * define read32() and write32() for their ISA before including it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BARE_UART_H
#define BARE_UART_H

#define UART_DR         0x09000000u
#define UART_FR         0x09000018u
#define UART_CR         0x09000030u
#define UART_FR_TXFF    (1u << 5)

static inline void putc_(char c)
{
    while (read32(UART_FR) & UART_FR_TXFF) {
        asm volatile("yield");
    }
    write32(UART_DR, c);
}

static inline void puts_(const char *s)
{
    while (*s) {
        putc_(*s++);
    }
}

#endif
