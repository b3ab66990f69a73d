/*
 * DACR writes that flush only the TLB entries of the domains they revoke
 * (target/arm/tlb-domains.c).  A softmmu improvement of its own: it does
 * not need ESPT.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TARGET_ARM_TLB_DOMAINS_H
#define TARGET_ARM_TLB_DOMAINS_H

/* What arm_dacr_flush() did. */
typedef enum ArmDacrFlush {
    ARM_DACR_FLUSH_NONE,        /* no TLB held an entry the write revokes */
    ARM_DACR_FLUSH_PAGES,       /* a few pages */
    ARM_DACR_FLUSH_TLBS,        /* whole TLBs */
} ArmDacrFlush;

#ifdef CONFIG_USER_ONLY
static inline void arm_tlb_domains_note(CPUARMState *env, int mmu_idx,
                                        vaddr addr, unsigned domain)
{
}
/* User mode has no softmmu TLB to flush. */
static inline ArmDacrFlush arm_dacr_flush(CPUState *cs, uint32_t old,
                                          uint32_t new)
{
    return ARM_DACR_FLUSH_TLBS;
}
#else
/*
 * arm_cpu_tlb_fill() puts the page at @addr into the TLB of @mmu_idx,
 * from the walk of a page of @domain (0 for other formats).
 */
void arm_tlb_domains_note(CPUARMState *env, int mmu_idx, vaddr addr,
                          unsigned domain);

/* DACR went from @old to @new: flush the TLB entries that makes stale. */
ArmDacrFlush arm_dacr_flush(CPUState *cs, uint32_t old, uint32_t new);
#endif

#endif /* TARGET_ARM_TLB_DOMAINS_H */
