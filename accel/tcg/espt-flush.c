/*
 * qemu-espt: the softmmu's TLB maintenance, followed in the shadow tables.
 *
 * cputlb's flush workers call espt_tlb_flush*() for every flush, on the
 * vCPU's own thread: a flush that covers the ESPT mmu index empties the
 * pages it could have changed from every table of the vCPU (invariant 1),
 * unless the target said it cannot change user mappings
 * (espt_flush_suppress(): DACR writes, ASID switches; invariant 2).
 * physmem's dirty-memory resets write-protect every alias of the pages
 * whose writes the softmmu must see again (espt_reset_dirty(); invariant
 * 3).  See docs/espt.md.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "exec/ram_addr.h"
#include "hw/core/cpu.h"
#include "trace.h"
#include "espt-internal.h"

#include <sys/mman.h>

/*
 * The mmu indexes of @idxmap that have tables: the user one, and with
 * espt-kernel=on the kernel's.
 */
static bool espt_covers(uint16_t idxmap)
{
    return espt_enabled &&
           ((idxmap & (1 << espt_mmu_idx)) ||
            (espt_kernel_mmu_idx >= 0 &&
             (idxmap & (1 << espt_kernel_mmu_idx))));
}

static bool espt_table_covered(EsptTable *t, uint16_t idxmap)
{
    return idxmap & (1 << t->mmu_idx);
}

void espt_flush_suppress(CPUState *cpu, bool suppress)
{
    if (espt_enabled) {
        espt_cpu(cpu)->suppress = suppress ? ESPT_SUPPRESS_KEEP
                                           : ESPT_SUPPRESS_NONE;
    }
}

void espt_flush_skipped(CPUState *cpu)
{
    qatomic_inc(&espt_stats.flush_suppressed);
}

void espt_flush_narrowed(CPUState *cpu)
{
    qatomic_inc(&espt_stats.flush_narrowed);
}

static void espt_tlbi_asid_work(CPUState *cpu, run_on_cpu_data d)
{
    EsptCpu *c = espt_cpu(cpu);
    int asid = d.host_int;

    /* The softmmu TLB is not tagged: it drops everything, as upstream. */
    c->suppress = ESPT_SUPPRESS_SCOPED;
    tlb_flush(cpu);
    c->suppress = ESPT_SUPPRESS_NONE;
    trace_espt_flush(cpu->cpu_index, "asid", asid);
    if (test_bit(asid, c->live)) {
        qemu_mutex_lock(&espt.lock);
        espt_drop_all(&c->tables[asid]);
        qatomic_inc(&espt_stats.flush_asid);
        qemu_mutex_unlock(&espt.lock);
    }
}

bool espt_tlbi_asid(CPUState *src, int asid, bool broadcast)
{
    CPUState *cpu;
    run_on_cpu_data d = RUN_ON_CPU_HOST_INT(asid & (ESPT_ASIDS - 1));

    if (!espt_enabled) {
        return false;
    }
    if (!broadcast) {
        espt_tlbi_asid_work(src, d);
        return true;
    }
    /* Like tlb_flush_all_cpus_synced(): done when src resumes. */
    CPU_FOREACH(cpu) {
        if (cpu != src) {
            async_run_on_cpu(cpu, espt_tlbi_asid_work, d);
        }
    }
    async_safe_run_on_cpu(src, espt_tlbi_asid_work, d);
    return true;
}

