/*
 * Bare-metal start-up for the DACR test (tests/bare/dacr.c): stacks,
 * vectors, and the exception entries it records faults through.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .syntax unified
    .arm

    .section .text.start, "ax"
    .global _start
_start:
    cpsid   aif
    cps     #0x17                   @ abort mode
    ldr     sp, =abt_stack_top
    cps     #0x1b                   @ undefined mode
    ldr     sp, =und_stack_top
    cps     #0x1f                   @ system mode: the user stack
    ldr     sp, =usr_stack_top
    cps     #0x13                   @ supervisor mode
    ldr     sp, =svc_stack_top
    ldr     r0, =vectors
    mcr     p15, 0, r0, c12, c0, 0  @ VBAR
    ldr     r0, =__bss_start
    ldr     r1, =__bss_end
    mov     r2, #0
1:  cmp     r0, r1
    strlo   r2, [r0], #4
    blo     1b
    bl      main
2:  wfi
    b       2b

    .text
    .align  5
vectors:
    b       _start
    b       und_entry
    b       svc_entry
    b       pabt_entry
    b       dabt_entry
    b       .
    b       .
    b       .

/*
 * Save the caller-saved registers and record_fault(FSR, FAR, kind), the
 * status and address registers being c5/c6 with opc2 @fsr and @far.
 */
.macro record_abort fsr, far, kind
    push    {r0-r3, r12, lr}
    mrc     p15, 0, r0, c5, c0, \fsr
    mrc     p15, 0, r1, c6, c0, \far
    mov     r2, #\kind
    bl      record_fault
    pop     {r0-r3, r12, lr}
.endm

/* Data abort: record DFSR/DFAR, skip the faulting load or store. */
dabt_entry:
    record_abort 0, 0, 1
    subs    pc, lr, #4

/* Prefetch abort: record IFSR/IFAR, resume at try_call's landing pad. */
pabt_entry:
    record_abort 1, 2, 2
    ldr     lr, =pabt_resume
    ldr     lr, [lr]
    movs    pc, lr

/* Undefined instruction: record it and skip it. */
und_entry:
    push    {r0-r3, r12, lr}
    mov     r0, #0
    mov     r1, lr
    mov     r2, #3
    bl      record_fault
    pop     {r0-r3, r12, lr}
    movs    pc, lr

/* SVC from user mode: r0 = svc_handler(r0, r1). */
svc_entry:
    push    {r1-r3, r12, lr}
    bl      svc_handler
    pop     {r1-r3, r12, lr}
    movs    pc, lr

/*
 * uint32_t try_call(uint32_t (*fn)(void)): fn(), or 0xdead if fetching
 * it takes a prefetch abort.
 */
    .global try_call
try_call:
    push    {r4, lr}
    ldr     r1, =pabt_resume
    adr     r2, 1f
    str     r2, [r1]
    mov     r4, r0
    ldr     r0, =0xdead
    blx     r4
1:  pop     {r4, pc}

/* void enter_user(void (*fn)(void)): run fn in user mode, IRQs masked. */
    .global enter_user
enter_user:
    mov     lr, r0
    mov     r1, #0xd0
    msr     spsr_cxsf, r1
    movs    pc, lr

    .bss
    .align  3
    .space  4096
abt_stack_top:
    .space  1024
und_stack_top:
    .space  8192
usr_stack_top:
    .space  8192
svc_stack_top:
    .section .note.GNU-stack, "", %progbits
