/*
 * qemu-espt: direct jumps of CF_ESPT TBs chained across guest pages
 * (docs/espt.md, invariant 13).
 *
 * Upstream chains a TB only to a target on the page it starts on: the
 * virtual page of any other target may be remapped without the TB being
 * invalidated.  A CF_ESPT TB runs only in user mode of its vCPU's current
 * shadow table, whose jump cache already holds TBs exactly as long as the
 * table's translations of their code (invariant 7).  So a direct jump to
 * another page gets a link slot: a word with the TB it last led to and
 * the key of the table it was linked in.  Each table has a key, fresh from
 * one global counter whenever its jump cache is emptied; the vCPU's
 * current key is a word the generated code reads from env
 * (CPUNegativeOffsetState.espt_chain_key).  The jump is taken through the
 * slot when the slot's key is the vCPU's and the TB is not invalidated;
 * otherwise espt_chain() looks the target up as helper_lookup_tb_ptr()
 * does and links the slot to what that returned.  A vCPU whose next TBs
 * are not CF_ESPT has key 0, which no slot holds, and an empty jump cache
 * for its inline lookups (espt_chain_leave()).
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "cpu.h"
#include "exec/exec-all.h"
#include "exec/translator.h"
#include "tcg/tcg.h"
#include "tcg/tcg-op.h"
#include "espt-internal.h"
#include "tb-hash.h"
#include "tb-jmp-cache.h"
/*
 * ESPT's TCG helpers (exec/espt-helper.h) are the accelerator's.  Since
 * 8.1 a set of helpers is declared and registered on its own, as here;
 * before, a hook in accel/tcg/tcg-runtime.h declares them with upstream's.
 */
#if __has_include("exec/helper-info.c.inc")
#define HELPER_H "exec/espt-helper.h"
#include "exec/helper-proto.h.inc"
#include "exec/helper-gen.h.inc"
#include "exec/helper-info.c.inc"
#undef HELPER_H
#else
#include "exec/helper-proto.h"
#include "exec/helper-gen.h"
#endif

/*
 * One direct jump's link.  @link is read by generated code in one load:
 * the key it was linked under in the low half (ESPT_CHAIN_KEY_NONE when
 * unlinked, never a vCPU's key) and, in the high half, the target TB's
 * signed offset from espt_chain_base.  The rest is the helper's.
 */
typedef struct EsptChainSlot {
    uint64_t link;
    vaddr dest;                 /* the guest PC the jump goes to */
    uint32_t cflags;            /* the jumping TB's: its target's too */
    int32_t cpu;                /* the vCPU that linked it last */
    uint32_t moves;             /* times another vCPU took it over */
} EsptChainSlot;

/*
 * Slots for this many jumps (two per TB at most); when they run out, the
 * jumps translated after that use the lookup helper until tb_flush().
 */
#define ESPT_CHAIN_SLOTS    (1 << 21)
/*
 * A slot taken over by other vCPUs this often is left unlinked: threads
 * of one process on several vCPUs (one table each, so several keys) would
 * otherwise rewrite its cache line on every pass.
 */
#define ESPT_CHAIN_MOVES    8
/* Keys left when the counter asks for a tb_flush(), which restarts it. */
#define ESPT_CHAIN_KEY_SPARE (1u << 16)

#define ESPT_CHAIN_KEY_OFS      ESPT_NEG_OFS(espt_chain_key)
#define espt_chain_key_of(cs)   (&espt_neg(cs)->espt_chain_key)

static EsptChainSlot *espt_slots;
/* An address in the TCG code buffer (at most 2 GiB): TBs are near it. */
static uintptr_t espt_chain_base;
static uint32_t espt_slots_used;
static uint32_t espt_chain_next = 1;
static bool espt_chain_flush_asked;
/*
 * The inline lookups' jump cache of a vCPU off CF_ESPT: every entry empty,
 * and the TB an empty entry points at is readable.
 */