void espt_tlb_flush(CPUState *cpu, uint16_t idxmap)
{
    EsptCpu *c;
    bool kernel;

    if (!espt_covers(idxmap)) {
        return;
    }
    c = espt_cpu(cpu);
    if (c->suppress) {
        /*
         * Also for the kernel table: it holds global translations only,
         * which an ASID switch or TLBIASID does not change, and a DACR
         * write drops its pages of the domains it revokes itself
         * (espt_kernel_revoke()).
         */
        if (c->suppress == ESPT_SUPPRESS_KEEP) {
            qatomic_inc(&espt_stats.flush_suppressed);
        }
        return;
    }
    if (bitmap_empty(c->live, ESPT_NTABLES)) {
        /* Only this vCPU's thread fills its tables: nothing to drop. */
        return;
    }
    /* QEMU's TLB is not tagged: a full flush may be TLBIALL. */
    trace_espt_flush(cpu->cpu_index, "all", -1);
    kernel = espt_table_covered(&c->tables[ESPT_KTABLE], idxmap) &&
             test_bit(ESPT_KTABLE, c->live);
    if (kernel && espt_kwatch_holds(cpu, c)) {
        /* Every translation it holds a walk would find now: keep it. */
        qatomic_inc(&espt_stats.kernel_flush_all);
        qatomic_inc(&espt_stats.kernel_flush_kept);
        kernel = false;
    }
    qemu_mutex_lock(&espt.lock);
    if (idxmap & (1 << espt_mmu_idx)) {
        int i;

        for (i = find_first_bit(c->live, ESPT_ASIDS); i < ESPT_ASIDS;
             i = find_next_bit(c->live, ESPT_ASIDS, i + 1)) {
            espt_drop_all(&c->tables[i]);
        }
        qatomic_inc(&espt_stats.flush_all);
    }
    if (kernel) {
        espt_kernel_sleep(&c->tables[ESPT_KTABLE]);
        qatomic_inc(&espt_stats.kernel_flush_all);
        qemu_mutex_unlock(&espt.lock);
        espt_kernel_count_sleep(cpu, c);
        return;
    }
    qemu_mutex_unlock(&espt.lock);
}

void espt_kernel_revoke(CPUState *cpu, uint16_t revoked)
{
    EsptCpu *c;
    EsptTable *t;
    GHashTableIter it;
    gpointer k, v;
    GArray *drop;
    guint i;

    if (!espt_enabled || espt_kernel_mmu_idx < 0 || !revoked) {
        return;
    }
    c = espt_cpu(cpu);
    t = &c->tables[ESPT_KTABLE];
    if (!test_bit(ESPT_KTABLE, c->live) || !t->pages ||
        !(t->attrs_held & revoked)) {
        return;                 /* the usual case: no page of theirs */
    }
    qemu_mutex_lock(&espt.lock);
    drop = g_array_new(false, false, sizeof(vaddr));
    g_hash_table_iter_init(&it, t->pages);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (revoked & (1 << espt_page_attrs(v))) {
            vaddr va = ESPT_KEYV(k);

            g_array_append_val(drop, va);
        }
    }
    for (i = 0; i < drop->len; i++) {
        vaddr va = g_array_index(drop, vaddr, i);

        espt_drop_page(t, va);
        /* Fetches from it may fault now: its TBs leave the cache. */
        if (espt_jc_has_page(t, va)) {
            espt_kernel_jc_drop(t);
        }
    }
    if (drop->len) {
        qatomic_inc(&espt_stats.kernel_revoked);
        trace_espt_flush(cpu->cpu_index, "kernel-revoke", revoked);
    }
    qemu_mutex_unlock(&espt.lock);
    g_array_free(drop, true);
}

/*
 * The recorded large page that @addr is in (EsptTable.large), or -1.
 * Large pages of one table do not overlap: one walk maps an address.
 */
