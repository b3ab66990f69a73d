/*
 * qemu-espt: the checking mode (-accel tcg,x-espt-check=on).
 *
 * ESPT replaces two things upstream relies on with caches of its own:
 * TB lookups (chained jumps across pages and inline lookups, invariant
 * 13) and softmmu TLB hits (the shadow tables, invariants 1-3).  Each is
 * exact only as long as every event that upstream's lookup or TLB would
 * notice also reaches ESPT's cache.  The checking mode compares, as the
 * guest runs, what ESPT is about to use with what upstream would compute
 * now, and counts each difference, so that a missed event fails a test
 * (the tests require zero) instead of waiting for a guest to go wrong:
 *
 * - every chained jump and inline lookup hit, before it enters its TB:
 *   the TB must be the one a full lookup in the current state would
 *   return (PC, flags, cs_base, cflags as curr_cflags() gives them, the
 *   physical pages of its code), and no breakpoint may be on its page;
 * - the shadow table a vCPU enters (every table switch, and its current
 *   table every ESPT_CHECK_AUDIT_NS): each mapped page against a
 *   non-faulting softmmu probe of the ESPT mmu index now, i.e. a walk of
 *   the guest page tables: the same RAM page, readable by the guest, not
 *   I/O or a watchpoint, and writable in the host only where the guest
 *   allows a write, no write watchpoint is there and the page holds no
 *   translated code or clean page for dirty logging.
 *
 * A probe may fill the softmmu TLB, which the softmmu may always do; it
 * runs no notdirty path and raises nothing.  Everything here is slow and
 * off by default.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "cpu.h"
#include "exec/exec-all.h"
#include "exec/ram_addr.h"
#include "espt-internal.h"
/* ESPT's TCG helpers: see espt-chain.c, which registers them. */
#if __has_include("exec/helper-proto.h.inc")
#define HELPER_H "exec/espt-helper.h"
#include "exec/helper-proto.h.inc"
#undef HELPER_H
#else
#include "exec/helper-proto.h"
#endif

/* The current table of a vCPU is audited again after this long. */
#define ESPT_CHECK_AUDIT_NS     (50 * 1000 * 1000)


static QemuMutex espt_check_lock;
static char *espt_check_first[ESPT_CHECK_FIRST];
static int espt_check_nfirst;

void espt_check_init(void)
{
    qemu_mutex_init(&espt_check_lock);
}