static TranslationBlock espt_tb_none;
static union {
    EsptJumpCache jc;
    char room[sizeof(EsptJumpCache) + sizeof(uint64_t)];   /* one entry */
} espt_jc_none_store = { .jc = { .base = (uintptr_t)&espt_tb_none } };
#define espt_jc_none (espt_jc_none_store.jc)

static void espt_chain_init(void)
{
    size_t len = ESPT_CHAIN_SLOTS * sizeof(EsptChainSlot);
    void *p;

    if (!espt_cfg.chain) {
        return;                 /* espt-chain=off */
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        /* No chaining: every jump to another page takes the lookup. */
        espt_host_failed("reserve chain slots", errno);
        return;
    }
    espt_slots = p;
    espt_chain_next = espt_cfg.chain_key_start;
}

/* Safe work, every vCPU out of its TBs: the code buffer may go. */
static void espt_chain_flush_work(CPUState *cpu, run_on_cpu_data data)
{
    qatomic_inc(&espt_stats.chain_flushes);
    tb_flush(cpu);
}

/* A fresh key, unique until the next tb_flush(); 0 once they ran out. */
static uint32_t espt_chain_new_key(void)
{
    uint32_t k = qatomic_fetch_inc(&espt_chain_next);

    if (unlikely(k >= ESPT_CHAIN_KEY_LAST - ESPT_CHAIN_KEY_SPARE)) {
        /*
         * Old links could match a reused key: start again from none, after
         * a tb_flush().  Never from here: this runs in the fault handler
         * and in helpers (hflags rebuilds), inside a TB that a synchronous
         * flush would free (10.0 flushes at once without CF_PARALLEL).
         */
        if (!qatomic_xchg(&espt_chain_flush_asked, true) && first_cpu) {
            async_safe_run_on_cpu(first_cpu, espt_chain_flush_work,
                                  RUN_ON_CPU_NULL);
        }
        if (k > ESPT_CHAIN_KEY_LAST) {
            qatomic_set(&espt_chain_next, ESPT_CHAIN_KEY_LAST + 1);
            return 0;                       /* links nothing */
        }
    }
    return k;
}

/*
 * @t's jump cache is being emptied (any thread, usually its owner's): no
 * link made under its old key may be taken again.  If @t is its vCPU's
 * current table, the vCPU's key changes at once; espt_chain_enter()
 * re-reads the table's key after publishing the vCPU's, so it cannot put
 * the old one back.
 */
static void espt_chain_rekey(EsptTable *t)
{
    EsptCpu *c = t->owner;

    if (!espt_slots) {
        return;
    }
    qatomic_set(&t->chain_key, espt_chain_new_key());
    /* The new key before reading chain_table: pairs with enter()'s. */
    smp_mb();
    if (qatomic_read(&c->chain_table) == t && c->chain_key) {
        uint32_t cur = qatomic_read(c->chain_key);

        /* Not if the vCPU left ESPT (espt_chain_leave()): 0 stays 0. */
        if (cur) {
            qatomic_cmpxchg(c->chain_key, cur, qatomic_read(&t->chain_key));
        }
    }
}

/*
 * Whether @cpu's TBs may go to the next TB without a lookup.  Upstream
 * checks breakpoints (gdbstub's and the guest's own debug registers),
 * single-stepping and -d nochain only when it looks a TB up, so while
 * any of them is in force every chained jump and inline lookup must take
 * the lookup helper.  Breakpoints are inserted and removed only while
 * the vCPU is out of user mode (its own debug register writes at PL1) or
 * stopped (gdbstub, reset, loadvm), and it comes back through
 * espt_update(), which calls us: so this is asked at every change.
 */
static bool espt_chain_may_skip_lookup(CPUState *cpu)
{
    return (QTAILQ_EMPTY(&cpu->breakpoints) ||
            (espt_cfg.test_break & ESPT_BREAK_BREAKPOINTS)) &&
           !(curr_cflags(cpu) & (CF_NO_GOTO_TB | CF_NO_GOTO_PTR |
                                 CF_COUNT_MASK));
}

