/*
 * Keeping cpu->tb_jmp_cache across TLB flushes that cannot change its
 * TBs (docs/espt.md, invariant 8).
 *
 * Upstream empties cpu->tb_jmp_cache on every TLB flush and two 64-entry
 * groups of it on every page flush, whatever TBs it holds.  But a TB was
 * translated and permission-checked through the mmu index its flags
 * carry, and the cache only hands it to lookups with the same flags: its
 * entry stays valid as long as that index's TLB does, and as long as no
 * flushed page holds its code.  So this file notes, per vCPU, the mmu
 * indexes of the TBs put in the cache and the 64 KiB granules their code
 * is in, and tells cputlb when a flush may leave the cache alone.
 *
 * The idea is softmmu's, not ESPT's, and serves every run: a highmem
 * kernel flushes a fixmap page, where no code is, for every page it
 * zeroes or copies, and a kernel entry under software PAN flushes user
 * mode's TLB, which cannot change the kernel's cached TBs.  cpu-exec.c
 * tells it of every TB it puts in the cache.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/bitmap.h"
#include "qemu/memalign.h"
#include "cpu.h"
#include "exec/exec-all.h"
#include "exec/tb-jc-keep.h"

/* One vCPU's, written by its own thread only: a cache line each. */
#define TB_JC_KEEP_ALIGN 64
typedef struct TbJcKeep {
    /* mmu indexes of the TBs that cpu->tb_jmp_cache may hold */
    uint16_t idxmap;
    /* and where they have code: see tb_jmp_cache_keep_page() */
    unsigned long *code;
    uint64_t pages_kept;
} QEMU_ALIGNED(TB_JC_KEEP_ALIGN) TbJcKeep;

static TbJcKeep *tb_jc_keep;
static int tb_jc_keep_ncpus;

static TbJcKeep *tb_jc_keep_of(CPUState *cpu)
{
    assert(cpu->cpu_index < tb_jc_keep_ncpus);
    return &tb_jc_keep[cpu->cpu_index];
}

void tb_jmp_cache_keep_init(int ncpus)
{
    int i;

    assert(!tb_jc_keep);
    tb_jc_keep = qemu_memalign(TB_JC_KEEP_ALIGN, ncpus * sizeof(TbJcKeep));
    memset(tb_jc_keep, 0, ncpus * sizeof(TbJcKeep));
    for (i = 0; i < ncpus; i++) {
        tb_jc_keep[i].code = bitmap_new(TB_CODE_BITS);
    }
    tb_jc_keep_ncpus = ncpus;
}

/*
 * The notes must cover every TB that goes into the cache, or a kept
 * entry could be one a flush should have dropped: cpu-exec.c calls this
 * wherever it fills the cache.
 */
void tb_jmp_cache_keep_note(CPUState *cpu, int mmu_idx, uint32_t pc,
                            uint32_t size)
{
    TbJcKeep *k = tb_jc_keep_of(cpu);

    k->idxmap |= 1 << mmu_idx;
    tb_code_mark(k->code, pc, size);
}

/*
 * Upstream empties cpu->tb_jmp_cache on every TLB flush: it finds TBs by
 * virtual PC, and a flush may change what that PC translates to.  But a
 * TB's code was translated (and permission-checked) through one mmu
 * index, the one its flags carry, and the cache only hands a TB to a
 * lookup with those flags.  A flush of other indexes cannot change what
 * its PC means.  With ESPT, user TBs live in the shadow tables' caches,
 * so the cache holds kernel TBs, and the user-only flushes (kernel entry
 * under software PAN) keep it.
 */
bool tb_jmp_cache_keep(CPUState *cpu, uint16_t idxmap)
{
    TbJcKeep *k = tb_jc_keep_of(cpu);

    if (k->idxmap & idxmap) {
        k->idxmap = 0;
        bitmap_zero(k->code, TB_CODE_BITS);
        return false;
    }
    return true;
}

/*
 * A page flush empties the two 64-entry groups of cpu->tb_jmp_cache that
 * the page and the one before it hash to, whatever TBs they hold: with a
 * highmem guest kernel, which flushes a fixmap page for every page it
 * zeroes or copies, that evicts the kernel's TBs all the time.  A flush
 * of a page that none of the cached TBs has code on (or, as upstream
 * assumes, crosses into from the page before) cannot change what their
 * PCs mean: keep the cache.  The granules are cleared with the cache.
 */
bool tb_jmp_cache_keep_page(CPUState *cpu, vaddr addr)
{
    TbJcKeep *k = tb_jc_keep_of(cpu);

    if (tb_code_on_page(k->code, addr)) {
        return false;
    }
    k->pages_kept++;
    return true;
}

uint64_t tb_jmp_cache_keep_pages_kept(void)
{
    uint64_t n = 0;
    int i;

    for (i = 0; i < tb_jc_keep_ncpus; i++) {
        n += qatomic_read(&tb_jc_keep[i].pages_kept);
    }
    return n;
}
