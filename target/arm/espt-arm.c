/*
 * qemu-espt: ARM (AArch32) side of the embedded shadow page tables.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "internals.h"
#include "exec/espt.h"

int espt_target_mmu_idx(void)
{
    return ARMMMUIdx_E10_0 & ARM_MMU_IDX_COREIDX_MASK;
}

/*
 * ESPT serves non-secure EL0 code of an A-profile AArch32 CPU with its
 * MMU on and little-endian data.  Everything else (the kernel, M-profile,
 * secure state, MMU off, SETEND BE or SCTLR.EE) keeps the softmmu path.
 *
 * This runs on every TB lookup, including helper_lookup_tb_ptr() on each
 * indirect branch, so it reads only cached state: the mmu index and data
 * endianness that arm_rebuild_hflags() keeps in env->hflags.  Core mmu
 * index 0 is ARMMMUIdx_E10_0, i.e. non-secure EL0 of the EL1&0 regime.
 */
bool espt_target_user_ok(CPUState *cs)
{
    CPUARMState *env = cs->env_ptr;

    return EX_TBFLAG_ANY(env->hflags, MMUIDX) == 0 &&
           !EX_TBFLAG_ANY(env->hflags, BE_DATA) &&
           !EX_TBFLAG_ANY(env->hflags, AARCH64_STATE) &&
           (env->cp15.sctlr_el[1] & SCTLR_M) &&
           !arm_feature(env, ARM_FEATURE_M);
}

/*
 * User-mode translations depend on the TLB-relevant registers, whose
 * writes flush the TLB anyway, and on DACR (short descriptors), whose
 * writes we let pass without a shadow flush: Linux's software PAN
 * rewrites it on every kernel entry and exit, but the value in force in
 * user mode rarely changes.
 */
uint64_t espt_target_user_state(CPUState *cs)
{
    CPUARMState *env = cs->env_ptr;

    if (env->cp15.tcr_el[1] & TTBCR_EAE) {
        return 1ULL << 32;
    }
    return (uint32_t)env->cp15.dacr_ns;
}

/*
 * The softmmu TLBs a DACR write from @old to @new must flush: those that
 * may hold an entry of a domain whose access the write reduces (no access
 * < client < manager; the reserved value 2 acts as no access).  An entry
 * of any other domain grants what a fresh walk would, or less: a missing
 * permission is a TLB miss that walks again under the new value.  The
 * mask of each TLB returned is cleared, as the caller flushes it.
 *
 * Linux's software PAN writes DACR four times per system call.  Two of
 * them (uaccess on, return to user mode) only give access; kernel entry
 * takes the user domain away, but the kernel's own TLB holds no entry of
 * it unless uaccess was on since its last flush; uaccess off flushes the
 * kernel's TLB only after uaccess did touch user memory.
 */
uint16_t espt_target_dacr_flush_map(CPUState *cs, uint32_t old, uint32_t new)
{
    static const uint8_t level[4] = { 0, 1, 0, 2 };
    CPUARMState *env = cs->env_ptr;
    uint16_t lost = 0, idxmap = 0;
    int d, i;

    for (d = 0; d < 16; d++) {
        if (level[extract32(new, d * 2, 2)] < level[extract32(old, d * 2, 2)]) {
            lost |= 1 << d;
        }
    }
    for (i = 0; lost && i < NB_MMU_MODES; i++) {
        if (env->tlb_domains[i] & lost) {
            env->tlb_domains[i] = 0;
            idxmap |= 1 << i;
        }
    }
    return idxmap;
}

/*
 * Short descriptors: the ASID is CONTEXTIDR[7:0].  LPAE: TTBR0 or TTBR1
 * bits [55:48], as TTBCR.A1 selects.  Linux keeps one ASID per address
 * space and invalidates the TLB before reusing one.
 */
int espt_target_context(CPUState *cs, EsptContext *ctx)
{
    CPUARMState *env = cs->env_ptr;

    ctx->ttbr0 = env->cp15.ttbr0_ns;
    ctx->ttbr1 = env->cp15.ttbr1_ns;
    ctx->tcr = env->cp15.tcr_el[1];
    if (ctx->tcr & TTBCR_EAE) {
        return extract64(ctx->tcr & TTBCR_A1 ? ctx->ttbr1 : ctx->ttbr0, 48, 8);
    }
    return env->cp15.contextidr_ns & 0xff;
}