/* @cpu runs CF_ESPT TBs on @t next (its own thread). */
void espt_chain_enter(CPUState *cpu, EsptCpu *c, EsptTable *t)
{
    uint32_t *key = espt_chain_key_of(cpu);
    uint32_t k;

    if (unlikely(!espt_chain_may_skip_lookup(cpu))) {
        espt_chain_leave(cpu);
        return;
    }

    /* The table's jump cache, for inline lookups (espt_gen_lookup()). */
    espt_neg(cpu)->espt_jc = t->jc;
    if (likely(c->chain_table == t && *key && *key == t->chain_key)) {
        return;
    }
    if (!espt_slots) {
        *key = 0;
        return;
    }
    c->chain_key = key;
    qatomic_set(&c->chain_table, t);
    /* chain_table before the table's key: pairs with rekey()'s. */
    smp_mb();
    do {
        k = qatomic_read(&t->chain_key);
        if (!k) {
            /* First use of the table (or since tb_flush()). */
            qatomic_cmpxchg(&t->chain_key, 0, espt_chain_new_key());
            k = qatomic_read(&t->chain_key);
        }
        qatomic_set(key, k);
        /* The vCPU's key before checking the table's again. */
        smp_mb();
    } while (qatomic_read(&t->chain_key) != k);
}

/*
 * @cpu's next TBs are not CF_ESPT (the vCPU's thread, or any while it is
 * stopped): its chained jumps and inline lookups must find nothing, else a
 * CF_ESPT TB running now would go on to CF_ESPT TBs that a lookup with
 * its cflags does not return.  A rekey never turns key 0 into another
 * (cmpxchg), and espt_chain_enter() takes its slow path for key 0.
 */
void espt_chain_leave(CPUState *cpu)
{
    qatomic_set(espt_chain_key_of(cpu), 0);
    espt_neg(cpu)->espt_jc = &espt_jc_none;
}

/* tb_flush(): every TB is gone, and with them every link (exclusive). */
static void espt_chain_tb_flush(void)
{
    int i, j;

    if (!espt_slots) {
        return;
    }
    espt_slots_used = 0;
    espt_chain_next = espt_cfg.chain_key_start;
    espt_chain_flush_asked = false;
    for (i = 0; i < espt.ncpus; i++) {
        EsptCpu *c = &espt.cpus[i];

        for (j = 0; j < ESPT_NTABLES; j++) {
            c->tables[j].chain_key = 0;
        }
        c->chain_table = NULL;
        if (c->chain_key) {
            *c->chain_key = 0;
        }
    }
}

static EsptChainSlot *espt_chain_slot_new(vaddr dest, uint32_t cflags)
{
    uint32_t i = qatomic_fetch_inc(&espt_slots_used);
    EsptChainSlot *s;

    if (i >= ESPT_CHAIN_SLOTS) {
        qatomic_set(&espt_slots_used, ESPT_CHAIN_SLOTS);
        return NULL;
    }
    s = &espt_slots[i];
    s->link = ESPT_CHAIN_KEY_NONE;
    s->dest = dest;
    s->cflags = cflags;
    s->cpu = -1;
    s->moves = 0;
    return s;
}

