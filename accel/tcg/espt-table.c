/*
 * qemu-espt: shadow tables, their host mappings, the reverse map and the
 * budget of mapped pages.
 *
 * A table is a reserved 4 GiB region, or windows of them with a segment
 * map (espt-internal.h); its pages are
 * MAP_SHARED aliases of guest RAM pages, of the memfd that QEMU uses too,
 * recorded in the table's page hash and in the reverse map from RAM page
 * to aliases, so that the flush hooks (espt-flush.c) can drop them by
 * virtual page and write-protect them by RAM page.  Every host mapping
 * call may fail: nothing aborts, and no alias is left that grants more
 * than the softmmu would (docs/espt.md, invariant 10).
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "cpu.h"
#include "exec/ram_addr.h"
#include "hw/core/cpu.h"
#include "qemu/rcu.h"
#include "trace.h"
#include "espt-internal.h"

#include <sys/mman.h>
#include <asm/prctl.h>
#include <sys/syscall.h>

EsptState espt;
EsptStats espt_stats;
/* Written by the checking mode (espt-check.c), when it is built in. */
EsptCheckStats espt_check_stats;
__thread EsptTable *espt_thread_table;

static void espt_rmap_del(EsptTable *t, vaddr vpage, ram_addr_t ram)
{
    GSList *l = g_hash_table_lookup(espt.rmap, (gpointer)(uintptr_t)ram);
    GSList *it;

    for (it = l; it; it = it->next) {
        EsptAlias *a = it->data;

        if (a->t == t && a->vpage == vpage) {
            l = g_slist_delete_link(l, it);
            g_free(a);
            break;
        }
    }
    if (l) {
        g_hash_table_insert(espt.rmap, (gpointer)(uintptr_t)ram, l);
    } else {
        g_hash_table_remove(espt.rmap, (gpointer)(uintptr_t)ram);
    }
}

/*
 * Every host mapping call of the manager can fail: splitting a mapping
 * at vm.max_map_count gives ENOMEM, and other parts of QEMU share that
 * limit.  None may abort or leave a mapping that grants more than the
 * softmmu would: each failure is counted (host-failures), and the caller
 * empties tables or runs the access on softmmu instead.
 */
void espt_host_failed(const char *what, int err)
{
    if (qatomic_fetch_inc(&espt_stats.host_failures) == 0) {
        warn_report("espt: the host refused a shadow mapping (%s: %s); "
                    "ESPT empties tables or runs such accesses on softmmu "
                    "('info espt': host-failures)", what, strerror(err));
    }
}

/*
 * Back to reserved address space (PROT_NONE, keeping the reservation: a
 * munmap could let another mmap take the range).
 */
bool espt_unmap_host(uint8_t *host, uint64_t len)
{
    void *p = mmap(host, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                   -1, 0);

    if (p == MAP_FAILED) {
        espt_host_failed("unmap", errno);
        return false;
    }
    return true;
}

/* See EsptTable.stale; called with espt.lock held. */
void espt_mark_stale(EsptTable *t)
{
    if (!t->stale) {
        qatomic_inc(&espt_stats.tables_stale);
        trace_espt_flush(t->owner - espt.cpus, "stale", t->asid);
    }
    qatomic_set(&t->stale, true);
    espt_set_live(t);           /* so that flushes try to empty it again */
}

/* Forget a page that is no longer mapped; called with espt.lock held. */
void espt_forget_page(EsptTable *t, vaddr vpage, ram_addr_t ram)
{
    espt_rmap_del(t, vpage, ram);
    g_hash_table_remove(t->pages, ESPT_VKEY(vpage));
    espt_pages_gone(1);
}

/* Drop one page; called with espt.lock held. */
void espt_drop_page(EsptTable *t, vaddr vpage)
{
    gpointer v;

    if (!t->pages) {
        return;
    }
    v = g_hash_table_lookup(t->pages, ESPT_VKEY(vpage));
    if (!v) {
        return;
    }
    /* A mapped page's segment has a window. */
    if (!espt_unmap_host(espt_host(t, vpage), ESPT_PAGE)) {
        /*
         * Unmapping one page splits a host mapping; unmapping the whole
         * table replaces all of them by one, which the host can do.
         */
        espt_drop_all(t);
        return;
    }
    espt_forget_page(t, vpage, espt_page_ram(v));
    t->owner->window_drops++;
}

