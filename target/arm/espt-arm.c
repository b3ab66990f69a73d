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
 */
bool espt_target_user_ok(CPUState *cs)
{
    CPUARMState *env = cs->env_ptr;

    if (arm_feature(env, ARM_FEATURE_M) || is_a64(env) ||
        arm_current_el(env) != 0) {
        return false;
    }
    if (arm_mmu_idx(env) != ARMMMUIdx_E10_0) {
        return false;
    }
    if (!(arm_sctlr(env, 0) & SCTLR_M) || arm_cpu_data_is_big_endian(env)) {
        return false;
    }
    return true;
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

    if (regime_using_lpae_format(env, ARMMMUIdx_E10_0)) {
        return 1ULL << 32;
    }
    return (uint32_t)env->cp15.dacr_ns;
}