bool espt_gen_chain(DisasContextBase *db, uint64_t dest)
{
    uint32_t cflags = tb_cflags(db->tb);
    EsptChainSlot *s;
    TCGv_ptr slot, tb, code, next;
    TCGv_i64 link;
    TCGv_i32 key, bad, tbcf;
    TCGLabel *miss;

    if (!(cflags & CF_ESPT) &&
        !((cflags & CF_ESPT_KERN) && espt_kernel_jumps())) {
        return false;
    }
    if ((cflags & (CF_NO_GOTO_TB | CF_NO_GOTO_PTR)) || !espt_cfg.chain ||
        !espt_slots) {
        return false;
    }
    s = espt_chain_slot_new(dest, cflags);
    if (!s) {
        return false;
    }
    if (unlikely(!qatomic_read(&espt_chain_base))) {
        qatomic_cmpxchg(&espt_chain_base, 0,
                        (uintptr_t)tcg_ctx->code_gen_buffer);
    }
    slot = tcg_constant_ptr(s);
    link = tcg_temp_new_i64();
    key = tcg_temp_new_i32();
    bad = tcg_temp_new_i32();
    tbcf = tcg_temp_new_i32();
    /* The checking mode reads it after the branch. */
    tb = espt_cfg.check ? espt_temp_new_tb_ptr() : tcg_temp_new_ptr();
    code = espt_temp_new_tb_ptr();

    /* One load: a link is taken only with the TB it was made to. */
    tcg_gen_ld_i64(link, slot, offsetof(EsptChainSlot, link));
    tcg_gen_ld_i32(key, espt_tcg_env, ESPT_CHAIN_KEY_OFS);
    tcg_gen_extrl_i64_i32(bad, link);
    tcg_gen_xor_i32(bad, bad, key);
    /*
     * The TB, read before the key is known to match: an unlinked slot
     * points at the start of the code buffer, a stale one at a TB of this
     * code buffer, which tb_flush() empties together with the slots.
     */
    tcg_gen_sari_i64(link, link, 32);
    tcg_gen_trunc_i64_ptr(tb, link);
    tcg_gen_addi_ptr(tb, tb, espt_chain_base);
    tcg_gen_ld_i32(tbcf, tb, offsetof(TranslationBlock, cflags));
    tcg_gen_andi_i32(tbcf, tbcf, CF_INVALID);
    tcg_gen_or_i32(bad, bad, tbcf);
    tcg_gen_ld_ptr(code, tb, offsetof(TranslationBlock, tc.ptr));
    miss = gen_new_label();
    tcg_gen_brcondi_i32(TCG_COND_NE, bad, 0, miss);
    if (espt_cfg.check) {
        gen_helper_espt_check_jump(espt_tcg_env, tb);
    }
    tcg_gen_goto_ptr(code);

    gen_set_label(miss);
    next = tcg_temp_new_ptr();
    gen_helper_espt_chain(next, espt_tcg_env, slot);
    tcg_gen_goto_ptr(next);
    return true;
}

/*
 * A kernel TB's chained jump or inline lookup missed the kernel table's
 * jump cache, and the lookup helper returned @code for @pc.  It got it
 * from the kernel table's cache (a link not made yet), or else from
 * cpu->tb_jmp_cache, where it also leaves what it found in the TB hash
 * table; that cache is emptied by every context switch, and its hits do
 * not fill the kernel table's.  So take the TB from there, and return it
 * if the kernel table's cache holds it now (put there if
 * espt_jmp_cache_add() admits it), else NULL.
 */
static const TranslationBlock *espt_kernel_jc_fill(CPUState *cpu, vaddr pc,
                                                   const void *code)
{
    CPUJumpCache *jc = cpu->tb_jmp_cache;
    uint32_t h = tb_jmp_cache_hash_func(pc);
    EsptJumpCache *kjc = espt_thread_jc;
    TranslationBlock *tb;
    espt_tb_pc_t now;
    espt_tb_cs_t cs;
    uint32_t f;
    uint64_t e;

    /* The lookup left the vCPU's state as the target TB starts in it. */
    cpu_get_tb_cpu_state(espt_cpu_env(cpu), &now, &cs, &f);
    tb = espt_kernel_jmp_cache_get(CF_ESPT_KERN, pc, f, cs);
    if (tb && now == pc && tb->tc.ptr == code) {
        return tb;
    }

#ifdef CF_PCREL
    tb = qatomic_read(&jc->array[h].tb);
    if (!tb || jc->array[h].pc != pc) {
        return NULL;
    }
#else
    tb = tb_jmp_cache_get_tb(jc, h);
    if (!tb || tb_jmp_cache_get_pc(jc, h, tb) != pc) {
        return NULL;
    }
#endif
    if (tb->tc.ptr != code || !(tb_cflags(tb) & CF_ESPT_KERN)) {
        return NULL;
    }
    h = espt_kjc_hash(pc, tb->flags, tb->cs_base) & kjc->mask;
    e = qatomic_read(&kjc->entry[h]);
    if ((uint32_t)e != (uint32_t)pc ||
        kjc->base + (int32_t)(e >> 32) != (uintptr_t)tb) {
        espt_jmp_cache_add(cpu, tb, pc);
        e = qatomic_read(&kjc->entry[h]);
    }
    if ((uint32_t)e == (uint32_t)pc &&
        kjc->base + (int32_t)(e >> 32) == (uintptr_t)tb) {
        return tb;
    }
    return NULL;
}