/* Mark a table live (holding pages or TBs); called with espt.lock held. */
void espt_set_live(EsptTable *t)
{
    if (!test_bit(t->asid, t->owner->live)) {
        set_bit(t->asid, t->owner->live);
        espt.tables_live++;
    }
}

/* Every window of @t back to reserved address space. */
static bool espt_unmap_windows(EsptTable *t)
{
    unsigned i, n = espt.segmented ? t->nsegs : 1;

    for (i = 0; i < n; i++) {
        if (!espt_unmap_host(t->base + i * ESPT_STRIDE, ESPT_REGION_SIZE)) {
            return false;
        }
    }
    return true;
}

/* Drop the whole table; called with espt.lock held. */
void espt_drop_all(EsptTable *t)
{
    GHashTableIter it;
    gpointer k, v;

    if (!test_bit(t->asid, t->owner->live)) {
        return;
    }
    if (t->jc_used) {
        espt_jc_empty(t);
        t->jc_used = false;
    }
    if (t->pages && g_hash_table_size(t->pages)) {
        if (!espt_unmap_windows(t)) {
            /* Keep its pages on record; see EsptTable.stale. */
            espt_mark_stale(t);
            return;
        }
        g_hash_table_iter_init(&it, t->pages);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            espt_rmap_del(t, ESPT_KEYV(k), espt_page_ram(v));
            espt_pages_gone(1);
            t->owner->window_drops++;
        }
        g_hash_table_remove_all(t->pages);
    } else if (t->stale) {
        /* A failed mmap may have left a hole in its reservation. */
        if (!espt_unmap_windows(t)) {
            return;
        }
    }
    qatomic_set(&t->stale, false);
    bitmap_zero(t->granules, 4096);
    t->large_addr = -1;
    t->large_mask = 0;
    t->nlarge = 0;
    bitmap_zero(t->large_granules, 4096);
    t->attrs_held = 0;
    if (t->asid == ESPT_KTABLE && t->owner->krefaults) {
        /* Refaults count from the last time the table was emptied. */
        g_hash_table_remove_all(t->owner->krefaults);
    }
    clear_bit(t->asid, t->owner->live);
    espt.tables_live--;
}

/* Every table of a vCPU; called with espt.lock held. */
/*
 * A full flush of the kernel table @t's mmu index (TLBIALL: Debian's armmp
 * kernels issue one on every fork and exit): none of its translations may
 * be used before the guest's tables are walked again.  Rather than unmap
 * every page and map it again on the next fault, make them all PROT_NONE
 * and keep them on record as dormant: a fault on one walks the guest's
 * tables as for any other page (espt_fault()), and where that finds the
 * same RAM page it is given its access back with mprotect() instead of
 * being mapped again (espt_map(), espt_map_run()).
 */
void espt_kernel_sleep(EsptTable *t)
{
    GHashTableIter it;
    gpointer k, v;

    if (!test_bit(t->asid, t->owner->live)) {
        return;
    }
    espt_kwatch_reset(t->owner);        /* a new watch for a new start */
    espt_kernel_guard_stale();
    /* Its cached TBs' code translations are no longer known either. */
    espt_kernel_jc_drop(t);
    if (t->stale || !t->pages || !g_hash_table_size(t->pages) ||
        mprotect(t->base, ESPT_REGION_SIZE, PROT_NONE)) {
        espt_drop_all(t);
        return;
    }
    g_hash_table_iter_init(&it, t->pages);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_hash_table_iter_replace(&it, (gpointer)((uintptr_t)v |
                                                  ESPT_PV_DORMANT));
    }
    if (t->owner->krefaults) {
        g_hash_table_remove_all(t->owner->krefaults);
    }
}

/* The process's host VMAs now (lines of /proc/self/maps), or -1. */
static long espt_count_vmas(void)
{
    char buf[16384];
    long n = 0;
    ssize_t r;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return -1;
    }
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        char *p = buf, *end = buf + r;

        while ((p = memchr(p, '\n', end - p))) {
            n++;
            p++;
        }
    }
    close(fd);
    return r < 0 ? -1 : n;
}

/*
 * @n pages were unmapped.  A raised budget goes down with them: pages
 * mapped again in their place may each take two VMAs, whatever the
 * unmapped ones took.
 */
void espt_pages_gone(long n)
{
    espt.pages -= n;
    if (espt.budget > espt.budget_base) {
        espt.budget = MAX(espt.budget_base, espt.budget - n);
    }
}

