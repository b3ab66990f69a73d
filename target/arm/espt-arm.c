/*
 * qemu-espt: ARM side of the embedded shadow page tables.
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
#include "tcg/tcg-op.h"
#include "tlb-domains.h"

/*
 * ESPT serves non-secure EL0 code of an A-profile CPU with its MMU on and
 * little-endian data: AArch32 in qemu-system-arm; AArch64, and AArch32
 * under an AArch64 kernel, in qemu-system-aarch64, whose guest addresses
 * are 64-bit (segmented tables).  Everything else (the kernel, M-profile,
 * secure state, MMU off, SETEND BE, SCTLR.EE or SCTLR_EL1.E0E, EL0 under
 * a VHE host: another mmu index) keeps the softmmu path.
 *
 * This runs on every espt_update(), i.e. on each entry to cpu_exec() and
 * each hflags rebuild (mode changes, exception entry and return), so it
 * reads mostly cached state: the mmu index and data endianness that
 * arm_rebuild_hflags() keeps in env->hflags.  Core mmu index 0 is
 * ARMMMUIdx_E10_0, i.e. non-secure EL0 of the EL1&0 regime.
 */
#ifdef TARGET_AARCH64
#define ESPT_ARM_A64 true
#define ESPT_ARM_VA_BITS 48
#else
#define ESPT_ARM_A64 false
#define ESPT_ARM_VA_BITS 32
#endif

/* The EL1&0 regime is AArch64 (EL0 may still run AArch32 code). */
static bool espt_arm_el1_a64(CPUARMState *env)
{
    return ESPT_ARM_A64 && arm_el_is_aa64(env, 1);
}

/*
 * A64 state: only with TBI for TTBR0's half (TCR_EL1.TBI0, which Linux
 * always sets), so that the translator hands the backend addresses with
 * bits 63:56 equal to bit 55.  Segmented tables rely on that (docs/
 * espt.md, invariant 14): a raw address with top byte 0xc0 could reach
 * host memory through the map word of a segment without a window.
 */
static bool espt_arm_tbi_ok(CPUARMState *env)
{
    if (!EX_TBFLAG_ANY(env->hflags, AARCH64_STATE)) {
        return true;
    }
#ifdef TARGET_AARCH64
    return EX_TBFLAG_A64(env->hflags, TBII) & 1;
#else
    return false;
#endif
}

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
           espt_arm_tbi_ok(env) &&
           (env->cp15.sctlr_el[1] & SCTLR_M) &&
           !arm_feature(env, ARM_FEATURE_M);
}

/*
 * The guest kernel (espt-kernel=on): AArch32 PL1 code of the Non-secure
 * EL1&0 regime without PAN (ARMMMUIdx_E10_1; PSTATE.PAN selects another
 * index, which stays on softmmu), MMU on, little-endian data.  Its 32-bit
 * addresses fit the flat kernel table; AArch64 EL1's do not yet.
 */
static bool espt_arm_kernel_ok(CPUState *cs)
{
    CPUARMState *env = espt_cpu_env(cs);

    return EX_TBFLAG_ANY(env->hflags, MMUIDX) ==
           (ARMMMUIdx_E10_1 & ARM_MMU_IDX_COREIDX_MASK) &&
           !EX_TBFLAG_ANY(env->hflags, AARCH64_STATE) &&
           !arm_is_secure_below_el3(env) &&
           !EX_TBFLAG_ANY(env->hflags, BE_DATA) &&
           (env->cp15.sctlr_el[1] & SCTLR_M) &&
           !arm_feature(env, ARM_FEATURE_M);
}

/*
 * Walk the guest's tables for a kernel access at @addr that the softmmu
 * has just allowed: global (nG clear) or not, and with short descriptors
 * the domain, whose access DACR writes may take away
 * (espt_target_dacr_write()).  LPAE has no domains: 0.  With @walk, the
 * descriptors the walk read, unless a stage 2 translates them too (the
 * hypervisor's tables would need watching as well).
 */