const void *HELPER(espt_chain)(CPUArchState *env, void *ptr)
{
    EsptChainSlot *s = ptr;
    CPUState *cpu = env_cpu(env);
    EsptCpu *c = espt_cpu(cpu);
    /* Before the lookup: a key that changes during it links nothing. */
    uint32_t key = qatomic_read(espt_chain_key_of(cpu));
    const void *code = HELPER(lookup_tb_ptr)(env);
    const TranslationBlock *tb;
    intptr_t off;

    c->chain_misses++;
    if ((uint32_t)qatomic_read(&s->link) != ESPT_CHAIN_KEY_NONE) {
        /* Linked in another table, under an old key, or to a TB gone. */
        c->chain_stale++;
    }
    if (code == tcg_code_gen_epilogue || key == ESPT_CHAIN_KEY_NONE || !key ||
        s->moves >= ESPT_CHAIN_MOVES) {
        return code;
    }
    /* What the lookup found, if it is a TB of this table's cache. */
    if (s->cflags & CF_ESPT_KERN) {
        tb = espt_kernel_jc_fill(cpu, s->dest, code);
    } else {
        tb = espt_jmp_cache_get(espt_jmp_cache_hash(s->dest), s->dest);
    }
    if (!tb || tb->tc.ptr != code || tb_cflags(tb) != s->cflags ||
        tb->pc != s->dest) {
        return code;
    }
    off = (intptr_t)tb - (intptr_t)espt_chain_base;
    if (off != (int32_t)off) {
        return code;
    }
    if (s->cpu != cpu->cpu_index) {
        if (s->cpu >= 0 && ++s->moves == ESPT_CHAIN_MOVES) {
            qatomic_set(&s->link, ESPT_CHAIN_KEY_NONE);
            qatomic_inc(&espt_stats.chain_shared);
            return code;
        }
        s->cpu = cpu->cpu_index;
    }
    qatomic_set(&s->link, (uint64_t)(uint32_t)off << 32 | key);
    c->chain_links++;
    return code;
}

/*
 * Inline lookup for the lookup exits of CF_ESPT TBs (indirect branches,
 * returns, the end of a TB that changed state): the table's jump cache
 * (invariant 7) is probed as tb_lookup() would, comparing the TB's PC,
 * flags and cs_base with what the target computes from the live state
 * (EsptTargetOps.gen_tb_state) and its cflags with the jumping TB's, so
 * an invalidated TB (CF_INVALID) never matches.  A cache entry holds the
 * PC's low half; with guest addresses above 4 GiB (segmented tables) the
 * TB's whole PC and cs_base are compared too.  A miss takes
 * helper_espt_lookup(): helper_lookup_tb_ptr(), which fills the cache.
 */
