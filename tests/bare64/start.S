/*
 * Bare-metal AArch64 start-up for tests/bare64 (declared in bare64.h):
 * EL1 with a stack, the vector table, and run_user(), which enters EL0
 * and comes back when EL0 takes a synchronous exception (its SVC, or a
 * fault).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .section .text.start, "ax"
    .global _start
_start:
    ldr     x0, =stack_top
    mov     sp, x0
    adr     x0, vectors
    msr     vbar_el1, x0
    mov     x0, #(3 << 20)          /* CPACR_EL1.FPEN: no FP traps */
    msr     cpacr_el1, x0
    isb
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  bl      main
3:  wfi
    b       3b

/*
 * uint64_t run_user(uint64_t pc, uint64_t sp, uint64_t arg, uint64_t *esr)
 * Enter EL0 at @pc with SP_EL0 = @sp and x0 = @arg, interrupts masked.
 * Returns EL0's x0 when it takes a synchronous exception; *@esr gets ESR.
 */
    .text
    .global run_user
run_user:
    ldr     x9, =saved
    mov     x10, sp
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    stp     x29, x30, [x9, #80]
    stp     x10, x3, [x9, #96]
    msr     elr_el1, x0
    msr     sp_el0, x1
    mov     x0, #0x3c0              /* EL0t, DAIF masked */
    msr     spsr_el1, x0
    mov     x0, x2
    eret

/* A synchronous exception from EL0: back to run_user()'s caller. */
user_sync:
    ldr     x9, =saved
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldp     x29, x30, [x9, #80]
    ldp     x10, x3, [x9, #96]
    mov     sp, x10
    mrs     x1, esr_el1
    str     x1, [x3]
    ret

/* Anything else: report it and stop. */
unexpected:
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    mrs     x2, far_el1
    bl      el1_fault

    .align  11
vectors:
    .rept   8                       /* current EL, SP0 and SPx */
    b       unexpected
    .align  7
    .endr
    b       user_sync               /* lower EL, AArch64: synchronous */
    .align  7
    .rept   7
    b       unexpected
    .align  7
    .endr

    .bss
    .align  4
saved:
    .skip   112
    .align  4
    .skip   16384
stack_top:
