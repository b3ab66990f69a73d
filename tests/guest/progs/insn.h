/*
 * insn.h: the few machine instructions the guest test programs generate
 * at run time, encoded for the ISA they are built for (A32 for armhf,
 * A64 for arm64), so that the code that emits them is shared.
 *
 * Registers are numbers (r0..r15 / w0..w30); immediates must fit the
 * encoding (I_MOVW: 16 bits; I_ADD_IMM, I_SUBS_IMM: 8 bits on A32, 12 on
 * A64; I_STR: a multiple of 4, < 4096 on A32, < 16384 on A64).  Branch
 * targets are given as word indexes or uint32_t pointers: I_B(cond, from,
 * to) and I_BL(from, to) jump from the instruction at @from to @to.
 * Conditions are the 4-bit ARM condition codes (0 EQ, 1 NE, ...), the
 * same numbers on both ISAs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef GUEST_INSN_H
#define GUEST_INSN_H

#include <stdint.h>

#define COND_EQ 0x0u
#define COND_NE 0x1u

#if defined(__aarch64__)

/* movz wd, #imm */
#define I_MOVW(rd, imm)     (0x52800000u | ((uint32_t)(imm) & 0xffff) << 5 | \
                             (rd))
/* ret */
#define I_RET               0xd65f03c0u
/* add wd, wn, #imm */
#define I_ADD_IMM(rd, rn, imm) (0x11000000u | ((uint32_t)(imm) & 0xfff) << 10 | \
                                (rn) << 5 | (rd))
/* subs wd, wn, #imm */
#define I_SUBS_IMM(rd, rn, imm) (0x71000000u | ((uint32_t)(imm) & 0xfff) << 10 | \
                                 (rn) << 5 | (rd))
/* b.cond: the offset counts words from the branch itself */
#define I_B(cond, from, to) (0x54000000u | \
                             ((uint32_t)((to) - (from)) & 0x7ffff) << 5 | (cond))
/* bl */
#define I_BL(from, to)      (0x94000000u | ((uint32_t)((to) - (from)) & 0x3ffffff))
/* str wt, [xn, #off] */
#define I_STR(rt, rn, off)  (0xb9000000u | ((uint32_t)(off) / 4) << 10 | \
                             (rn) << 5 | (rt))
/* mov w0, w1 (orr w0, wzr, w1) */
#define I_MOV_R0_R1         0x2a0103e0u
/* add w0, w0, w0, lsl #1 */
#define I_TRIPLE_R0         0x0b000400u
/*
 * A frame around one call: stp x29, x30, [sp, #-16]! ... ldp x29, x30,
 * [sp], #16 (which, unlike A32's pop, does not return: I_RET follows).
 */
#define I_CALL_ENTER        0xa9bf7bfdu
#define I_CALL_LEAVE        0xa8c17bfdu

#elif defined(__arm__)

/* movw rd, #imm */
#define I_MOVW(rd, imm)     (0xe3000000u | (((uint32_t)(imm) >> 12) & 0xf) << 16 | \
                             (rd) << 12 | ((uint32_t)(imm) & 0xfff))
/* bx lr */
#define I_RET               0xe12fff1eu
/* add rd, rn, #imm */
#define I_ADD_IMM(rd, rn, imm) (0xe2800000u | (rn) << 16 | (rd) << 12 | (imm))
/* subs rd, rn, #imm */
#define I_SUBS_IMM(rd, rn, imm) (0xe2500000u | (rn) << 16 | (rd) << 12 | (imm))
/* b<cond>: the offset counts words from the branch plus 2 (the PC bias) */
#define I_B(cond, from, to) ((uint32_t)(cond) << 28 | 0x0a000000u | \
                             ((uint32_t)((to) - (from) - 2) & 0xffffff))
/* bl */
#define I_BL(from, to)      (0xeb000000u | ((uint32_t)((to) - (from) - 2) & 0xffffff))
/* str rt, [rn, #off] */
#define I_STR(rt, rn, off)  (0xe5800000u | (rn) << 16 | (rt) << 12 | (off))
/* mov r0, r1 */
#define I_MOV_R0_R1         0xe1a00001u
/* add r0, r0, r0, lsl #1 */
#define I_TRIPLE_R0         0xe0800080u
/* A frame around one call: push {r4, lr} ... pop {r4, pc} */
#define I_CALL_ENTER        0xe92d4010u
#define I_CALL_LEAVE        0xe8bd8010u

#else
#error "guest test programs: built for A32 (armhf) or A64 (arm64) only"
#endif

#endif