bool espt_gen_lookup(void)
{
    uint32_t cflags = espt_gen_cflags();
    bool wide = espt.segmented;
    TCGv_i32 pc32, flags, h, bad, t32;
    TCGv_i64 pc, csb, e, t64;
    TCGv_ptr jc, tb, code, next;
    TCGLabel *miss;

    if (!(cflags & CF_ESPT) &&
        !((cflags & CF_ESPT_KERN) && espt_kernel_jumps())) {
        return false;
    }
    if ((cflags & CF_NO_GOTO_PTR) || !espt_cfg.chain ||
        !espt_ops->gen_tb_state) {
        return false;
    }
    pc = espt_temp_new_tb_i64();
    flags = espt_temp_new_tb_i32();
    csb = espt_temp_new_tb_i64();
    espt_ops->gen_tb_state(pc, flags, csb);

    /* The entry: espt_jmp_cache_hash() of the PC, under the cache's mask. */
    jc = tcg_temp_new_ptr();
    tcg_gen_ld_ptr(jc, espt_tcg_env, ESPT_NEG_OFS(espt_jc));
    pc32 = tcg_temp_new_i32();
    tcg_gen_extrl_i64_i32(pc32, pc);
    h = tcg_temp_new_i32();
    tcg_gen_shri_i32(h, pc32, ESPT_JC_BITS);
    tcg_gen_xor_i32(h, h, pc32);
    t32 = tcg_temp_new_i32();
    if (cflags & CF_ESPT_KERN) {
        /* espt_kjc_hash(): the flags too */
        tcg_gen_xor_i32(h, h, flags);
        tcg_gen_extrl_i64_i32(t32, csb);
        tcg_gen_xor_i32(h, h, t32);
    }
    tcg_gen_ld_i32(t32, jc, offsetof(EsptJumpCache, mask));
    tcg_gen_and_i32(h, h, t32);
    t64 = tcg_temp_new_i64();
    tcg_gen_extu_i32_i64(t64, h);
    tcg_gen_shli_i64(t64, t64, 3);
    /* The checking mode reads it after the branch. */
    tb = espt_cfg.check ? espt_temp_new_tb_ptr() : tcg_temp_new_ptr();
    tcg_gen_trunc_i64_ptr(tb, t64);
    tcg_gen_add_ptr(tb, tb, jc);
    e = tcg_temp_new_i64();
    tcg_gen_ld_i64(e, tb, offsetof(EsptJumpCache, entry));

    /* Its PC's low half, and not the empty word. */
    bad = tcg_temp_new_i32();
    tcg_gen_extrl_i64_i32(bad, e);
    tcg_gen_xor_i32(bad, bad, pc32);
    tcg_gen_setcondi_i64(TCG_COND_EQ, t64, e, 0);
    tcg_gen_extrl_i64_i32(t32, t64);
    tcg_gen_or_i32(bad, bad, t32);

    /*
     * The TB, read whatever the word held: an empty one points at the
     * start of the code buffer, a displaced one at a TB of this buffer.
     */
    tcg_gen_sari_i64(e, e, 32);
    tcg_gen_trunc_i64_ptr(tb, e);
    tcg_gen_ld_ptr(jc, jc, offsetof(EsptJumpCache, base));
    tcg_gen_add_ptr(tb, tb, jc);
    tcg_gen_ld_i32(t32, tb, offsetof(TranslationBlock, cflags));
    tcg_gen_xori_i32(t32, t32, cflags);
    tcg_gen_or_i32(bad, bad, t32);
    tcg_gen_ld_i32(t32, tb, offsetof(TranslationBlock, flags));
    tcg_gen_xor_i32(t32, t32, flags);
    tcg_gen_or_i32(bad, bad, t32);
    if (wide) {
        /*
         * The whole PC and cs_base (64-bit fields wherever tables are
         * segmented: 10.0's TBs): any bit that differs is nonzero.
         */
        tcg_gen_ld_i64(e, tb, offsetof(TranslationBlock, pc));
        tcg_gen_xor_i64(e, e, pc);
        tcg_gen_ld_i64(t64, tb, offsetof(TranslationBlock, cs_base));
        tcg_gen_xor_i64(t64, t64, csb);
        tcg_gen_or_i64(e, e, t64);
        tcg_gen_setcondi_i64(TCG_COND_NE, e, e, 0);
        tcg_gen_extrl_i64_i32(t32, e);
    } else {
        /* Little-endian host: the low half (AArch32 TBs have no high one). */
        tcg_gen_ld_i32(t32, tb, offsetof(TranslationBlock, cs_base));
        tcg_gen_extrl_i64_i32(h, csb);
        tcg_gen_xor_i32(t32, t32, h);
    }
    tcg_gen_or_i32(bad, bad, t32);
    code = espt_temp_new_tb_ptr();
    tcg_gen_ld_ptr(code, tb, offsetof(TranslationBlock, tc.ptr));
    miss = gen_new_label();
    tcg_gen_brcondi_i32(TCG_COND_NE, bad, 0, miss);
    if (espt_cfg.check) {
        gen_helper_espt_check_jump(espt_tcg_env, tb);
    }
    tcg_gen_goto_ptr(code);

    gen_set_label(miss);
    next = tcg_temp_new_ptr();
    gen_helper_espt_lookup(next, espt_tcg_env, pc, flags, csb);
    tcg_gen_goto_ptr(next);
    return true;
}