/* A mismatch: counted, and the first few kept for 'info espt'. */
static void G_GNUC_PRINTF(1, 2) espt_check_failed(const char *fmt, ...)
{
    va_list ap;

    qemu_mutex_lock(&espt_check_lock);
    if (espt_check_nfirst < ESPT_CHECK_FIRST) {
        va_start(ap, fmt);
        espt_check_first[espt_check_nfirst++] = g_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    qemu_mutex_unlock(&espt_check_lock);
}

char **espt_check_first_mismatches(int *n)
{
    char **v;
    int i;

    qemu_mutex_lock(&espt_check_lock);
    *n = espt_check_nfirst;
    v = g_new0(char *, espt_check_nfirst + 1);
    for (i = 0; i < espt_check_nfirst; i++) {
        v[i] = g_strdup(espt_check_first[i]);
    }
    qemu_mutex_unlock(&espt_check_lock);
    return v;
}

/*
 * The RAM address of guest code at @addr for an instruction fetch in the
 * current state, as get_page_addr_code() computes it, but without
 * raising anything: -1 where the fetch would fault or find no RAM.
 */
static ram_addr_t espt_check_code_addr(CPUState *cpu, vaddr addr)
{
    CPUArchState *env = espt_cpu_env(cpu);
    CPUTLBEntryFull *full;
    void *host = NULL;
    int flags;

    flags = espt_probe_access_full(env, addr, MMU_INST_FETCH,
                                   espt_cpu_mmu_index(cpu, true), true,
                                   &host, &full, 0);
    if ((flags & (TLB_INVALID_MASK | TLB_MMIO)) || !host) {
        return -1;
    }
    return qemu_ram_addr_from_host(host);
}

/* Whether upstream's lookup would stop at, or single-step, @pc. */
static const char *espt_check_breakpoints(CPUState *cpu, vaddr pc)
{
    CPUBreakpoint *bp;

    QTAILQ_FOREACH(bp, &cpu->breakpoints, entry) {
        if (bp->pc == pc) {
            if ((bp->flags & BP_GDB) ||
                ((bp->flags & BP_CPU) &&
                 CPU_GET_CLASS(cpu)->tcg_ops->debug_check_breakpoint(cpu))) {
                return "a breakpoint there";
            }
        } else if (((pc ^ bp->pc) & TARGET_PAGE_MASK) == 0) {
            return "a breakpoint on its page";
        }
    }
    return NULL;
}

/*
 * Generated code of a CF_ESPT TB is about to jump to @ptr's code through
 * a chained link or an inline lookup hit (espt_gen_check_jump()).
 */
void HELPER(espt_check_jump)(CPUArchState *env, const void *ptr)
{
    const TranslationBlock *tb = ptr;
    CPUState *cpu = env_cpu(env);
    espt_tb_pc_t pc;
    espt_tb_cs_t cs_base;
    uint32_t flags, cflags = tb_cflags(tb);
    const char *why = NULL;
    ram_addr_t ram;

    espt_cpu(cpu)->check_jumps++;
    if (cflags & CF_INVALID) {
        /*
         * Invalidated by another vCPU since the generated code looked:
         * the race upstream's own links have too (invariant 13).
         */
        return;
    }
    cpu_get_tb_cpu_state(env, &pc, &cs_base, &flags);
    if (tb->pc != pc) {
        why = "another PC";
    } else if (tb->cs_base != cs_base || tb->flags != flags) {
        why = "other TB flags";
    } else if (cflags != curr_cflags(cpu)) {
        why = "other cflags";
    } else {
        why = espt_check_breakpoints(cpu, pc);
    }
    if (!why) {
        ram = espt_check_code_addr(cpu, pc);
        if (ram == -1) {
            why = "code the vCPU cannot fetch";
        } else if (ram != tb_page_addr0(tb)) {
            why = "code of another physical page";
        } else if (tb_page_addr1(tb) != -1 &&
                   espt_check_code_addr(cpu, TARGET_PAGE_ALIGN(pc)) !=
                   tb_page_addr1(tb)) {
            why = "a second page that is another physical page";
        }
    }
    if (why) {
        qatomic_inc(&espt_check_stats.jump_errors);
        espt_check_failed("jump to pc 0x%" PRIx64 " entered TB 0x%" PRIx64
                          " cflags 0x%x: %s", (uint64_t)pc,
                          (uint64_t)tb->pc, cflags, why);
    }
}


/* A mapped page of a table, as the audit copies it. */
typedef struct EsptCheckPage {
    vaddr va;
    gpointer val;               /* espt_page_val() */
} EsptCheckPage;

/* A mapped page that disagreed with the guest's page tables. */
typedef struct EsptCheckSuspect {
    gpointer val;               /* its mapping then */
    int64_t since;              /* when it was first seen so (ns) */
    bool reported;
} EsptCheckSuspect;

/*
 * The guest may narrow a page-table entry and issue the TLB maintenance
 * for it a little later (Linux: mprotect() and fork() change many entries,
 * may reschedule, and flush at the end), and meanwhile another thread of
 * the process may run in user mode on the same table: a stale mapping
 * the architecture allows, as a TLB may hold the entry until then.  So a
 * disagreement counts as an error only once it has lasted: the same
 * mapping still there, still disagreeing, ESPT_CHECK_AUDIT_NS after it
 * was first seen; one that went away by then is a transient.
 */
static void espt_check_suspect(EsptTable *t, GHashTable *suspects,
                               EsptCheckPage *p, int64_t now,
                               const char *why)
{
    EsptCheckSuspect *old = t->check_suspects ?
        g_hash_table_lookup(t->check_suspects, ESPT_VKEY(p->va)) :
        NULL;
    EsptCheckSuspect *s = g_new0(EsptCheckSuspect, 1);

    s->val = p->val;
    s->since = now;
    if (old && old->val == p->val) {
        s->since = old->since;
        s->reported = old->reported;
    }
    if (!s->reported && now - s->since >= ESPT_CHECK_AUDIT_NS) {
        s->reported = true;
        qatomic_inc(&espt_check_stats.page_errors);
        espt_check_failed("table asid %d: page 0x%08" PRIx64 " (ram 0x%" PRIx64
                          ", %s) for %" PRId64 " ms: %s", t->asid,
                          (uint64_t)p->va,
                          (uint64_t)espt_page_ram(p->val),
                          espt_page_writable(p->val) ? "writable" :
                          "read-only", (now - s->since) / 1000000, why);
    }
    g_hash_table_insert(suspects, ESPT_VKEY(p->va), s);
}

/* The audit of @t is over: @suspects are the pages that disagree now. */
static void espt_check_suspects_replace(EsptTable *t, GHashTable *suspects)
{
    GHashTableIter it;
    gpointer k, v;

    if (t->check_suspects) {
        g_hash_table_iter_init(&it, t->check_suspects);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            EsptCheckSuspect *n = suspects ?
                g_hash_table_lookup(suspects, k) : NULL;

            if (!n || n->val != ((EsptCheckSuspect *)v)->val) {
                qatomic_inc(&espt_check_stats.page_transients);
            }
        }
        g_hash_table_destroy(t->check_suspects);
    }
    t->check_suspects = suspects;
}

/*
 * Audit @t, the table @cpu (this thread's vCPU) is about to run code on:
 * every mapped page against what the softmmu would do now.  Returns how
 * many pages it checked.
 */