/*
 * May @more pages be mapped?  The budget counts pages, as if each took
 * two host VMAs of its own (a page mapped inside a reservation splits
 * it).  Large pages and runs are mapped with one mmap() each, and their
 * pages share one VMA, so the kernel table's linear map, a few hundred
 * MiB, would be over the budget all the time.  So where the pages are
 * past it, count the VMAs the process really has and, while they are
 * below espt.vma_limit, let the pages grow by half the VMAs left: each
 * page still counted as two.  Splits since the last count (write
 * protection inside a run) are what the limit's last quarter is for;
 * beyond it, mapping fails with ENOMEM and invariant 10 takes over.
 */
bool espt_budget_allows(long more)
{
    static int64_t quiet_until;
    int64_t now;
    long vmas, room;

    if (espt.pages + more <= espt.budget) {
        return true;
    }
    if (espt.budget_fixed) {
        return false;
    }
    /*
     * A count reads some 100 bytes per VMA: after one that found little
     * room, empty tables as before for a second rather than count again
     * at every page.
     */
    now = get_clock();
    if (now < quiet_until) {
        return false;
    }
    vmas = espt_count_vmas();
    room = vmas < 0 ? 0 : (espt.vma_limit - vmas) / 2;
    if (room < espt.budget_base / 4) {
        quiet_until = now + NANOSECONDS_PER_SECOND;
        return false;
    }
    espt.budget = MAX(espt.budget, espt.pages + room);
    return espt.pages + more <= espt.budget;
}

void espt_drop_cpu(EsptCpu *c)
{
    int i;

    for (i = find_first_bit(c->live, ESPT_NTABLES); i < ESPT_NTABLES;
         i = find_next_bit(c->live, ESPT_NTABLES, i + 1)) {
        espt_drop_all(&c->tables[i]);
    }
}

/*
 * Map the guest RAM page at QEMU's @host at @vpage of @t with @prot, from
 * a walk that found a page of 1 << @lg_page_size bytes.  False where it
 * cannot be mapped: the caller runs the access on softmmu.  Called with
 * espt.lock held.
 */
/*
 * Segmented tables: give @va's segment a window of @t, emptying @t first
 * if all are taken.  Its host address, or NULL if @t is stale.  Called
 * with espt.lock held.
 */
static uint8_t *espt_seg_window(EsptTable *t, vaddr va)
{
    uint32_t seg = va >> ESPT_SEG_SHIFT;
    uint8_t *h = espt_host(t, va);
    unsigned i;

    if (h) {
        return h;
    }
    if (t->nsegs == ESPT_SEGS) {
        /* Few processes use more: start over with the segments in use. */
        espt_drop_all(t);
        if (t->stale) {
            return NULL;
        }
        for (i = 0; i < t->nsegs; i++) {
            t->segmap[t->seg[i]] = ESPT_SEG_NONE;
        }
        t->nsegs = 0;
        qatomic_inc(&espt_stats.seg_evictions);
    }
    i = t->nsegs++;
    t->seg[i] = seg;
    h = t->base + i * ESPT_STRIDE;
    /* The vCPU reads it through GS in generated code, on this thread. */
    t->segmap[seg] = (uintptr_t)h - ((uint64_t)seg << ESPT_SEG_SHIFT);
    return h + (uint32_t)va;
}

static void espt_note_large(EsptTable *t, vaddr vpage, unsigned lg);
static void espt_note_mapped(EsptTable *t, vaddr vpage, ram_addr_t ram,
                             int prot, unsigned lg_page_size, unsigned attrs);

