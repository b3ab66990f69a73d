/*
 * qemu-espt: ARM (AArch32) side of the embedded shadow page tables.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "exec/espt-compat.h"
#include "cpu.h"
#include "internals.h"
#include "exec/exec-all.h"
#include "exec/espt.h"
#include "qemu/module.h"
#include "tlb-domains.h"

/*
 * ESPT serves non-secure EL0 code of an A-profile AArch32 CPU with its
 * MMU on and little-endian data.  Everything else (the kernel, M-profile,
 * secure state, MMU off, SETEND BE or SCTLR.EE) keeps the softmmu path.
 *
 * This runs on every espt_update(), i.e. on each entry to cpu_exec() and
 * each hflags rebuild (mode changes, exception entry and return), so it
 * reads mostly cached state: the mmu index and data endianness that
 * arm_rebuild_hflags() keeps in env->hflags.  Core mmu index 0 is
 * ARMMMUIdx_E10_0, i.e. non-secure EL0 of the EL1&0 regime.
 */
static bool espt_arm_user_ok(CPUState *cs)
{
    CPUARMState *env = espt_cpu_env(cs);

    /*
     * Secure and Non-secure EL0 share the mmu index (the TLB is flushed
     * when SCR.NS changes), but the context and user-state hooks below
     * read the Non-secure banks: Secure EL0 stays on softmmu.
     */
    return EX_TBFLAG_ANY(env->hflags, MMUIDX) == 0 &&
           !arm_is_secure_below_el3(env) &&
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
static uint64_t espt_arm_user_state(CPUState *cs)
{
    CPUARMState *env = espt_cpu_env(cs);

    if (env->cp15.tcr_el[1] & TTBCR_EAE) {
        return 1ULL << 32;
    }
    return (uint32_t)env->cp15.dacr_ns;
}

/*
 * DACR went from @old to @new.  Linux's software PAN writes DACR four
 * times per system call.  The shadow tables are kept throughout: they are
 * checked against DACR on entry to user mode (espt_arm_user_state()).
 * The softmmu TLBs lose what tlb-domains.c says they must.
 */
void espt_target_dacr_write(CPUState *cs, uint32_t old, uint32_t new)
{
    espt_flush_suppress(cs, true);
    switch (arm_dacr_flush(cs, old, new)) {
    case ARM_DACR_FLUSH_NONE:
        espt_flush_skipped(cs);
        break;
    case ARM_DACR_FLUSH_PAGES:
        espt_flush_narrowed(cs);
        break;
    case ARM_DACR_FLUSH_TLBS:
        break;
    }
    espt_flush_suppress(cs, false);
}

/*
 * Short descriptors: the ASID is CONTEXTIDR[7:0].  LPAE: TTBR0 or TTBR1
 * bits [55:48], as TTBCR.A1 selects.  Linux keeps one ASID per address
 * space and invalidates the TLB before reusing one.
 */
static int espt_arm_context(CPUState *cs, EsptContext *ctx)
{
    CPUARMState *env = espt_cpu_env(cs);

    ctx->ttbr0 = env->cp15.ttbr0_ns;
    ctx->ttbr1 = env->cp15.ttbr1_ns;
    ctx->tcr = env->cp15.tcr_el[1];
    if (ctx->tcr & TTBCR_EAE) {
        return extract64(ctx->tcr & TTBCR_A1 ? ctx->ttbr1 : ctx->ttbr0, 48, 8);
    }
    return env->cp15.contextidr_ns & 0xff;
}

static const EsptTargetOps espt_arm_ops = {
    .mmu_idx = ARMMMUIdx_E10_0 & ARM_MMU_IDX_COREIDX_MASK,
    .user_ok = espt_arm_user_ok,
    .user_state = espt_arm_user_state,
    .context = espt_arm_context,
    .enable = arm_tlb_domains_enable,
};

/*
 * Registered as a QOM type initialiser: qemu_init() runs them all
 * (module_call_init(MODULE_INIT_QOM) in qemu_init_subsystems()) before it
 * parses -accel and configure_accelerators() sets up TCG, whose init
 * calls espt_accel_init().  So the ops are in place before the manager
 * looks for them, and no upstream file needs a call for it.
 */
static void espt_arm_register(void)
{
    /*
     * Test only: behave as a target without ESPT support, which ESPT must
     * refuse cleanly (tests/test_espt.py, espt/no-target-ops).
     */
    if (getenv("QEMU_ESPT_TEST_NO_TARGET_OPS")) {
        return;
    }
    espt_register_target(&espt_arm_ops);
}

type_init(espt_arm_register)