static bool espt_arm_kernel_page(CPUState *cs, vaddr addr, bool is_write,
                                 unsigned *attrs, EsptWalk *walk)
{
    CPUARMState *env = espt_cpu_env(cs);
    ARMWalkLog log = { 0 };
    GetPhysAddrResult res = { .walk_log = walk ? &log : NULL };
    ARMMMUFaultInfo fi = {};
    MMUAccessType type = is_write ? MMU_DATA_STORE : MMU_DATA_LOAD;
    bool fault;
    int i;

#if ESPT_HAVE_PHYS_ADDR_MEMOP
    fault = get_phys_addr(env, addr, type, 0, ARMMMUIdx_E10_1, &res, &fi);
#else
    fault = get_phys_addr(env, addr, type, ARMMMUIdx_E10_1, &res, &fi);
#endif
    if (walk) {
        walk->n = 0;
        if (!(arm_hcr_el2_eff(env) & (HCR_VM | HCR_DC))) {
            for (i = 0; i < log.n && log.d[i].host; i++) {
                walk->d[i].host = log.d[i].host;
                walk->d[i].val = log.d[i].val;
                walk->d[i].wide = log.d[i].wide;
                walk->d[i].be = log.d[i].be;
            }
            walk->n = i == log.n ? i : 0;
        }
        walk->phys = res.f.phys_addr & TARGET_PAGE_MASK;
        walk->writable = !fault && (res.f.prot & PAGE_WRITE);
        walk->exec = !fault && (res.f.prot & PAGE_EXEC);
        walk->lg = fault ? 0 : res.f.lg_page_size;
    }
    if (fault) {
        return false;
    }
    *attrs = env->cp15.tcr_el[1] & TTBCR_EAE ? 0 : res.domain;
    return !res.ng;
}

/*
 * Besides the descriptors, the kernel's walks depend on SCTLR (M, AFE,
 * TRE, EE...), TTBCR (the split, the format, PD0/PD1), HCR_EL2 and
 * SCR_EL3.NS; compared whole: Linux writes them at boot only.
 */
static void espt_arm_kernel_regime(CPUState *cs, EsptRegime *r)
{
    CPUARMState *env = espt_cpu_env(cs);

    r->v[0] = env->cp15.sctlr_el[1];
    r->v[1] = env->cp15.tcr_el[1];
    r->v[2] = arm_hcr_el2_eff(env);
    r->v[3] = env->cp15.scr_el3;
}

/* The access a domain's 2 DACR bits grant: none < client < manager. */
static int espt_arm_domain_access(uint32_t dacr, int d)
{
    static const int level[4] = { 0, 1, 0, 2 };

    return level[(dacr >> (d * 2)) & 3];
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

    if (espt_arm_el1_a64(env)) {
        return 2ULL << 32;      /* no domains */
    }
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
    CPUARMState *env = espt_cpu_env(cs);
    uint16_t revoked = 0;
    int d;

    /*
     * The kernel table (espt-kernel=on) keeps its pages only while their
     * domain keeps the access it was mapped under.
     */
    if (!(env->cp15.tcr_el[1] & TTBCR_EAE)) {
        for (d = 0; d < 16; d++) {
            if (espt_arm_domain_access(new, d) <
                espt_arm_domain_access(old, d)) {
                revoked |= 1 << d;
            }
        }
        espt_kernel_revoke(cs, revoked);
    }
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

    if (espt_arm_el1_a64(env)) {
        /*
         * TCR_EL1.A1 picks the TTBR whose bits 63:48 hold the ASID,
         * TCR_EL1.AS whether all 16 are used (else bits 55:48).
         */
        ctx->ttbr0 = env->cp15.ttbr0_el[1];
        ctx->ttbr1 = env->cp15.ttbr1_el[1];
        ctx->tcr = env->cp15.tcr_el[1];
        return extract64(ctx->tcr & TTBCR_A1 ? ctx->ttbr1 : ctx->ttbr0, 48,
                         extract64(ctx->tcr, 36, 1) ? 16 : 8);
    }
    ctx->ttbr0 = env->cp15.ttbr0_ns;
    ctx->ttbr1 = env->cp15.ttbr1_ns;
    ctx->tcr = env->cp15.tcr_el[1];
    if (ctx->tcr & TTBCR_EAE) {
        return extract64(ctx->tcr & TTBCR_A1 ? ctx->ttbr1 : ctx->ttbr0, 48, 8);
    }
    return env->cp15.contextidr_ns & 0xff;
}

static void espt_arm_ld(TCGv_i32 v, size_t ofs)
{
    tcg_gen_ld_i32(v, espt_tcg_env, ofs);
}

/*
 * Inline what cpu_get_tb_cpu_state() computes for A-profile EL0 (user_ok()
 * keeps ESPT off elsewhere): env->hflags with the fields it does not
 * cache filled in from the live state, in the same order.  The inline
 * lookup's miss path compares this with cpu_get_tb_cpu_state() and counts
 * a difference (lookup-mismatch, which the tests require 0).
 */
