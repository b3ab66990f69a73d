/*
 * qemu-espt: keeping the kernel table across full TLB flushes.
 *
 * Debian's armmp kernels invalidate the whole TLB (TLBIALL) on every fork
 * and exit.  The kernel table's pages came from walks of the guest's
 * tables; a walk that reads the same descriptors finds the same
 * translation, and an architectural TLB may refill any translation the
 * tables hold at any time after an invalidation.  So when a full flush
 * finds every descriptor the table's pages came from unchanged, and the
 * registers the walks depend on too, the table may stay as it is: it
 * holds what the TLB could have refilled at that moment (invariant 18 of
 * docs/espt.md).
 *
 * The watch, per vCPU, filled as the kernel table gives pages access
 * (espt_fault()):
 * - roots: per MiB of guest address space, an address walked there and
 *   the first descriptor it read.  The first level's table depends on
 *   registers (TTBR0 is per process), so a check walks that address again
 *   and compares the first descriptor;
 * - descs: every descriptor below, by QEMU's host address, compared in
 *   place: the first descriptor being the same, the walk reads them at
 *   the same places.
 * A 4 KiB leaf descriptor that only one page's walk ended on follows that
 * page: dropped with it by a page flush, and given its new value when the
 * page is mapped again (the guest remaps vmalloc and fixmap slots).  Any
 * other change, or a page whose walk could not be watched, breaks the
 * watch: the next full flush puts the table to sleep as before
 * (espt_kernel_sleep()), which starts a new watch.
 *
 * Only the vCPU's own thread uses its watch.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/atomic.h"
#include "qemu/rcu.h"
#include "exec/ramlist.h"
#include "hw/core/cpu.h"
#include "espt-internal.h"

/* Roots per MiB: no VMSA format has a smaller first level. */
#define ESPT_KROOT_SHIFT 20
/* Beyond this many descriptors watched, a full flush sleeps instead. */
#define ESPT_KWATCH_MAX 65536

typedef struct EsptKRoot {
    vaddr va;
    uint64_t val;
} EsptKRoot;

#define ESPT_KDESC_SHARED ((vaddr)-1)

typedef struct EsptKDesc {
    uint64_t val;
    vaddr page;         /* the one page whose walk ends here, or SHARED */
    bool wide, be;
} EsptKDesc;

/*
 * The record holds QEMU's host addresses of guest RAM: a RAM block that
 * goes (a DIMM unplugged) makes every record stale.  Its memory is freed
 * after an RCU grace period, which a check spans.
 */
static unsigned espt_kwatch_ram_gen;

static void espt_kwatch_ram_removed(RAMBlockNotifier *n, void *host,
                                    size_t size, size_t max_size)
{
    qatomic_inc(&espt_kwatch_ram_gen);
}

static RAMBlockNotifier espt_kwatch_ram_notifier = {
    .ram_block_removed = espt_kwatch_ram_removed,
};

void espt_kwatch_init(void)
{
    ram_block_notifier_add(&espt_kwatch_ram_notifier);
}

static uint64_t espt_kdesc_read(void *host, bool wide, bool be)
{
    if (wide) {
        uint64_t v = qatomic_read__nocheck((uint64_t *)host);

        return be ? be64_to_cpu(v) : le64_to_cpu(v);
    } else {
        uint32_t v = qatomic_read((uint32_t *)host);

        return be ? be32_to_cpu(v) : le32_to_cpu(v);
    }
}

void espt_kwatch_reset(EsptCpu *c)
{
    if (c->kroots) {
        g_hash_table_remove_all(c->kroots);
        g_hash_table_remove_all(c->kdescs);
        g_hash_table_remove_all(c->kleaves);
    }
    c->kwatch_broken = false;
    c->kwatch_ram_gen = qatomic_read(&espt_kwatch_ram_gen);
}

static void espt_kwatch_break(EsptCpu *c)
{
    if (!c->kwatch_broken) {
        c->kwatch_broken = true;
        qatomic_inc(&espt_stats.kernel_watch_broken);
    }
}

/*
 * The kernel table of @c now gives access to the page at @addr, whose
 * softmmu translation is guest physical @phys, @writable or not, from a
 * page of 1 << @lg bytes; @w is what kernel_page() read for it.
 */
