/*
 * Keeping cpu->tb_jmp_cache across TLB flushes that cannot change its TBs
 * (docs/espt.md, invariant 8).
 *
 * Upstream empties cpu->tb_jmp_cache on every TLB flush and two 64-entry
 * groups of it on every page flush, whatever TBs it holds.  But a TB was
 * translated and permission-checked through the mmu index its flags
 * carry, and the cache only hands it to lookups with the same flags: its
 * entry stays valid as long as that index's TLB does, and as long as no
 * flushed page holds its code.  So this file notes, per vCPU, the mmu
 * indexes of the TBs put in the cache and the 64 KiB granules their code
 * is in, and tells cputlb (patch 0014) when a flush may leave the cache
 * alone.
 *
 * The idea is softmmu's, not ESPT's: stock QEMU would gain from it as
 * much: a highmem kernel flushes a fixmap page, where no code is, for
 * every page it zeroes or copies, and a kernel entry under software PAN
 * flushes user mode's TLB, which cannot change the kernel's cached TBs.
 * It lives in its own file so that it can become an upstream patch of
 * its own.  For now it is switched on with ESPT only
 * (espt=off keeps upstream's behaviour), keeps the espt_jmp_cache_keep*
 * names the patches call, allocates its state in espt_accel_init() and
 * shares the code granule bitmaps of espt-internal.h.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/memalign.h"
#include "cpu.h"
#include "espt-internal.h"

/* One vCPU's, written by its own thread only: a cache line each. */
#define ESPT_JC_KEEP_ALIGN 64
typedef struct EsptJcKeep {
    /* mmu indexes of the TBs that cpu->tb_jmp_cache may hold */
    uint16_t idxmap;
    /* and where they have code: see espt_jmp_cache_keep_page() */
    unsigned long *code;
    uint64_t pages_kept;
} QEMU_ALIGNED(ESPT_JC_KEEP_ALIGN) EsptJcKeep;

static EsptJcKeep *espt_jc_keep;
static int espt_jc_keep_ncpus;

static EsptJcKeep *espt_jc_keep_of(CPUState *cpu)
{
    assert(cpu->cpu_index < espt_jc_keep_ncpus);
    return &espt_jc_keep[cpu->cpu_index];
}

void espt_jmp_cache_keep_init(int ncpus)
{
    int i;

    espt_jc_keep = qemu_memalign(ESPT_JC_KEEP_ALIGN,
                                 ncpus * sizeof(EsptJcKeep));
    memset(espt_jc_keep, 0, ncpus * sizeof(EsptJcKeep));
    for (i = 0; i < ncpus; i++) {
        espt_jc_keep[i].code = bitmap_new(ESPT_CODE_BITS);
    }
    espt_jc_keep_ncpus = ncpus;
}

/* @cpu puts a TB of @size bytes at @pc into cpu->tb_jmp_cache. */
void espt_jmp_cache_keep_note(CPUState *cpu, uint32_t pc, uint32_t size)
{
    EsptJcKeep *k = espt_jc_keep_of(cpu);

    k->idxmap |= 1 << espt_cpu_mmu_index(cpu, true);
    espt_code_mark(k->code, pc, size);
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
bool espt_jmp_cache_keep(CPUState *cpu, uint16_t idxmap)
{
    EsptJcKeep *k;

    if (!espt_enabled) {
        return false;
    }
    k = espt_jc_keep_of(cpu);
    if (k->idxmap & idxmap) {
        k->idxmap = 0;
        bitmap_zero(k->code, ESPT_CODE_BITS);
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
bool espt_jmp_cache_keep_page(CPUState *cpu, vaddr addr)
{
    EsptJcKeep *k;

    if (!espt_enabled) {
        return false;
    }
    k = espt_jc_keep_of(cpu);
    if (espt_code_on_page(k->code, addr)) {
        return false;
    }
    k->pages_kept++;
    return true;
}

/* Page flushes that left cpu->tb_jmp_cache alone, all vCPUs. */
uint64_t espt_jmp_cache_keep_pages_kept(void)
{
    uint64_t n = 0;
    int i;

    for (i = 0; i < espt_jc_keep_ncpus; i++) {
        n += qatomic_read(&espt_jc_keep[i].pages_kept);
    }
    return n;
}