static void espt_arm_gen_tb_state(TCGv_i64 pc, TCGv_i32 flags,
                                  TCGv_i64 cs_base)
{
    CPUARMState *env = espt_cpu_env(current_cpu);
    TCGv_i32 t = tcg_temp_new_i32();

#ifdef TARGET_AARCH64
    if (is_a64(env)) {
        /* The A64 fields are in flags2, the TB's cs_base; BTYPE is live. */
        tcg_gen_ld_i64(pc, espt_tcg_env, offsetof(CPUARMState, pc));
        espt_arm_ld(flags, offsetof(CPUARMState, hflags.flags));
        tcg_gen_ld_i64(cs_base, espt_tcg_env,
                       offsetof(CPUARMState, hflags.flags2));
        if (cpu_isar_feature(aa64_bti, env_archcpu(env))) {
            TCGv_i64 t64 = tcg_temp_new_i64();

            tcg_gen_ld32u_i64(t64, espt_tcg_env, offsetof(CPUARMState, btype));
            tcg_gen_deposit_i64(cs_base, cs_base, t64, R_TBFLAG_A64_BTYPE_SHIFT,
                                R_TBFLAG_A64_BTYPE_LENGTH);
        }
    } else
#endif
    {
        /* The A32 and AM32 fields are in flags2's low half. */
        TCGv_i32 f2 = tcg_temp_new_i32();

        tcg_gen_ld32u_i64(pc, espt_tcg_env, offsetof(CPUARMState, regs[15]));
        espt_arm_ld(flags, offsetof(CPUARMState, hflags.flags));
        espt_arm_ld(f2, offsetof(CPUARMState, hflags.flags2));
        if (arm_feature(env, ARM_FEATURE_XSCALE)) {
            espt_arm_ld(t, offsetof(CPUARMState, cp15.c15_cpar));
            tcg_gen_deposit_i32(f2, f2, t, R_TBFLAG_A32_XSCALE_CPAR_SHIFT,
                                R_TBFLAG_A32_XSCALE_CPAR_LENGTH);
        } else {
            espt_arm_ld(t, offsetof(CPUARMState, vfp.vec_len));
            tcg_gen_deposit_i32(f2, f2, t, R_TBFLAG_A32_VECLEN_SHIFT,
                                R_TBFLAG_A32_VECLEN_LENGTH);
            espt_arm_ld(t, offsetof(CPUARMState, vfp.vec_stride));
            tcg_gen_deposit_i32(f2, f2, t, R_TBFLAG_A32_VECSTRIDE_SHIFT,
                                R_TBFLAG_A32_VECSTRIDE_LENGTH);
        }
        /* FPEXC.EN sets VFPEN; a clear one leaves what hflags has. */
        espt_arm_ld(t, offsetof(CPUARMState, vfp.xregs[ARM_VFP_FPEXC]));
        tcg_gen_shri_i32(t, t, 30);
        tcg_gen_andi_i32(t, t, 1);
        tcg_gen_shli_i32(t, t, R_TBFLAG_A32_VFPEN_SHIFT);
        tcg_gen_or_i32(f2, f2, t);
        espt_arm_ld(t, offsetof(CPUARMState, thumb));
        tcg_gen_deposit_i32(f2, f2, t, R_TBFLAG_AM32_THUMB_SHIFT,
                            R_TBFLAG_AM32_THUMB_LENGTH);
        espt_arm_ld(t, offsetof(CPUARMState, condexec_bits));
        tcg_gen_deposit_i32(f2, f2, t, R_TBFLAG_AM32_CONDEXEC_SHIFT,
                            R_TBFLAG_AM32_CONDEXEC_LENGTH);
        tcg_gen_extu_i32_i64(cs_base, f2);
    }
    /* PSTATE__SS (flags bit 2): SS_ACTIVE (bit 1) and PSTATE.SS. */
    QEMU_BUILD_BUG_ON(R_TBFLAG_ANY_SS_ACTIVE_SHIFT != 1 ||
                      R_TBFLAG_ANY_PSTATE__SS_SHIFT != 2);
    espt_arm_ld(t, offsetof(CPUARMState, pstate));
    tcg_gen_shri_i32(t, t, ctz32(PSTATE_SS) - 1);
    tcg_gen_and_i32(t, t, flags);
    tcg_gen_andi_i32(t, t, 1 << 1);
    tcg_gen_shli_i32(t, t, 1);
    tcg_gen_or_i32(flags, flags, t);
}

static const EsptTargetOps espt_arm_ops = {
    .mmu_idx = ARMMMUIdx_E10_0 & ARM_MMU_IDX_COREIDX_MASK,
    .va_bits = ESPT_ARM_VA_BITS,
    .user_ok = espt_arm_user_ok,
    .user_state = espt_arm_user_state,
    .context = espt_arm_context,
    .gen_tb_state = espt_arm_gen_tb_state,
    /* qemu-system-aarch64 refuses espt-kernel=on (segmented tables). */
    .kernel_mmu_idx = ARMMMUIdx_E10_1 & ARM_MMU_IDX_COREIDX_MASK,
    .kernel_ok = espt_arm_kernel_ok,
    .kernel_page = espt_arm_kernel_page,
    .kernel_regime = espt_arm_kernel_regime,
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
    espt_register_target(&espt_arm_ops);
}

type_init(espt_arm_register)