bool espt_map(EsptTable *t, vaddr vpage, void *host, int prot,
              unsigned lg_page_size, unsigned attrs)
{
    RAMBlock *rb;
    ram_addr_t offset, ram;
    uint8_t *h;
    void *p;
    gpointer old;
    int fd;

    rb = qemu_ram_block_from_host(host, false, &offset);
    if (!rb) {
        return false;
    }
    fd = qemu_ram_get_fd(rb);
    if (fd < 0 || !qemu_ram_is_shared(rb)) {
        return false;
    }
    ram = qemu_ram_get_offset(rb) + (offset & ~(ram_addr_t)(ESPT_PAGE - 1));

    if (!espt_budget_allows(1)) {
        /* Budget of host VMAs: drop this vCPU's other tables, then it. */
        int i;

        for (i = find_first_bit(t->owner->live, ESPT_NTABLES);
             i < ESPT_NTABLES;
             i = find_next_bit(t->owner->live, ESPT_NTABLES, i + 1)) {
            if (&t->owner->tables[i] != t) {
                espt_drop_all(&t->owner->tables[i]);
            }
        }
        if (espt.pages >= espt.budget) {
            espt_drop_all(t);
        }
        qatomic_inc(&espt_stats.flush_budget);
    }
    /*
     * Translated code may have appeared on the page since the caller's
     * probe (another vCPU, MTTCG), or dirty logging may have cleared it.
     * The dirty bits are cleared before espt_reset_dirty() takes the
     * lock, so checking them here, under the lock, cannot miss it.
     */
    if ((prot & PROT_WRITE) && cpu_physical_memory_is_clean(ram)) {
        prot &= ~PROT_WRITE;
    }
    h = espt.segmented ? espt_seg_window(t, vpage) : espt_host(t, vpage);
    if (!h) {
        return false;
    }
    old = t->pages ? g_hash_table_lookup(t->pages, ESPT_VKEY(vpage)) : NULL;
    if (old && espt_page_ram(old) == ram) {
        /*
         * Same guest page, other permission (read-only -> writable), or
         * a dormant page the walk found again.
         */
        if (mprotect(h, ESPT_PAGE, prot) == 0) {
            g_hash_table_insert(t->pages, ESPT_VKEY(vpage),
                                espt_page_val(ram, prot & PROT_WRITE, attrs));
            if (espt_page_dormant(old)) {
                qatomic_inc(&espt_stats.kernel_revalidated);
                t->attrs_held |= 1 << (attrs & 15);
            } else {
                qatomic_inc(&espt_stats.upgrades);
            }
            return true;
        }
        espt_host_failed("upgrade", errno);     /* map it again instead */
    }
    /* The block may start anywhere in its file (backend offset=). */
    p = mmap(h, ESPT_PAGE, prot,
             MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
             espt_ram_fd_offset(rb) +
             (offset & ~(ram_addr_t)(ESPT_PAGE - 1)));
    if (p == MAP_FAILED) {
        int err = errno;

        espt_host_failed("map", err);
        /*
         * A failed MAP_FIXED may have unmapped what was there: reserve
         * the page again, and forget the page it held.
         */
        if (old) {
            espt_drop_page(t, vpage);
        } else if (!espt_unmap_host(h, ESPT_PAGE)) {
            espt_mark_stale(t);
        }
        if (err == ENOMEM && espt.pages) {
            /* Out of host mappings: free this vCPU's. */
            espt_drop_cpu(t->owner);
            qatomic_inc(&espt_stats.flush_budget);
        }
        return false;
    }
    espt_note_mapped(t, vpage, ram, prot, lg_page_size, attrs);
    return true;
}

/*
 * The bookkeeping of a page just mapped at @vpage of @t (called with
 * espt.lock held): the table's pages, the reverse map, the counters.
 */
static void espt_note_mapped(EsptTable *t, vaddr vpage, ram_addr_t ram,
                             int prot, unsigned lg_page_size, unsigned attrs)
{
    gpointer old;

    if (!t->pages) {
        t->pages = g_hash_table_new(NULL, NULL);
    }
    espt_set_live(t);
    old = g_hash_table_lookup(t->pages, ESPT_VKEY(vpage));
    if (old) {
        espt_rmap_del(t, vpage, espt_page_ram(old));
        espt_pages_gone(1);
        qatomic_inc(&espt_stats.remaps);
    }
    g_hash_table_insert(t->pages, ESPT_VKEY(vpage),
                        espt_page_val(ram, prot & PROT_WRITE, attrs));
    set_bit(espt_granule(vpage), t->granules);
    t->attrs_held |= 1 << (attrs & 15);
    {
        EsptAlias *a = g_new(EsptAlias, 1);
        GSList *l = g_hash_table_lookup(espt.rmap, (gpointer)(uintptr_t)ram);

        a->t = t;
        a->vpage = vpage;
        g_hash_table_insert(espt.rmap, (gpointer)(uintptr_t)ram,
                            g_slist_prepend(l, a));
    }
    espt.pages++;
    qatomic_inc(&espt_stats.maps);
    if (t->asid == ESPT_KTABLE) {
        qatomic_inc(&espt_stats.kernel_maps);
    }
    trace_espt_map(t->owner - espt.cpus, t->asid, vpage, ram, prot);
    if (lg_page_size > 12) {
        espt_note_large(t, vpage, lg_page_size);
        if (t->asid == ESPT_KTABLE) {
            vaddr lp = vpage & ~(((vaddr)1 << lg_page_size) - 1);

            espt_kernel_note_block(lp, lp + ((vaddr)1 << lg_page_size));
        }
    }
}