static guint espt_check_table(CPUState *cpu, EsptTable *t)
{
    CPUArchState *env = espt_cpu_env(cpu);
    GHashTableIter it;
    gpointer k, v;
    GArray *pages;
    guint i, n;
    int64_t now = get_clock();
    GHashTable *suspects;

    /* The owner maps and unmaps; others only write-protect meanwhile. */
    qemu_mutex_lock(&espt.lock);
    if (!t->pages || !g_hash_table_size(t->pages)) {
        qemu_mutex_unlock(&espt.lock);
        espt_check_suspects_replace(t, NULL);
        return 0;
    }
    suspects = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    pages = g_array_sized_new(false, false, sizeof(EsptCheckPage),
                              g_hash_table_size(t->pages));
    g_hash_table_iter_init(&it, t->pages);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        EsptCheckPage p = { .va = ESPT_KEYV(k), .val = v };

        if (!espt_page_dormant(v)) {    /* no access: nothing to check */
            g_array_append_val(pages, p);
        }
    }
    qemu_mutex_unlock(&espt.lock);

    for (i = 0; i < pages->len; i++) {
        EsptCheckPage *p = &g_array_index(pages, EsptCheckPage, i);
        ram_addr_t ram = espt_page_ram(p->val);
        bool w = espt_page_writable(p->val);
        CPUTLBEntryFull *full;
        void *host = NULL;
        const char *why = NULL;
        int flags;

        qatomic_inc(&espt_check_stats.pages);
        unsigned attrs = 0;

        flags = espt_probe_access_full(env, p->va, MMU_DATA_LOAD,
                                       t->mmu_idx, true, &host, &full, 0);
        if (t->asid == ESPT_KTABLE &&
            ((flags & TLB_INVALID_MASK) ||
             !espt_ops->kernel_page(cpu, p->va, false, &attrs, NULL))) {
            /*
             * The guest unmapped a global kernel page and has not yet
             * invalidated it, which an architectural TLB may keep as long
             * as it likes: Linux's vunmap() leaves the invalidation to a
             * later lazy purge, promising not to touch the address until
             * then.  A missed flush of a page mapped again elsewhere is
             * still caught below ("another guest physical page").
             */
            qatomic_inc(&espt_check_stats.kernel_unmapped);
        } else if (flags & TLB_INVALID_MASK) {
            why = "the guest maps no readable page there";
        } else if ((flags & (TLB_MMIO | TLB_DISCARD_WRITE)) || !host) {
            why = "not RAM";
        } else if (flags & TLB_WATCHPOINT) {
            why = "a watchpoint";
        } else if ((qemu_ram_addr_from_host(host) & TARGET_PAGE_MASK) != ram) {
            why = "another guest physical page";
        } else if (w && !(full->prot & PAGE_WRITE)) {
            why = "writable, the guest page is not";
        } else if (w && (cpu_watchpoint_address_matches(cpu, p->va,
                                                        ESPT_PAGE) &
                         BP_MEM_WRITE)) {
            why = "writable under a write watchpoint";
        } else if (w && cpu_physical_memory_is_clean(ram)) {
            why = "writable, a clean page (code or dirty logging)";
        } else if (t->asid == ESPT_KTABLE &&
                   attrs != espt_page_attrs(p->val)) {
            why = "kernel table: other attributes (domain)";
        }
        if (why) {
            /*
             * Only a page still mapped so counts: it may have been
             * write-protected meanwhile from another thread.
             */
            qemu_mutex_lock(&espt.lock);
            if (g_hash_table_lookup(t->pages, ESPT_VKEY(p->va)) !=
                p->val) {
                why = NULL;
            }
            qemu_mutex_unlock(&espt.lock);
        }
        if (why) {
            espt_check_suspect(t, suspects, p, now, why);
        }
    }
    n = pages->len;
    g_array_free(pages, true);
    espt_check_suspects_replace(t, suspects);
    return n;
}

/* @cpu (this thread's) enters user mode on @t, switching to it or not. */
void espt_check_enter(CPUState *cpu, EsptCpu *c, EsptTable *t, bool switched)
{
    int64_t now = get_clock();

    int64_t *next = t->asid == ESPT_KTABLE ? &c->kcheck_next
                                           : &c->check_next;

    if (now < c->check_quiet_until || (!switched && now < *next)) {
        return;
    }
    /*
     * An audit that found the table empty (or all dormant) checked
     * nothing: it stays due, for the next entry.  Otherwise a guest that
     * empties its table often (DACR or ASID churn) could go unaudited
     * for as long as the audits happen to fall on empty moments.
     */
    if (espt_check_table(cpu, t)) {
        /*
         * At most a sixth of the time in audits, of every table: kept
         * across full flushes and no longer emptied for the budget, the
         * kernel table holds the linear map (some 190k pages) and user
         * tables grow large, and auditing them every 50 ms and on every
         * switch made the suite up to 6 times slower.  A later audit
         * still sees a disagreement that lasts.
         */
        c->check_quiet_until = now + 6 * (get_clock() - now);
        *next = now + ESPT_CHECK_AUDIT_NS;
        qatomic_inc(&espt_check_stats.audits);
    }
}
