/*
 * qemu-espt: the jump cache of each shadow table (docs/espt.md,
 * invariant 7).
 *
 * A CF_ESPT TB only runs in user mode of its table's address space, so
 * it is cached per table (EsptTable.jc, espt_thread_jc for the thread's
 * current one) rather than in cpu->tb_jmp_cache, which every kernel-only
 * flush empties.  The cache is emptied with the table's translations and
 * when a flushed page may hold code of one of its TBs (the code granule
 * bitmap EsptTable.code), and on tb_flush().
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "tcg/tcg.h"
#include "espt-internal.h"

__thread EsptJumpCache *espt_thread_jc;

static void espt_jc_clear(EsptJumpCache *jc)
{
    int i;

    for (i = 0; i <= jc->mask; i++) {
        qatomic_set(&jc->entry[i], 0);
    }
}

/* A table is about to become a thread's current one for the first time. */
void espt_jc_init(EsptTable *t)
{
    unsigned bits = t->asid == ESPT_KTABLE ? ESPT_KJC_BITS : ESPT_JC_BITS;
    EsptJumpCache *jc = g_malloc0(sizeof(*jc) + (sizeof(uint64_t) << bits));

    jc->mask = (1u << bits) - 1;

    /* This thread's TCG region: within the one code buffer. */
    jc->base = (uintptr_t)tcg_ctx->code_gen_buffer;
    /* Other threads only read it, in espt_tb_flush() (exclusive). */
    t->code = bitmap_new(ESPT_CODE_BITS);
    qatomic_set(&t->jc, jc);
}

/* Forget the table's cached TBs and where they had code. */
void espt_jc_empty(EsptTable *t)
{
    espt_jc_clear(t->jc);
    bitmap_zero(t->code, ESPT_CODE_BITS);
    /* Links made from its TBs were as good as its entries: no longer. */
    espt_jumps_rekey(t);
}

/*
 * The kernel table @t may no longer vouch for the code of the TBs in its
 * jump cache: forget them (and the links made from its TBs).
 */
void espt_kernel_jc_drop(EsptTable *t)
{
    if (t->jc_used) {
        espt_jc_empty(t);
        qatomic_inc(&espt_stats.kernel_jc_dropped);
    }
}

/*
 * Whether the kernel table @t maps, awake, every page of @tb's code (at
 * @pc) to the RAM the TB was translated from, by a walk that let the
 * kernel fetch from it (ESPT_PV_EXEC); a page it does not map yet,
 * or holds dormant since a full flush, it may map now
 * (espt_kernel_map_code()).  Those translations are
 * global and watched (espt-kwatch.c): the table keeps them exactly as
 * long as a TLB could, and then so may its jump cache (invariant 19).
 */
static bool espt_kernel_code_mapped(CPUState *cpu, EsptTable *t,
                                    const TranslationBlock *tb, uint64_t pc)
{
    tb_page_addr_t ram[2] = { tb_page_addr0(tb), tb_page_addr1(tb) };
    vaddr vpage = pc & ~(vaddr)(ESPT_PAGE - 1);
    int i;

    for (i = 0; i < 2 && ram[i] != -1; i++, vpage += ESPT_PAGE) {
        gpointer v = t->pages ? g_hash_table_lookup(t->pages,
                                                    ESPT_VKEY(vpage)) : NULL;

        if ((!v || espt_page_dormant(v)) &&
            espt_kernel_map_code(cpu, t, vpage)) {
            v = g_hash_table_lookup(t->pages, ESPT_VKEY(vpage));
        }
        if (!v || espt_page_dormant(v) || !espt_page_exec(v) ||
            espt_page_ram(v) != (ram[i] & ~(tb_page_addr_t)(ESPT_PAGE - 1))) {
            return false;
        }
    }
    return i > 0;
}

/*
 * @tb goes into a jump cache for @pc.  A CF_ESPT TB goes into
 * espt_thread_jc, here, marking the code granules it spans so that
 * flushes of its pages find it.  A CF_ESPT_KERN TB whose code the kernel
 * table maps goes there too, and also into cpu->tb_jmp_cache, so that a
 * lookup that misses the kernel table's cache finds it as before.  Any
 * other goes into cpu->tb_jmp_cache, by the caller.
 */
bool espt_jmp_cache_add(CPUState *cpu, const TranslationBlock *tb,
                        uint64_t pc)
{
    EsptTable *t = espt_thread_table;
    bool kern = tb_cflags(tb) & CF_ESPT_KERN;
    intptr_t off;
    uint64_t e;

    if (kern) {
        if (!espt_kernel_jumps()) {
            return false;
        }
        if (!t || t->asid != ESPT_KTABLE || (tb_cflags(tb) & ESPT_CF_PCREL) ||
            !espt_kernel_code_mapped(cpu, t, tb, pc)) {
            qatomic_inc(&espt_stats.kernel_jc_refused);
            return false;
        }
        qatomic_inc(&espt_stats.kernel_jc_adds);
    } else if (!(tb_cflags(tb) & CF_ESPT)) {
        return false;
    }
    t->owner->jc_misses++;
    espt_code_mark(t->code, pc, tb->size);
    if (unlikely(!t->jc_used)) {
        qemu_mutex_lock(&espt.lock);
        t->jc_used = true;
        espt_set_live(t);
        qemu_mutex_unlock(&espt.lock);
    }
    off = (uintptr_t)tb - t->jc->base;
    e = (uint64_t)(uint32_t)off << 32 | (uint32_t)pc;
    /* Out of reach, or the empty word: leave it to the TB hash table. */
    if (off == (int32_t)off && e) {
        uint32_t h = kern ? espt_kjc_hash(pc, tb->flags, tb->cs_base)
                          : espt_jmp_cache_hash(pc);

        qatomic_set(&t->jc->entry[h & t->jc->mask], e);
    }
    return !kern;
}

/* tb_flush() frees every TB: forget them (all vCPUs are stopped). */
void espt_tb_flush(void)
{
    int i, j;

    if (!espt_enabled) {
        return;
    }
    if (espt_jump_ops) {
        espt_jump_ops->tb_flush();
    }
    for (i = 0; i < espt.ncpus; i++) {
        for (j = 0; j < ESPT_NTABLES; j++) {
            if (espt.cpus[i].tables[j].jc_used) {
                espt_jc_clear(espt.cpus[i].tables[j].jc);
            }
        }
    }
}