static int espt_large_at(EsptTable *t, vaddr addr)
{
    unsigned i;

    for (i = 0; i < t->nlarge; i++) {
        if (((addr ^ t->large[i]) >> t->large_bits[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * A flush inside recorded large page @i: that large translation is gone,
 * so drop every page mapped from it (and forget it).
 */
static void espt_flush_large(EsptTable *t, int i)
{
    vaddr base = t->large[i], end = base + ((vaddr)1 << t->large_bits[i]);
    vaddr a;

    for (a = base; a < end; a += ESPT_PAGE) {
        espt_drop_page(t, a);
        if (espt_jc_has_page(t, a)) {
            espt_jc_empty(t);
            qatomic_inc(&espt_stats.flush_code);
        }
    }
    /* Unless a failed unmap emptied the table, which forgot them all. */
    if ((unsigned)i < t->nlarge && t->large[i] == base) {
        t->large[i] = t->large[--t->nlarge];
        t->large_bits[i] = t->large_bits[t->nlarge];
    }
    qatomic_inc(&espt_stats.flush_large);
}

/*
 * A flush in a granule marked in large_granules: the large page it falls
 * in (at most 2 MiB) lies in the 2 MiB-aligned region around @addr, so
 * drop that region's pages.  The mark stays: another large page may be
 * in the same granule (granules alias every 4 GiB), and a region without
 * pages costs only the look-ups.
 */
static void espt_flush_large_region(EsptTable *t, vaddr addr)
{
    vaddr base = addr & ~(((vaddr)1 << ESPT_LARGE_EXACT) - 1);
    vaddr a;

    for (a = base; a < base + ((vaddr)1 << ESPT_LARGE_EXACT); a += ESPT_PAGE) {
        espt_drop_page(t, a);
        if (espt_jc_has_page(t, a)) {
            espt_jc_empty(t);
            qatomic_inc(&espt_stats.flush_code);
        }
    }
    qatomic_inc(&espt_stats.flush_large);
}

/*
 * Page and range flushes carry no ASID here: drop the page from every
 * table of the vCPU.  Dropping more than needed only costs a refault.
 */
static void espt_flush_pages(EsptTable *t, vaddr addr, vaddr len)
{
    vaddr a;
    int i;

    if (len >= 256 * ESPT_PAGE ||
        ((addr & t->large_mask) == t->large_addr) ||
        (((addr + len - 1) & t->large_mask) == t->large_addr)) {
        /* Inside the span of large pages: like the softmmu, drop all. */
        espt_drop_all(t);
        qatomic_inc(&espt_stats.flush_all);
        return;
    }
    for (a = addr & ~(vaddr)(ESPT_PAGE - 1); a < addr + len; a += ESPT_PAGE) {
        i = espt_large_at(t, a);
        if (i >= 0) {
            espt_flush_large(t, i);
            continue;
        }
        if (test_bit(espt_granule(a), t->large_granules)) {
            espt_flush_large_region(t, a);
            continue;
        }
        if (test_bit(espt_granule(a), t->granules) &&
            !(espt_cfg.test_break & (t->asid == ESPT_KTABLE ?
                                     ESPT_BREAK_KERNEL_PAGE_FLUSH :
                                     ESPT_BREAK_PAGE_FLUSH))) {
            espt_drop_page(t, a);
            if (t->asid == ESPT_KTABLE) {
                espt_kwatch_forget(t->owner, a);
            }
        }
        if (espt_jc_has_page(t, a)) {
            espt_jc_empty(t);
            qatomic_inc(&espt_stats.flush_code);
        }
    }
}

/*
 * Whether espt_flush_pages() would change @t.  Needs no lock: only the
 * owner vCPU's thread, which runs the flush, changes these fields.
 */
static bool espt_flush_hits(EsptTable *t, vaddr addr, vaddr len)
{
    vaddr a;

    if (len >= 256 * ESPT_PAGE ||
        ((addr & t->large_mask) == t->large_addr) ||
        (((addr + len - 1) & t->large_mask) == t->large_addr)) {
        return true;
    }
    for (a = addr & ~(vaddr)(ESPT_PAGE - 1); a < addr + len; a += ESPT_PAGE) {
        if (test_bit(espt_granule(a), t->granules) ||
            test_bit(espt_granule(a), t->large_granules) ||
            espt_jc_has_page(t, a) || espt_large_at(t, a) >= 0) {
            return true;
        }
    }
    return false;
}

void espt_tlb_flush_range(CPUState *cpu, vaddr addr, vaddr len,
                          uint16_t idxmap)
{
    EsptCpu *c;
    int i;

    if (!espt_covers(idxmap)) {
        return;
    }
    c = espt_cpu(cpu);
    if (c->suppress) {
        return;                 /* as in espt_tlb_flush() */
    }
    if (len <= ESPT_PAGE) {
        c->flush_page++;
    } else {
        qatomic_inc(&espt_stats.flush_range);
    }
    /*
     * Only this vCPU's thread fills its tables.  Most page flushes (kmap
     * of highmem pages, kernel mappings) hit no table: skip the lock.
     */
    for (i = find_first_bit(c->live, ESPT_NTABLES); i < ESPT_NTABLES;
         i = find_next_bit(c->live, ESPT_NTABLES, i + 1)) {
        if (espt_table_covered(&c->tables[i], idxmap) &&
            espt_flush_hits(&c->tables[i], addr, len)) {
            break;
        }
    }
    if (i >= ESPT_NTABLES) {
        return;
    }
    trace_espt_flush_page(cpu->cpu_index, addr, len);
    qemu_mutex_lock(&espt.lock);
    for (i = find_first_bit(c->live, ESPT_NTABLES); i < ESPT_NTABLES;
         i = find_next_bit(c->live, ESPT_NTABLES, i + 1)) {
        if (espt_table_covered(&c->tables[i], idxmap)) {
            espt_flush_pages(&c->tables[i], addr, len);
        }
    }
    qemu_mutex_unlock(&espt.lock);
}

void espt_tlb_flush_page(CPUState *cpu, vaddr addr, uint16_t idxmap)
{
    espt_tlb_flush_range(cpu, addr, 1, idxmap);
}

/*
 * The host refused both to write-protect and to unmap @t's alias of RAM
 * page @ram (called with espt.lock held).  The alias stays writable, so:
 * the table is stale (its owner stops using CF_ESPT TBs on it at its next
 * TB, and cpu_exec() entry or an ARM hflags rebuild runs it on softmmu
 * until the table can be emptied), and the page is marked dirty again
 * for migration and display, which send or redraw it once more rather
 * than miss a store made through the alias before the owner stopped.
 */
static void espt_protect_failed(EsptTable *t, ram_addr_t ram)
{
    CPUState *owner = qemu_get_cpu(t->owner - espt.cpus);

    espt_mark_stale(t);
    cpu_physical_memory_set_dirty_range(ram, ESPT_PAGE,
                                        (1 << DIRTY_MEMORY_VGA) |
                                        (1 << DIRTY_MEMORY_MIGRATION));
    if (owner) {
        cpu_exit(owner);
    }
}

void espt_reset_dirty(ram_addr_t start, ram_addr_t length)
{
    ram_addr_t ram, end = start + length;
    GSList *l;

    /*
     * Always under the lock, even with nothing mapped: espt_map() checks
     * the dirty bits and installs the alias under it, so a mapping racing
     * with this reset is either protected here or sees the cleared bits.
     */
    if (!espt_enabled) {
        return;
    }
    qemu_mutex_lock(&espt.lock);
    for (ram = start & ~(ram_addr_t)(ESPT_PAGE - 1); ram < end;
         ram += ESPT_PAGE) {
        GSList *unmapped = NULL;

        l = g_hash_table_lookup(espt.rmap, (gpointer)(uintptr_t)ram);
        for (; l; l = l->next) {
            EsptAlias *a = l->data;

            uint8_t *h = espt_host(a->t, a->vpage);
            gpointer v = g_hash_table_lookup(a->t->pages, ESPT_VKEY(a->vpage));

            if (espt_page_dormant(v)) {
                /* PROT_NONE already: it comes back read-only. */
                g_hash_table_insert(a->t->pages, ESPT_VKEY(a->vpage),
                                    espt_page_ro(v));
                continue;
            }
            if (mprotect(h, ESPT_PAGE, PROT_READ) == 0) {
                g_hash_table_insert(a->t->pages, ESPT_VKEY(a->vpage),
                                    espt_page_ro(v));
                qatomic_inc(&espt_stats.write_protects);
                trace_espt_write_protect(a->t->owner - espt.cpus, a->t->asid,
                                         a->vpage, ram);
                continue;
            }
            espt_host_failed("write-protect", errno);
            if (espt_unmap_host(h, ESPT_PAGE)) {
                /* No access at all is less than read-only: refaults. */
                unmapped = g_slist_prepend(unmapped, a);
                continue;
            }
            espt_protect_failed(a->t, ram);
        }
        for (l = unmapped; l; l = l->next) {
            EsptAlias *a = l->data;

            /* a is freed with its reverse-map entry. */
            espt_forget_page(a->t, a->vpage, ram);
        }
        g_slist_free(unmapped);
    }
    qemu_mutex_unlock(&espt.lock);
}