/*
 * @t maps a page of a large guest page of 1 << @lg bytes at @vpage.  A
 * TLB invalidation by address inside it invalidates the whole large
 * translation, so a flush there must drop every page mapped from it:
 * record its range, exactly where it is small enough and there is room,
 * else, up to 2 MiB, its 2 MiB region's granules, else in the table's
 * one span (espt-flush.c).  Called with espt.lock held.
 */
static void espt_note_large(EsptTable *t, vaddr vpage, unsigned lg)
{
    vaddr lp_mask = ~(((vaddr)1 << lg) - 1);
    vaddr lp_addr = vpage & lp_mask;
    unsigned i;

    if (lg <= ESPT_LARGE_EXACT) {
        for (i = 0; i < t->nlarge; i++) {
            if (t->large[i] == lp_addr && t->large_bits[i] == lg) {
                return;
            }
        }
        if (t->nlarge < ESPT_LARGE_RANGES) {
            t->large[t->nlarge] = lp_addr;
            t->large_bits[t->nlarge++] = lg;
            return;
        }
        /* Both granules of its 2 MiB region: a flush anywhere in it. */
        lp_addr = vpage & ~(((vaddr)1 << ESPT_LARGE_EXACT) - 1);
        set_bit(espt_granule(lp_addr), t->large_granules);
        set_bit(espt_granule(lp_addr + (1 << 20)), t->large_granules);
        return;
    }
    if (t->large_addr == (vaddr)-1) {
        t->large_addr = lp_addr;
        t->large_mask = lp_mask;
    } else {
        lp_mask &= t->large_mask;
        while (((t->large_addr ^ lp_addr) & lp_mask) != 0) {
            lp_mask <<= 1;
        }
        t->large_mask = lp_mask;
        t->large_addr &= lp_mask;
    }
}

/*
 * The walk of @addr found a large guest page (64 KiB page, 1 MiB section,
 * 16 MiB supersection), and espt_map() has just mapped the faulting 4 KiB
 * of it with @prot.  Its other pages translate the same way: map them now
 * (up to the 1 MiB around @addr) rather than take a fault for each.  Each
 * goes through the softmmu's own fill, as a load so that no code is
 * invalidated, and is left alone where that says I/O, watchpoint or not
 * RAM; espt_map() keeps pages with translated code read-only.  The probes
 * run before taking the lock: a fill may do anything a guest access does.
 */
#define ESPT_LARGE_MAX  (1u << 20)

/*
 * The walk of @addr found a large page (one descriptor, so one
 * translation for all of it): if the @span bytes around @addr in it are
 * one stretch of plain RAM of one block, without watchpoints, fill in
 * @hosts and @prots for them all as the per-page probes of
 * espt_map_large() would, from one look-up of the address space.  False:
 * probe page by page.
 */
static bool espt_large_linear(CPUState *cpu, EsptTable *t, vaddr addr,
                              vaddr span, int prot, void **hosts,
                              uint8_t *prots, uintptr_t retaddr)
{
    CPUArchState *env = espt_cpu_env(cpu);
    vaddr base = addr & -span, page = addr & -(vaddr)ESPT_PAGE;
    CPUTLBEntryFull *full;
    MemoryRegion *mr;
    AddressSpace *as;
    hwaddr xlat, plen = span, phys;
    void *host;
    RAMBlock *rb;
    ram_addr_t off;
    int flags, i;

    if (!QTAILQ_EMPTY(&cpu->watchpoints)) {
        return false;
    }
    /* The page just mapped: a TLB hit, no walk. */
    flags = espt_probe_access_full(env, addr, MMU_DATA_LOAD, t->mmu_idx,
                                   true, &host, &full, retaddr);
    if ((flags & (TLB_INVALID_MASK | TLB_MMIO | TLB_WATCHPOINT |
                  TLB_DISCARD_WRITE)) || !host) {
        return false;
    }
    host = (uint8_t *)host - (addr & (ESPT_PAGE - 1));
    rb = qemu_ram_block_from_host(host, false, &off);
    phys = (full->phys_addr & -(hwaddr)ESPT_PAGE) - (page - base);
    as = cpu_get_address_space(cpu, cpu_asidx_from_attrs(cpu, full->attrs));
    WITH_RCU_READ_LOCK_GUARD() {
        mr = address_space_translate(as, phys, &xlat, &plen, false,
                                     full->attrs);
    }
    if (!rb || mr != rb->mr || plen < span || rb->mr->readonly ||
        xlat != off - (page - base)) {
        return false;
    }
    for (i = 0; i < span / ESPT_PAGE; i++) {
        hosts[i] = base + i * ESPT_PAGE == page ? NULL :
                   (uint8_t *)host - (page - base) + i * ESPT_PAGE;
        prots[i] = full->prot & PAGE_WRITE ? prot : PROT_READ;
    }
    return true;
}