const void *HELPER(espt_lookup)(CPUArchState *env, uint64_t pc_now,
                                uint32_t flags, uint64_t cs_base)
{
    CPUState *cpu = env_cpu(env);
    espt_tb_pc_t pc;
    espt_tb_cs_t cs;
    uint32_t f;
    const void *code;

    espt_cpu(cpu)->lookup_misses++;
    cpu_get_tb_cpu_state(env, &pc, &cs, &f);
    if (unlikely(pc != pc_now || f != flags || cs != cs_base)) {
        /* The target's gen_tb_state() is wrong: say so (tests fail). */
        qatomic_inc(&espt_stats.lookup_mismatch);
    }
    code = HELPER(lookup_tb_ptr)(env);
    if ((cpu->tcg_cflags & CF_ESPT_KERN) && code != tcg_code_gen_epilogue &&
        espt_thread_table->asid == ESPT_KTABLE) {
        espt_kernel_jc_fill(cpu, pc, code);
    }
    return code;
}

static uint64_t espt_chain_slots_used(void)
{
    return MIN(qatomic_read(&espt_slots_used), ESPT_CHAIN_SLOTS);
}

static void espt_chain_enter_op(CPUState *cpu, EsptCpu *c, EsptTable *t,
                                bool switched)
{
    if (unlikely(espt_cfg.check)) {
        espt_check_enter(cpu, c, t, switched);
    }
    espt_chain_enter(cpu, c, t);
}

static void espt_chain_kernel_enter_op(CPUState *cpu, EsptCpu *c,
                                       EsptTable *t)
{
    if (unlikely(espt_cfg.check)) {
        /* Every 50 ms: the kernel enters its table on every exception. */
        espt_check_enter(cpu, c, t, false);
    }
    if (espt_kernel_jumps()) {
        /* Its TBs chain and look up in the kernel table's cache. */
        espt_chain_enter(cpu, c, t);
    }
}

static void espt_chain_init_op(void)
{
    espt_chain_init();
    espt_check_init();
}

static const EsptJumpOps espt_chain_ops = {
    .init = espt_chain_init_op,
    .enter = espt_chain_enter_op,
    .leave = espt_chain_leave,
    .kernel_enter = espt_chain_kernel_enter_op,
    .rekey = espt_chain_rekey,
    .tb_flush = espt_chain_tb_flush,
    .slots_used = espt_chain_slots_used,
    .first_mismatches = espt_check_first_mismatches,
};

/* As target/arm/espt-arm.c registers its ops: before the accelerator. */
static void espt_chain_register(void)
{
    espt_register_jump_ops(&espt_chain_ops);
}

type_init(espt_chain_register)
