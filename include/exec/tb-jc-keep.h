/*
 * Keeping cpu->tb_jmp_cache across TLB flushes that cannot change its
 * TBs (accel/tcg/tb-jc-keep.c).  A softmmu improvement of its own: it
 * does not need ESPT.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EXEC_TB_JC_KEEP_H
#define EXEC_TB_JC_KEEP_H

#include "qemu/bitops.h"

/*
 * Where a set of TBs has code: a bitmap of the 64 KiB granules of a
 * 32-bit guest address space, marked with each TB's first and last byte.
 * ESPT's per-table jump caches use the same.
 */
#define TB_CODE_SHIFT 16
#define TB_CODE_BITS  (1 << (32 - TB_CODE_SHIFT))

static inline void tb_code_mark(unsigned long *code, uint32_t pc,
                                uint32_t size)
{
    set_bit(pc >> TB_CODE_SHIFT, code);
    set_bit((uint32_t)(pc + MAX(size, 1) - 1) >> TB_CODE_SHIFT, code);
}

/*
 * Whether a TB may have code on the page at @vpage (4 KiB or smaller):
 * as upstream assumes, one that starts on the page before may reach into
 * it.
 */
static inline bool tb_code_on_page(unsigned long *code, uint32_t vpage)
{
    return test_bit(vpage >> TB_CODE_SHIFT, code) ||
           test_bit((uint32_t)(vpage - 4096) >> TB_CODE_SHIFT, code);
}

#ifndef CONFIG_USER_ONLY
/* Set up for @ncpus vCPUs, before any runs. */
void tb_jmp_cache_keep_init(int ncpus);

/*
 * @cpu puts a TB of @size bytes at @pc into cpu->tb_jmp_cache, translated
 * for (and so only found by lookups with) mmu index @mmu_idx.  A 64-bit
 * @pc may be truncated: flushes are checked the same way.
 */
void tb_jmp_cache_keep_note(CPUState *cpu, int mmu_idx, uint32_t pc,
                            uint32_t size);

/*
 * Whether a TLB flush of @idxmap may leave cpu->tb_jmp_cache alone (it
 * holds no TB of those indexes); if not, the caller empties it.
 */
bool tb_jmp_cache_keep(CPUState *cpu, uint16_t idxmap);

/*
 * Whether a flush of the page at @addr may leave cpu->tb_jmp_cache alone
 * (none of its TBs has code there or crosses into it); if not, the
 * caller empties the groups the page hashes to.
 */
bool tb_jmp_cache_keep_page(CPUState *cpu, vaddr addr);

/* Page flushes that left cpu->tb_jmp_cache alone, all vCPUs. */
uint64_t tb_jmp_cache_keep_pages_kept(void);
#else
static inline void tb_jmp_cache_keep_note(CPUState *cpu, int mmu_idx,
                                          uint32_t pc, uint32_t size)
{
}
#endif

#endif /* EXEC_TB_JC_KEEP_H */