static int espt_map_run(EsptTable *t, vaddr va, void *host, int n, int prot,
                        unsigned lg, unsigned attrs);

void espt_map_large(CPUState *cpu, EsptTable *t, vaddr addr,
                    int prot, unsigned lg, unsigned attrs, uintptr_t retaddr)
{
    CPUArchState *env = espt_cpu_env(cpu);
    vaddr span = MIN((vaddr)1 << lg, ESPT_LARGE_MAX);
    vaddr base = addr & -span, va;
    void *hosts[ESPT_LARGE_MAX / ESPT_PAGE];
    uint8_t prots[ESPT_LARGE_MAX / ESPT_PAGE];
    CPUTLBEntryFull *full;
    RAMBlock *rb;
    ram_addr_t off;
    int flags, i;

    if (espt_large_linear(cpu, t, addr, span, prot, hosts, prots, retaddr)) {
        goto map;
    }
    for (va = base, i = 0; va - base < span; va += ESPT_PAGE, i++) {
        hosts[i] = NULL;
        prots[i] = prot;
        if (va == (addr & -(vaddr)ESPT_PAGE)) {
            continue;
        }
        flags = espt_probe_access_full(env, va, MMU_DATA_LOAD, t->mmu_idx,
                                       true, &hosts[i], &full, retaddr);
        rb = hosts[i] ? qemu_ram_block_from_host(hosts[i], false, &off) : NULL;
        if ((flags & (TLB_INVALID_MASK | TLB_MMIO | TLB_WATCHPOINT |
                      TLB_DISCARD_WRITE)) || full->lg_page_size != lg || !rb) {
            hosts[i] = NULL;
            continue;
        }
        /*
         * The load probe says nothing of what a store would meet: grant
         * write only where the softmmu would let a store through without
         * a trap (guest permission, no write watchpoint, writable RAM).
         * Elsewhere a store faults and takes the usual path.
         */
        if ((prot & PROT_WRITE) &&
            (!(full->prot & PAGE_WRITE) || rb->mr->readonly ||
             (cpu_watchpoint_address_matches(cpu, va, ESPT_PAGE) &
              BP_MEM_WRITE))) {
            prots[i] = PROT_READ;
        }
    }
map:
    qemu_mutex_lock(&espt.lock);
    if (espt_budget_allows(span / ESPT_PAGE) && t->pages) {
        int n = span / ESPT_PAGE, j;

        for (i = 0; i < n; i++) {
            gpointer old = hosts[i] ?
                g_hash_table_lookup(t->pages, ESPT_VKEY(base + i * ESPT_PAGE)) :
                NULL;

            if (old && !espt_page_dormant(old)) {
                hosts[i] = NULL;
            }
        }
        /* Runs of pages one mmap() can map: fewer host calls. */
        for (i = 0; i < n; i = j) {
            if (!hosts[i]) {
                j = i + 1;
                continue;
            }
            for (j = i + 1; j < n && hosts[j] &&
                 hosts[j] == (uint8_t *)hosts[i] + (j - i) * ESPT_PAGE &&
                 prots[j] == prots[i]; j++) {
                /* extend the run */
            }
            qatomic_add(&espt_stats.maps_large,
                        espt_map_run(t, base + i * ESPT_PAGE, hosts[i],
                                     j - i, prots[i], lg, attrs));
        }
    }
    qemu_mutex_unlock(&espt.lock);
}

/*
 * Map @n pages of guest RAM at @host (contiguous in QEMU's mapping) at
 * @va of @t with one mmap() where they are one stretch of one RAM block
 * with the same protection; else page by page.  Called with espt.lock
 * held, for pages @t does not map.  Returns how many were mapped.
 */
