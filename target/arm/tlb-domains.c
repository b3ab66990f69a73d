/*
 * DACR writes that flush only the TLB entries of the domains they revoke.
 *
 * The softmmu TLB does not record the short-descriptor domain of an
 * entry, so upstream flushes every TLB on every DACR write.  Linux's
 * software PAN writes DACR four times per system call.  This file keeps,
 * per TLB, the set of domains its entries may be of and, while a domain
 * has few, their pages (CPUARMState, patches/: a superset of each, as
 * entries also leave the TLB by other flushes and by eviction), and
 * flushes on a DACR write only what the write makes stale.
 *
 * The idea is softmmu's, not ESPT's: it serves every run, with ESPT or
 * without.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "exec/exec-all.h"
#if __has_include("exec/cputlb.h")      /* out of exec-all.h since 9.2 */
#include "exec/cputlb.h"
#endif
#include "tlb-domains.h"

/*
 * The notes must cover every entry put in the TLBs, or a narrowed flush
 * could leave one that grants what DACR no longer does: every fill makes
 * one (arm_cpu_tlb_fill()).
 */
void arm_tlb_domains_note(CPUARMState *env, int mmu_idx, vaddr addr,
                          unsigned domain)
{
    uint8_t *n = &env->tlb_domain_npages[mmu_idx][domain];
    target_ulong *pages = env->tlb_domain_pages[mmu_idx][domain];
    target_ulong page = addr & TARGET_PAGE_MASK;
    int i;

    env->tlb_domains[mmu_idx] |= 1 << domain;
    if (*n > ARM_TLB_DOMAIN_PAGES) {
        return;                 /* too many to flush one by one */
    }
    for (i = 0; i < *n; i++) {
        if (pages[i] == page) {
            return;
        }
    }
    if (*n < ARM_TLB_DOMAIN_PAGES) {
        pages[*n] = page;
    }
    (*n)++;
}

/*
 * Only the entries of a domain whose access the write reduces (no access
 * < client < manager; the reserved value 2 acts as no access) can be
 * wrong now: an entry of any other domain grants what a fresh walk would,
 * or less, and a missing permission is a TLB miss that walks again under
 * the new value.  So flush the pages of those domains, or the whole TLB
 * of an mmu index that may hold too many of them; often none holds any.
 *
 * Of Linux's four writes per system call under software PAN, two (uaccess
 * on, return to user mode) only give access; kernel entry takes the user
 * domain away, but the kernel's own TLB holds no entry of it unless
 * uaccess was on since; uaccess off then flushes the few user pages the
 * kernel touched.
 */
ArmDacrFlush arm_dacr_flush(CPUState *cs, uint32_t old, uint32_t new)
{
    static const uint8_t level[4] = { 0, 1, 0, 2 };
    /* No QOM cast check: four DACR writes per system call under SW PAN. */
    CPUARMState *env = &container_of(cs, ARMCPU, parent_obj)->env;
    uint16_t lost = 0, idxmap = 0, hit;
    bool narrowed = false;
    int d, i, j;

    for (d = 0; d < 16; d++) {
        if (level[extract32(new, d * 2, 2)] < level[extract32(old, d * 2, 2)]) {
            lost |= 1 << d;
        }
    }
    for (i = 0; lost && i < NB_MMU_MODES; i++) {
        hit = env->tlb_domains[i] & lost;
        if (!hit) {
            continue;
        }
        for (d = 0; d < 16; d++) {
            if ((hit & 1 << d) &&
                env->tlb_domain_npages[i][d] > ARM_TLB_DOMAIN_PAGES) {
                break;
            }
        }
        if (d < 16) {
            idxmap |= 1 << i;
            env->tlb_domains[i] = 0;
            memset(env->tlb_domain_npages[i], 0,
                   sizeof(env->tlb_domain_npages[i]));
            continue;
        }
        for (d = 0; d < 16; d++) {
            if (!(hit & 1 << d)) {
                continue;
            }
            for (j = 0; j < env->tlb_domain_npages[i][d]; j++) {
                tlb_flush_page_by_mmuidx(cs, env->tlb_domain_pages[i][d][j],
                                         1 << i);
            }
            env->tlb_domain_npages[i][d] = 0;
        }
        env->tlb_domains[i] &= ~hit;
        narrowed = true;
    }
    if (idxmap) {
        tlb_flush_by_mmuidx(cs, idxmap);
        return ARM_DACR_FLUSH_TLBS;
    }
    return narrowed ? ARM_DACR_FLUSH_PAGES : ARM_DACR_FLUSH_NONE;
}