void espt_kwatch_add(CPUState *cpu, EsptCpu *c, vaddr addr,
                     const EsptWalk *w, uint64_t phys, bool writable,
                     unsigned lg)
{
    vaddr vpage = addr & ~(vaddr)(ESPT_PAGE - 1);
    EsptRegime now;
    EsptKRoot *r;
    int i;

    if (c->kwatch_broken) {
        return;
    }
    /* The softmmu's entry may be older than the tables: then unknown. */
    if (!w->n || w->phys != phys || (writable && !w->writable) ||
        !espt_ops->kernel_regime) {
        espt_kwatch_break(c);
        return;
    }
    if (!c->kroots) {
        c->kroots = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        c->kdescs = g_hash_table_new_full(NULL, NULL, NULL, g_free);
        c->kleaves = g_hash_table_new(NULL, NULL);
    }
    espt_ops->kernel_regime(cpu, &now);
    if (!g_hash_table_size(c->kroots)) {
        c->kregime = now;
    } else if (memcmp(&now, &c->kregime, sizeof(now))) {
        espt_kwatch_break(c);
        return;
    }
    r = g_hash_table_lookup(c->kroots,
                            ESPT_VKEY(addr >> ESPT_KROOT_SHIFT));
    if (!r) {
        r = g_new(EsptKRoot, 1);
        r->va = addr;
        r->val = w->d[0].val;
        g_hash_table_insert(c->kroots, ESPT_VKEY(addr >> ESPT_KROOT_SHIFT),
                            r);
    } else if (r->val != w->d[0].val) {
        espt_kwatch_break(c);
        return;
    }
    for (i = 1; i < w->n; i++) {
        bool leaf = i == w->n - 1 && lg == ESPT_PAGE_BITS;
        EsptKDesc *d = g_hash_table_lookup(c->kdescs, w->d[i].host);

        if (!d) {
            d = g_new(EsptKDesc, 1);
            d->val = w->d[i].val;
            d->wide = w->d[i].wide;
            d->be = w->d[i].be;
            d->page = leaf ? vpage : ESPT_KDESC_SHARED;
            g_hash_table_insert(c->kdescs, w->d[i].host, d);
            if (leaf) {
                g_hash_table_insert(c->kleaves, ESPT_VKEY(vpage),
                                    w->d[i].host);
            }
        } else if (d->val == w->d[i].val) {
            if (d->page != vpage) {
                d->page = ESPT_KDESC_SHARED;
            }
        } else if (leaf && d->page == vpage) {
            /*
             * Only this page's walk ended here, and it is faulting: what
             * it had mapped under the old value is being replaced, and
             * TBs cached for its old code with it.
             */
            d->val = w->d[i].val;
            if (espt_jc_has_page(&c->tables[ESPT_KTABLE], vpage)) {
                espt_kernel_jc_drop(&c->tables[ESPT_KTABLE]);
            }
        } else {
            espt_kwatch_break(c);
            return;
        }
    }
    if (g_hash_table_size(c->kroots) + g_hash_table_size(c->kdescs) >
        ESPT_KWATCH_MAX) {
        espt_kwatch_break(c);
    }
}

/* A page flush dropped @vpage from the kernel table of @c. */
void espt_kwatch_forget(EsptCpu *c, vaddr vpage)
{
    void *host;
    EsptKDesc *d;

    if (!c->kleaves) {
        return;
    }
    host = g_hash_table_lookup(c->kleaves, ESPT_VKEY(vpage));
    if (!host) {
        return;
    }
    g_hash_table_remove(c->kleaves, ESPT_VKEY(vpage));
    d = g_hash_table_lookup(c->kdescs, host);
    if (d && d->page == vpage) {
        g_hash_table_remove(c->kdescs, host);
    }
}

/*
 * A full flush of the kernel table of @c (@cpu's): may it keep its pages?
 * Yes while the watch is whole and a walk now would read what the pages'
 * walks read.
 */
bool espt_kwatch_holds(CPUState *cpu, EsptCpu *c)
{
    GHashTableIter it;
    gpointer k, v;
    EsptRegime now;

    if (espt_cfg.test_break & ESPT_BREAK_KERNEL_KEEP) {
        return true;            /* for the tests: keep, unchecked */
    }
    RCU_READ_LOCK_GUARD();
    if (c->kwatch_broken || !c->kroots || !g_hash_table_size(c->kroots) ||
        qatomic_read(&espt_kwatch_ram_gen) != c->kwatch_ram_gen) {
        return false;
    }
    espt_ops->kernel_regime(cpu, &now);
    if (memcmp(&now, &c->kregime, sizeof(now))) {
        return false;
    }
    g_hash_table_iter_init(&it, c->kroots);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        EsptKRoot *r = v;
        EsptWalk w;
        unsigned attrs;

        espt_ops->kernel_page(cpu, r->va, false, &attrs, &w);
        if (w.n < 1 || w.d[0].val != r->val) {
            return false;
        }
    }
    g_hash_table_iter_init(&it, c->kdescs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        EsptKDesc *d = v;

        if (espt_kdesc_read(k, d->wide, d->be) != d->val) {
            return false;
        }
    }
    return true;
}