static int espt_map_run(EsptTable *t, vaddr va, void *host, int n, int prot,
                        unsigned lg, unsigned attrs)
{
    RAMBlock *rb;
    ram_addr_t offset, ram;
    uint8_t *h;
    void *p;
    int i, fd, done = 0;

    rb = qemu_ram_block_from_host(host, false, &offset);
    if (n == 1 || !rb || qemu_ram_get_fd(rb) < 0 || !qemu_ram_is_shared(rb) ||
        offset + n * ESPT_PAGE > qemu_ram_get_used_length(rb) ||
        !espt_budget_allows(n) || espt.segmented) {
        goto one_by_one;
    }
    fd = qemu_ram_get_fd(rb);
    ram = qemu_ram_get_offset(rb) + (offset & ~(ram_addr_t)(ESPT_PAGE - 1));
    /* Clean pages (translated code, dirty logging) stay read-only. */
    if (prot & PROT_WRITE) {
        for (i = 0; i < n; i++) {
            if (cpu_physical_memory_is_clean(ram + i * ESPT_PAGE)) {
                goto one_by_one;
            }
        }
    }
    h = espt_host(t, va);
    for (i = 0; i < n; i++) {
        gpointer old = g_hash_table_lookup(t->pages,
                                           ESPT_VKEY(va + i * ESPT_PAGE));

        if (!old) {
            if (i) {
                goto one_by_one;        /* some dormant, some not */
            }
            break;
        }
        if (!espt_page_dormant(old) ||
            espt_page_ram(old) != ram + i * ESPT_PAGE) {
            goto one_by_one;
        }
    }
    if (i == n) {
        /* All dormant, the walk found them again: their access back. */
        if (mprotect(h, n * ESPT_PAGE, prot)) {
            goto one_by_one;
        }
        for (i = 0; i < n; i++) {
            g_hash_table_insert(t->pages, ESPT_VKEY(va + i * ESPT_PAGE),
                                espt_page_val(ram + i * ESPT_PAGE,
                                              prot & PROT_WRITE, attrs));
        }
        t->attrs_held |= 1 << (attrs & 15);
        qatomic_add(&espt_stats.kernel_revalidated, n);
        return n;
    }
    p = mmap(h, n * ESPT_PAGE, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
             fd, espt_ram_fd_offset(rb) +
             (offset & ~(ram_addr_t)(ESPT_PAGE - 1)));
    if (p == MAP_FAILED) {
        espt_host_failed("map", errno);
        /* What was there (PROT_NONE reservation) may be gone: back. */
        if (!espt_unmap_host(h, n * ESPT_PAGE)) {
            espt_mark_stale(t);
        }
        return 0;
    }
    for (i = 0; i < n; i++) {
        espt_note_mapped(t, va + i * ESPT_PAGE, ram + i * ESPT_PAGE, prot, lg,
                         attrs);
    }
    return n;

one_by_one:
    for (i = 0; i < n; i++) {
        done += espt_map(t, va + i * ESPT_PAGE,
                         (uint8_t *)host + i * ESPT_PAGE, prot, lg, attrs);
    }
    return done;
}

/*
 * Make @t the current table of this (its owner's) thread: the GS base
 * points at it.  False, with GS unchanged, if the host refused.
 */
bool espt_set_gs(EsptTable *t)
{
    void *gs = t->base;

    if (!t->jc) {
        espt_jc_init(t);
    }
    if (espt.segmented) {
        if (!t->segmap) {
            /* Private copy-on-write pages of a map with no windows. */
            t->segmap = mmap(NULL, ESPT_SEGMAP_LEN * sizeof(uint64_t),
                             PROT_READ | PROT_WRITE, MAP_PRIVATE,
                             espt.segmap_fd, 0);
            if (t->segmap == MAP_FAILED) {
                t->segmap = NULL;
                espt_host_failed("segment map", errno);
                return false;
            }
        }
        gs = t->segmap;
    }
    if (espt.have_wrgsbase) {
        asm volatile("wrgsbase %0" : : "r"(gs) : "memory");
    } else if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)gs)) {
        espt_host_failed("set GS base", errno);
        return false;           /* GS is unchanged: no CF_ESPT */
    }
    espt_thread_table = t;
    espt_thread_jc = t->jc;
    return true;
}
