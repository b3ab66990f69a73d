/*
 * qemu-espt: the shadow page table (SPT) manager.
 *
 * Each vCPU owns one shadow table: a 4 GiB host region (plus a guard)
 * reserved PROT_NONE at start, whose byte at offset A is guest virtual
 * address A as user mode sees it.  The vCPU thread's GS base points at
 * it, and TBs translated with CF_ESPT access user memory as GS:[addr32].
 *
 * Invariant: a page is mapped in a vCPU's table only while the same
 * vCPU's softmmu TLB could hold the same translation for the ESPT mmu
 * index, with no more permission than a TLB hit would give.  So the table
 * is filled from QEMU's own TLB fill (on a host fault), and emptied by
 * every softmmu flush that covers that mmu index.  Pages holding
 * translated code are mapped read-only in every alias, so that writes
 * take the softmmu's self-modifying-code path.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "cpu.h"
#include "exec/exec-all.h"
#include "exec/ram_addr.h"
#include "exec/espt.h"
#include "hw/boards.h"
#include "sysemu/hostmem.h"
#include "qemu/memfd.h"
#include "monitor/monitor.h"
#include "monitor/hmp.h"
#include "sysemu/cpus.h"
#include "sysemu/sysemu.h"
#include "sysemu/hw_accel.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/replay.h"
#include "qapi/qapi-commands-espt.h"
#include "tcg/tcg.h"
#include "trace.h"
#include "tb-jmp-cache.h"
#include "migration/postcopy-ram.h"
#include "sysemu/runstate.h"

#include <sys/mman.h>
#include <sys/auxv.h>
#include <asm/prctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <ucontext.h>

#define ESPT_REGION_SIZE   (1ULL << 32)
#define ESPT_GUARD_SIZE    (64 * 1024)
#define ESPT_STRIDE        (ESPT_REGION_SIZE + ESPT_GUARD_SIZE)
#define ESPT_PAGE_BITS     12
#define ESPT_PAGE          (1 << ESPT_PAGE_BITS)

/*
 * Host VMAs: each mapped page is at most one VMA plus the PROT_NONE gap
 * after it, so the budget of mapped pages is half of what
 * vm.max_map_count leaves after QEMU's own mappings and one gap per table.
 */
#define ESPT_VMA_RESERVE   8192

/*
 * A shadow fault costs about 8 us, and unmapping the page again a few
 * more; a softmmu TLB refill a fraction of a microsecond.  Mappings that
 * stay pay that back, mappings that the guest flushes soon after do not
 * (mmap churn, fork/exec).  A vCPU that takes more than ESPT_COLD_FAULTS
 * shadow faults in ESPT_COLD_WINDOW_NS (about 13% of its time in faults)
 * while its flushes drop more than ESPT_COLD_DROPS mapped pages runs
 * softmmu TBs for ESPT_COLD_NS, then ESPT again.  A program filling new
 * memory (first touch, no drops) stays on ESPT.  Counted per vCPU, not per
 * table: short-lived processes each get a fresh table.
 */
#define ESPT_COLD_WINDOW_NS  (4 * 1000 * 1000)
#define ESPT_COLD_FAULTS     64
#define ESPT_COLD_DROPS      16
#define ESPT_COLD_NS         (20 * 1000 * 1000)
/*
 * A new address space (a table used under other translation registers
 * than before: a new process) starts on softmmu: a short-lived process
 * (fork/exec, shell pipelines) would pay a shadow fault for every page it
 * touches and never win it back.
 */
#define ESPT_NEW_AS_NS       (10 * 1000 * 1000)

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE    (1 << 1)
#endif

int espt_mmu_idx = -1;
bool espt_enabled;

static EsptMode espt_mode = ESPT_MODE_AUTO;
/* Fall back to softmmu where ESPT would not pay (tcg,espt-adaptive=). */
static bool espt_adaptive = true;
/* Why ESPT is off (NULL while it is on). */
static const char *espt_off_reason = "not started";
/* Why no vCPU may use ESPT for now (NULL: they may); see espt_inhibit(). */
static const char *espt_inhibited;

#define ESPT_ASIDS         256

typedef struct EsptCpu EsptCpu;

typedef struct EsptTable {
    uint8_t *base;
    GHashTable *pages;          /* guest vpage -> ram_addr of the page + 1 */
    EsptContext ctx;            /* translation registers when filled */
    vaddr large_addr;           /* like CPUTLBDesc: span of large pages */
    vaddr large_mask;
    /* 1 MiB granules that may hold pages: most flushes miss them all. */
    unsigned long granules[BITS_TO_LONGS(4096)];
    /*
     * The virtual-PC cache of this address space's CF_ESPT TBs, used
     * instead of cpu->tb_jmp_cache.  It caches user translations like the
     * table's pages and is emptied with them, so kernel-only maintenance
     * (DACR writes, kernel page flushes, ASID switches) that empties
     * cpu->tb_jmp_cache keeps it.  Without page flushes to serve it can
     * hash like user mode's cache (espt_jmp_cache_hash()) rather than by
     * page: a flush of a page that may hold code of its TBs (code, in
     * 64 KiB granules) empties it.  Allocated on first use, never freed.
     */
    EsptJumpCache *jc;
    unsigned long *code;
    bool jc_used;               /* jc may hold TBs */
    EsptCpu *owner;
    int asid;
    /*
     * The host refused to unmap or write-protect some of its pages (at
     * vm.max_map_count, splitting a mapping fails with ENOMEM): it may
     * hold stale or too permissive mappings.  Never used with CF_ESPT
     * until espt_drop_all() manages to empty it; its pages stay in the
     * bookkeeping meanwhile.  Set under espt.lock, read by the owner.
     */
    bool stale;
} EsptTable;

/* One vCPU: a shadow table per guest ASID. */
struct EsptCpu {
    EsptTable tables[ESPT_ASIDS];
    /* tables with pages or cached TBs */
    unsigned long live[BITS_TO_LONGS(ESPT_ASIDS)];
    uint64_t user_state;        /* espt_target_user_state() when filled */
    uint8_t suppress;           /* inside a flush that keeps the tables */
    int64_t window_start;       /* fault-rate window (ns) */
    unsigned window_faults;
    unsigned window_drops;      /* mapped pages dropped by flushes */
    unsigned window_fallbacks;  /* accesses ESPT could not map */
    int64_t cold_until;         /* softmmu TBs until then (ns), 0: none */
    /*
     * mmu indexes of the TBs that cpu->tb_jmp_cache may hold.  A TLB flush
     * of other indexes leaves it alone: see espt_jmp_cache_keep().
     */
    uint16_t jc_idxmap;
    /* and where they have code: see espt_jmp_cache_keep_page() */
    unsigned long *jc_code;
    /* Hot counters, written by the vCPU's thread only: no shared line. */
    uint64_t flush_page, jc_misses, jc_pages_kept;
};

enum {
    ESPT_SUPPRESS_NONE,
    ESPT_SUPPRESS_KEEP,         /* the flush cannot change user mappings */
    ESPT_SUPPRESS_SCOPED,       /* the caller drops what it must itself */
};

typedef struct EsptAlias {
    EsptTable *t;
    uint32_t vpage;
} EsptAlias;

static struct {
    QemuMutex lock;
    uint8_t *reserve;
    int ncpus;
    EsptCpu *cpus;              /* indexed by cpu_index */
    GHashTable *rmap;           /* ram page -> GSList of EsptAlias */
    long pages;                 /* mapped pages, all tables */
    long budget;                /* most mapped pages, see ESPT_VMA_RESERVE */
    uint64_t tables_live;
    struct sigaction old_segv;
    bool have_wrgsbase;
} espt;

/* Statistics, shown by 'info espt'. */
static struct {
    uint64_t faults_read, faults_write, faults_prot;
    uint64_t maps, remaps, fallbacks_io, fallbacks_wrap, smc_writes;
    uint64_t flush_all, flush_range, flush_suppressed, flush_narrowed;
    uint64_t flush_user_state, flush_context, flush_budget, write_protects;
    uint64_t flush_asid, flush_code;
    uint64_t table_switches, cold_periods, upgrades, maps_large;
    uint64_t host_failures, tables_stale, inhibits, cold_fallbacks;
} st;

static __thread EsptTable *thread_table;
__thread EsptJumpCache *espt_thread_jc;

void espt_set_adaptive(bool on)
{
    espt_adaptive = on;
}

bool espt_get_adaptive(void)
{
    return espt_adaptive;
}

void espt_set_mode(EsptMode mode)
{
    espt_mode = mode;
}

EsptMode espt_get_mode(void)
{
    return espt_mode;
}

const char *espt_host_unsupported(void)
{
#if !defined(__x86_64__) || !defined(__linux__)
    return "ESPT needs an x86-64 Linux host";
#else
    if (HOST_LONG_BITS != 64) {
        return "ESPT needs a 64-bit host";
    }
    return NULL;
#endif
}

bool espt_wants_shared_ram(void)
{
    /* Backends are created after the accelerator, i.e. espt_accel_init(). */
    return espt_enabled;
}

/*
 * memory-backend-ram (libvirt's default, and the machine's own default
 * RAM): back it with a shared memfd so that ESPT can map its pages.  The
 * guest cannot tell the two apart; the host can (KSM does not merge
 * shmem pages, transparent huge pages follow shmem_enabled).  The backend
 * keeps share=off: migration still sends its pages with x-ignore-shared
 * (espt_ram_is_private()).  Returns false where the backend must be
 * allocated as usual: ESPT is off, or the user asked for private memory
 * with an explicit share=off.
 */
bool espt_ram_backend_alloc(HostMemoryBackend *backend, const char *name,
                            uint32_t ram_flags, Error **errp)
{
    Error *err = NULL;
    int fd;

    if (!espt_wants_shared_ram() || (backend->share_given && !backend->share)) {
        return false;
    }
    fd = qemu_memfd_create("qemu-espt-ram", backend->size, false, 0, 0, &err);
    if (fd < 0) {
        if (espt_mode == ESPT_MODE_ON) {
            error_propagate_prepend(errp, err, "-accel tcg,espt=on: ");
            return true;
        }
        /* espt_check_ram() turns ESPT off and says why. */
        warn_report_err(err);
        return false;
    }
    memory_region_init_ram_from_fd(&backend->mr, OBJECT(backend), name,
                                   backend->size, ram_flags | RAM_SHARED, fd,
                                   0, &err);
    if (err) {
        close(fd);
        error_propagate(errp, err);
    }
    return true;
}

bool espt_ram_is_private(RAMBlock *rb)
{
    Object *o = rb->mr ? rb->mr->owner : NULL;
    HostMemoryBackend *b = o ? (HostMemoryBackend *)
        object_dynamic_cast(o, TYPE_MEMORY_BACKEND) : NULL;

    return b && !b->share;
}

/* ------------------------------------------------------------------ */
/* Tables                                                              */
/* ------------------------------------------------------------------ */

static void espt_rmap_del(EsptTable *t, uint32_t vpage, ram_addr_t ram)
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
static void espt_host_failed(const char *what, int err)
{
    if (qatomic_fetch_inc(&st.host_failures) == 0) {
        warn_report("espt: the host refused a shadow mapping (%s: %s); "
                    "ESPT empties tables or runs such accesses on softmmu "
                    "('info espt': host-failures)", what, strerror(err));
    }
}

/*
 * Back to reserved address space (PROT_NONE, keeping the reservation: a
 * munmap could let another mmap take the range).
 */
static bool espt_unmap_range(EsptTable *t, uint64_t start, uint64_t len)
{
    void *p = mmap(t->base + start, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                   -1, 0);

    if (p == MAP_FAILED) {
        espt_host_failed("unmap", errno);
        return false;
    }
    return true;
}

static void espt_drop_all(EsptTable *t);
static void espt_set_live(EsptTable *t);

/* See EsptTable.stale; called with espt.lock held. */
static void espt_mark_stale(EsptTable *t)
{
    if (!t->stale) {
        st.tables_stale++;
        trace_espt_flush(t->owner - espt.cpus, "stale", t->asid);
    }
    qatomic_set(&t->stale, true);
    espt_set_live(t);           /* so that flushes try to empty it again */
}

/* Forget a page that is no longer mapped; called with espt.lock held. */
static void espt_forget_page(EsptTable *t, uint32_t vpage, ram_addr_t ram)
{
    espt_rmap_del(t, vpage, ram);
    g_hash_table_remove(t->pages, GUINT_TO_POINTER(vpage));
    espt.pages--;
}

/* Drop one page; called with espt.lock held. */
static void espt_drop_page(EsptTable *t, uint32_t vpage)
{
    gpointer v;

    if (!t->pages) {
        return;
    }
    v = g_hash_table_lookup(t->pages, GUINT_TO_POINTER(vpage));
    if (!v) {
        return;
    }
    if (!espt_unmap_range(t, vpage, ESPT_PAGE)) {
        /*
         * Unmapping one page splits a host mapping; unmapping the whole
         * table replaces all of them by one, which the host can do.
         */
        espt_drop_all(t);
        return;
    }
    espt_forget_page(t, vpage, (ram_addr_t)(uintptr_t)v - 1);
    t->owner->window_drops++;
}

static void espt_jc_clear(EsptJumpCache *jc)
{
    int i;

    for (i = 0; i < ARRAY_SIZE(jc->entry); i++) {
        qatomic_set(&jc->entry[i], 0);
    }
}

/*
 * Where the TBs in a jump cache have code: a bitmap of 64 KiB granules of
 * the 32-bit address space, marked with each TB's first and last byte.
 */
#define ESPT_CODE_SHIFT 16
#define ESPT_CODE_BITS  (1 << (32 - ESPT_CODE_SHIFT))

static void espt_code_mark(unsigned long *code, uint32_t pc, uint32_t size)
{
    set_bit(pc >> ESPT_CODE_SHIFT, code);
    set_bit((uint32_t)(pc + MAX(size, 1) - 1) >> ESPT_CODE_SHIFT, code);
}

/* Whether a TB may have code on the page at vpage. */
static bool espt_code_on_page(unsigned long *code, uint32_t vpage)
{
    /* As upstream: a TB that starts on the page before may reach it. */
    return test_bit(vpage >> ESPT_CODE_SHIFT, code) ||
           test_bit((uint32_t)(vpage - ESPT_PAGE) >> ESPT_CODE_SHIFT, code);
}

/* Whether a TB in the table's jc may hold code of the page at vpage. */
static bool espt_jc_has_page(EsptTable *t, uint32_t vpage)
{
    return t->jc_used && espt_code_on_page(t->code, vpage);
}

/* Mark a table live (holding pages or TBs); called with espt.lock held. */
static void espt_set_live(EsptTable *t)
{
    if (!test_bit(t->asid, t->owner->live)) {
        set_bit(t->asid, t->owner->live);
        espt.tables_live++;
    }
}

/* Drop the whole table; called with espt.lock held. */
static void espt_drop_all(EsptTable *t)
{
    GHashTableIter it;
    gpointer k, v;

    if (!test_bit(t->asid, t->owner->live)) {
        return;
    }
    if (t->jc_used) {
        espt_jc_clear(t->jc);
        bitmap_zero(t->code, ESPT_CODE_BITS);
        t->jc_used = false;
    }
    if (t->pages && g_hash_table_size(t->pages)) {
        if (!espt_unmap_range(t, 0, ESPT_REGION_SIZE)) {
            /* Keep its pages on record; see EsptTable.stale. */
            espt_mark_stale(t);
            return;
        }
        g_hash_table_iter_init(&it, t->pages);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            espt_rmap_del(t, GPOINTER_TO_UINT(k),
                          (ram_addr_t)(uintptr_t)v - 1);
            espt.pages--;
            t->owner->window_drops++;
        }
        g_hash_table_remove_all(t->pages);
    } else if (t->stale) {
        /* A failed mmap may have left a hole in its reservation. */
        if (!espt_unmap_range(t, 0, ESPT_REGION_SIZE)) {
            return;
        }
    }
    qatomic_set(&t->stale, false);
    bitmap_zero(t->granules, 4096);
    t->large_addr = -1;
    t->large_mask = 0;
    clear_bit(t->asid, t->owner->live);
    espt.tables_live--;
}

/* Every table of a vCPU; called with espt.lock held. */
static void espt_drop_cpu(EsptCpu *c)
{
    int i;

    for (i = find_first_bit(c->live, ESPT_ASIDS); i < ESPT_ASIDS;
         i = find_next_bit(c->live, ESPT_ASIDS, i + 1)) {
        espt_drop_all(&c->tables[i]);
    }
}

static EsptCpu *espt_cpu(CPUState *cpu)
{
    assert(cpu->cpu_index < espt.ncpus);
    return &espt.cpus[cpu->cpu_index];
}

/* ------------------------------------------------------------------ */
/* Flush hooks                                                         */
/* ------------------------------------------------------------------ */

static bool espt_covers(uint16_t idxmap)
{
    return espt_enabled && (idxmap & (1 << espt_mmu_idx));
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
    qatomic_inc(&st.flush_suppressed);
}

void espt_flush_narrowed(CPUState *cpu)
{
    qatomic_inc(&st.flush_narrowed);
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
        st.flush_asid++;
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

    if (!espt_covers(idxmap)) {
        return;
    }
    c = espt_cpu(cpu);
    if (c->suppress) {
        if (c->suppress == ESPT_SUPPRESS_KEEP) {
            qatomic_inc(&st.flush_suppressed);
        }
        return;
    }
    if (bitmap_empty(c->live, ESPT_ASIDS)) {
        /* Only this vCPU's thread fills its tables: nothing to drop. */
        return;
    }
    /* QEMU's TLB is not tagged: a full flush may be TLBIALL. */
    trace_espt_flush(cpu->cpu_index, "all", -1);
    qemu_mutex_lock(&espt.lock);
    espt_drop_cpu(c);
    st.flush_all++;
    qemu_mutex_unlock(&espt.lock);
}

/*
 * Page and range flushes carry no ASID here: drop the page from every
 * table of the vCPU.  Dropping more than needed only costs a refault.
 */
static void espt_flush_pages(EsptTable *t, vaddr addr, vaddr len)
{
    vaddr a;

    if (len >= 256 * ESPT_PAGE ||
        ((addr & t->large_mask) == t->large_addr) ||
        (((addr + len - 1) & t->large_mask) == t->large_addr)) {
        /* Inside a large guest page: like the softmmu, drop everything. */
        espt_drop_all(t);
        st.flush_all++;
        return;
    }
    for (a = addr & ~(vaddr)(ESPT_PAGE - 1); a < addr + len; a += ESPT_PAGE) {
        uint32_t p = a;

        if (test_bit(p >> 20, t->granules)) {
            espt_drop_page(t, p);
        }
        if (espt_jc_has_page(t, p)) {
            espt_jc_clear(t->jc);
            bitmap_zero(t->code, ESPT_CODE_BITS);
            st.flush_code++;
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
        if (test_bit((uint32_t)a >> 20, t->granules) ||
            espt_jc_has_page(t, a)) {
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
        st.flush_range++;
    }
    /*
     * Only this vCPU's thread fills its tables.  Most page flushes (kmap
     * of highmem pages, kernel mappings) hit no table: skip the lock.
     */
    for (i = find_first_bit(c->live, ESPT_ASIDS); i < ESPT_ASIDS;
         i = find_next_bit(c->live, ESPT_ASIDS, i + 1)) {
        if (espt_flush_hits(&c->tables[i], addr, len)) {
            break;
        }
    }
    if (i >= ESPT_ASIDS) {
        return;
    }
    trace_espt_flush_page(cpu->cpu_index, addr, len);
    qemu_mutex_lock(&espt.lock);
    for (i = find_first_bit(c->live, ESPT_ASIDS); i < ESPT_ASIDS;
         i = find_next_bit(c->live, ESPT_ASIDS, i + 1)) {
        espt_flush_pages(&c->tables[i], addr, len);
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

            if (mprotect(a->t->base + a->vpage, ESPT_PAGE, PROT_READ) == 0) {
                st.write_protects++;
                trace_espt_write_protect(a->t->owner - espt.cpus, a->t->asid,
                                         a->vpage, ram);
                continue;
            }
            espt_host_failed("write-protect", errno);
            if (espt_unmap_range(a->t, a->vpage, ESPT_PAGE)) {
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

/* ------------------------------------------------------------------ */
/* Entering code: which TBs use ESPT, and the GS base                  */
/* ------------------------------------------------------------------ */

static bool espt_set_gs(EsptTable *t)
{
    if (!t->jc) {
        EsptJumpCache *jc = g_new0(EsptJumpCache, 1);

        /* This thread's TCG region: within the one code buffer. */
        jc->base = (uintptr_t)tcg_ctx->code_gen_buffer;
        /* Other threads only read it, in espt_tb_flush() (exclusive). */
        t->code = bitmap_new(ESPT_CODE_BITS);
        qatomic_set(&t->jc, jc);
    }
    if (espt.have_wrgsbase) {
        asm volatile("wrgsbase %0" : : "r"(t->base) : "memory");
    } else if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)t->base)) {
        espt_host_failed("set GS base", errno);
        return false;           /* GS is unchanged: no CF_ESPT */
    }
    thread_table = t;
    espt_thread_jc = t->jc;
    return true;
}

/*
 * @tb goes into a jump cache for @pc.  A CF_ESPT TB goes into
 * espt_thread_jc, here, marking the code granules it spans so that
 * flushes of its pages find it.  Any other goes into cpu->tb_jmp_cache,
 * by the caller: note its mmu index for espt_jmp_cache_keep().  One
 * out-of-line call for both keeps the miss path of tb_lookup() short.
 */
bool espt_jmp_cache_add(CPUState *cpu, const TranslationBlock *tb,
                        uint64_t pc)
{
    EsptTable *t = thread_table;
    intptr_t off;
    uint64_t e;

    if (!(tb_cflags(tb) & CF_ESPT)) {
        if (espt_enabled) {
            EsptCpu *c = espt_cpu(cpu);

            c->jc_idxmap |= 1 << cpu_mmu_index(cpu->env_ptr, true);
            espt_code_mark(c->jc_code, pc, tb->size);
        }
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
        qatomic_set(&t->jc->entry[espt_jmp_cache_hash(pc)], e);
    }
    return true;
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
    EsptCpu *c;

    if (!espt_enabled) {
        return false;
    }
    c = espt_cpu(cpu);
    if (c->jc_idxmap & idxmap) {
        c->jc_idxmap = 0;
        bitmap_zero(c->jc_code, ESPT_CODE_BITS);
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
    EsptCpu *c;

    if (!espt_enabled) {
        return false;
    }
    c = espt_cpu(cpu);
    if (espt_code_on_page(c->jc_code, addr)) {
        return false;
    }
    c->jc_pages_kept++;
    return true;
}

/* tb_flush() frees every TB: forget them (all vCPUs are stopped). */
void espt_tb_flush(void)
{
    int i, j;

    if (!espt_enabled) {
        return;
    }
    for (i = 0; i < espt.ncpus; i++) {
        for (j = 0; j < ESPT_ASIDS; j++) {
            if (espt.cpus[i].tables[j].jc_used) {
                espt_jc_clear(espt.cpus[i].tables[j].jc);
            }
        }
    }
}

/* CF_ESPT for this vCPU now, making its table the thread's current one. */
static uint32_t espt_cflags_now(CPUState *cpu)
{
    EsptCpu *c;
    EsptTable *t;
    EsptContext ctx;
    uint64_t us;
    int asid;

    if (!espt_target_user_ok(cpu) || qatomic_read(&espt_inhibited)) {
        return 0;
    }
    c = espt_cpu(cpu);
    /*
     * Entering user mode: state outside the TLB that user translations
     * depend on (DACR) may have changed under a suppressed flush.
     */
    us = espt_target_user_state(cpu);
    if (unlikely(us != c->user_state)) {
        qemu_mutex_lock(&espt.lock);
        espt_drop_cpu(c);
        c->user_state = us;
        st.flush_user_state++;
        qemu_mutex_unlock(&espt.lock);
        /* The softmmu TLB may hold entries made under the old state too. */
        tlb_flush_by_mmuidx(cpu, 1 << espt_mmu_idx);
    }
    /* One table per ASID: a context switch only moves the GS base. */
    asid = espt_target_context(cpu, &ctx);
    t = &c->tables[asid];
    if (unlikely(memcmp(&ctx, &t->ctx, sizeof(ctx)))) {
        /* Same ASID, other translation registers: start it again. */
        qemu_mutex_lock(&espt.lock);
        if (test_bit(asid, c->live)) {
            espt_drop_all(t);
            st.flush_context++;
        }
        t->ctx = ctx;
        qemu_mutex_unlock(&espt.lock);
        if (espt_adaptive) {
            c->cold_until = get_clock() + ESPT_NEW_AS_NS;
            st.cold_periods++;
        }
    }
    if (unlikely(qatomic_read(&t->stale))) {
        /* See EsptTable.stale: try to empty it again, else softmmu. */
        qemu_mutex_lock(&espt.lock);
        espt_drop_all(t);
        qemu_mutex_unlock(&espt.lock);
        if (t->stale) {
            return 0;
        }
    }
    if (unlikely(thread_table != t)) {
        if (!espt_set_gs(t)) {
            return 0;
        }
        st.table_switches++;
    }
    if (unlikely(c->cold_until)) {
        if (get_clock() < c->cold_until) {
            return 0;
        }
        c->cold_until = 0;
    }
    return CF_ESPT;
}

void espt_update(CPUState *cpu)
{
    uint32_t f = 0;

    if (!espt_enabled) {
        return;
    }
    /*
     * Only on the vCPU's own thread (the GS base is per thread); anywhere
     * else (reset, incoming migration) clear it: cpu_exec() recomputes
     * it before the vCPU runs again.
     */
    if (cpu == current_cpu) {
        f = espt_cflags_now(cpu);
    }
    cpu->tcg_cflags = (cpu->tcg_cflags & ~CF_ESPT) | f;
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

/*
 * Run the faulting guest instruction alone on the softmmu path, then go
 * on: for I/O, watchpoints, accesses that wrap around 4 GiB, and pages
 * that cannot be mapped.
 */
/* Softmmu TBs for ESPT_COLD_NS from @now on (invariant 5). */
static void espt_go_cold(CPUState *cpu, EsptCpu *c, int64_t now)
{
    c->cold_until = now + ESPT_COLD_NS;
    st.cold_periods++;
    /* TBs looked up from now on run on softmmu; see espt_update(). */
    cpu->tcg_cflags &= ~CF_ESPT;
}

static G_NORETURN void espt_fallback(CPUState *cpu, uintptr_t retaddr)
{
    EsptCpu *c = espt_cpu(cpu);

    /*
     * Some pages can never be mapped: RAM without a shared fd (display
     * memory), hugetlbfs RAM (a 4 KiB mmap of it fails), I/O, and pages
     * that hold both code and the data a JIT keeps storing to.  Each
     * access there costs a host fault and a one-instruction TB, forever:
     * a vCPU that keeps hitting them runs softmmu TBs for a while, as
     * after a fault storm (invariant 5).
     */
    if (espt_adaptive && ++c->window_fallbacks > ESPT_COLD_FAULTS) {
        c->window_fallbacks = 0;
        st.cold_fallbacks++;
        espt_go_cold(cpu, c, get_clock());
    }
    cpu_restore_state(cpu, retaddr);
    cpu->cflags_next_tb = (curr_cflags(cpu) & ~CF_ESPT) | CF_LAST_IO |
                          CF_NOIRQ | 1;
    cpu_loop_exit_noexc(cpu);
}

static bool espt_map(EsptTable *t, uint32_t vpage, void *host, int prot,
                     unsigned lg_page_size)
{
    RAMBlock *rb;
    ram_addr_t offset, ram;
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

    if (espt.pages >= espt.budget) {
        /* Budget of host VMAs: drop this vCPU's other tables, then it. */
        int i;

        for (i = find_first_bit(t->owner->live, ESPT_ASIDS); i < ESPT_ASIDS;
             i = find_next_bit(t->owner->live, ESPT_ASIDS, i + 1)) {
            if (&t->owner->tables[i] != t) {
                espt_drop_all(&t->owner->tables[i]);
            }
        }
        if (espt.pages >= espt.budget) {
            espt_drop_all(t);
        }
        st.flush_budget++;
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
    old = t->pages ? g_hash_table_lookup(t->pages, GUINT_TO_POINTER(vpage))
                   : NULL;
    if (old && (ram_addr_t)(uintptr_t)old - 1 == ram) {
        /* Same guest page, other permission (read-only -> writable). */
        if (mprotect(t->base + vpage, ESPT_PAGE, prot) == 0) {
            st.upgrades++;
            return true;
        }
        espt_host_failed("upgrade", errno);     /* map it again instead */
    }
    p = mmap(t->base + vpage, ESPT_PAGE, prot,
             MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
             offset & ~(ram_addr_t)(ESPT_PAGE - 1));
    if (p == MAP_FAILED) {
        int err = errno;

        espt_host_failed("map", err);
        /*
         * A failed MAP_FIXED may have unmapped what was there: reserve
         * the page again, and forget the page it held.
         */
        if (old) {
            espt_drop_page(t, vpage);
        } else if (!espt_unmap_range(t, vpage, ESPT_PAGE)) {
            espt_mark_stale(t);
        }
        if (err == ENOMEM && espt.pages) {
            /* Out of host mappings: free this vCPU's. */
            espt_drop_cpu(t->owner);
            st.flush_budget++;
        }
        return false;
    }
    if (!t->pages) {
        t->pages = g_hash_table_new(NULL, NULL);
    }
    espt_set_live(t);
    old = g_hash_table_lookup(t->pages, GUINT_TO_POINTER(vpage));
    if (old) {
        espt_rmap_del(t, vpage, (ram_addr_t)(uintptr_t)old - 1);
        espt.pages--;
        st.remaps++;
    }
    g_hash_table_insert(t->pages, GUINT_TO_POINTER(vpage),
                        (gpointer)(uintptr_t)(ram + 1));
    set_bit(vpage >> 20, t->granules);
    {
        EsptAlias *a = g_new(EsptAlias, 1);
        GSList *l = g_hash_table_lookup(espt.rmap, (gpointer)(uintptr_t)ram);

        a->t = t;
        a->vpage = vpage;
        g_hash_table_insert(espt.rmap, (gpointer)(uintptr_t)ram,
                            g_slist_prepend(l, a));
    }
    espt.pages++;
    st.maps++;
    trace_espt_map(t->owner - espt.cpus, t->asid, vpage, ram, prot);
    if (lg_page_size > 12) {
        vaddr lp_mask = ~(((vaddr)1 << lg_page_size) - 1);
        vaddr lp_addr = vpage & lp_mask;

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
    return true;
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

static void espt_map_large(CPUState *cpu, EsptTable *t, uint32_t addr,
                           int prot, unsigned lg, uintptr_t retaddr)
{
    CPUArchState *env = cpu->env_ptr;
    uint32_t span = MIN(1u << lg, ESPT_LARGE_MAX);
    uint32_t base = addr & -span, va;
    void *hosts[ESPT_LARGE_MAX / ESPT_PAGE];
    uint8_t prots[ESPT_LARGE_MAX / ESPT_PAGE];
    CPUTLBEntryFull *full;
    RAMBlock *rb;
    ram_addr_t off;
    int flags, i;

    for (va = base, i = 0; va - base < span; va += ESPT_PAGE, i++) {
        hosts[i] = NULL;
        prots[i] = prot;
        if (va == (addr & -ESPT_PAGE)) {
            continue;
        }
        flags = probe_access_full(env, va, MMU_DATA_LOAD, espt_mmu_idx, true,
                                  &hosts[i], &full, retaddr);
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
    qemu_mutex_lock(&espt.lock);
    if (espt.pages + span / ESPT_PAGE <= espt.budget && t->pages) {
        for (va = base, i = 0; va - base < span; va += ESPT_PAGE, i++) {
            if (hosts[i] &&
                !g_hash_table_lookup(t->pages, GUINT_TO_POINTER(va)) &&
                espt_map(t, va, hosts[i], prots[i], lg)) {
                st.maps_large++;
            }
        }
    }
    qemu_mutex_unlock(&espt.lock);
}

static void espt_fault(CPUState *cpu, EsptTable *t, uint32_t addr,
                       bool is_write, uintptr_t retaddr)
{
    CPUArchState *env = cpu->env_ptr;
    CPUTLBEntryFull *full;
    EsptCpu *c = t->owner;
    int64_t now = get_clock();
    void *host;
    int flags, prot = PROT_READ;
    ram_addr_t ram;
    unsigned lg;

    if (is_write) {
        st.faults_write++;
    } else {
        st.faults_read++;
    }
    trace_espt_fault(cpu->cpu_index, t->asid, addr, is_write);
    if (now - c->window_start > ESPT_COLD_WINDOW_NS) {
        c->window_start = now;
        c->window_faults = 0;
        c->window_drops = 0;
        c->window_fallbacks = 0;
    }
    if (++c->window_faults > ESPT_COLD_FAULTS &&
        c->window_drops > ESPT_COLD_DROPS && espt_adaptive) {
        /* Faulting faster than ESPT pays back: softmmu for a while. */
        c->window_faults = 0;
        espt_go_cold(cpu, c, now);
    }
    /* Precise guest abort if the guest page tables say no. */
    flags = probe_access_full(env, addr, is_write ? MMU_DATA_STORE :
                              MMU_DATA_LOAD, espt_mmu_idx, false, &host,
                              &full, retaddr);
    lg = full->lg_page_size;
    if (flags & (TLB_MMIO | TLB_WATCHPOINT | TLB_DISCARD_WRITE) || !host) {
        st.fallbacks_io++;
        trace_espt_fallback(cpu->cpu_index, addr, "I/O or watchpoint");
        espt_fallback(cpu, retaddr);
    }
    /*
     * probe_access_full() has already run the notdirty path for a store
     * (invalidating the TBs on the byte it probed).  If the page still
     * holds translated code, e.g. data next to code or a guest JIT, it
     * stays read-only in the shadow table and each store to it runs on
     * softmmu, which invalidates exactly what the whole store overlaps.
     */
    ram = qemu_ram_addr_from_host(host);
    if (ram == RAM_ADDR_INVALID) {
        st.fallbacks_io++;
        trace_espt_fallback(cpu->cpu_index, addr, "not RAM");
        espt_fallback(cpu, retaddr);
    }
    if (is_write) {
        if (!cpu_physical_memory_get_dirty_flag(ram, DIRTY_MEMORY_CODE)) {
            st.smc_writes++;
            trace_espt_fallback(cpu->cpu_index, addr, "code page");
            espt_fallback(cpu, retaddr);
        }
        prot |= PROT_WRITE;
    } else if (!cpu_physical_memory_is_clean(ram)) {
        /*
         * Map writable at once if a store would be allowed, saving a
         * second fault.  A refused non-faulting probe installs nothing,
         * and an allowed one installs an entry that also grants the read.
         */
        void *h2;
        CPUTLBEntryFull *f2;
        int wf = probe_access_full(env, addr, MMU_DATA_STORE, espt_mmu_idx,
                                   true, &h2, &f2, retaddr);

        if (!(wf & (TLB_INVALID_MASK | TLB_MMIO | TLB_WATCHPOINT |
                    TLB_DISCARD_WRITE)) && h2 == host) {
            prot |= PROT_WRITE;
        }
    }
    qemu_mutex_lock(&espt.lock);
    if (!espt_map(t, addr & ~(ESPT_PAGE - 1), host, prot, lg) || t->stale) {
        qemu_mutex_unlock(&espt.lock);
        st.fallbacks_io++;
        trace_espt_fallback(cpu->cpu_index, addr, "cannot map");
        if (t->stale) {
            /* Emptying it for the budget failed: softmmu from now on. */
            cpu->tcg_cflags &= ~CF_ESPT;
        }
        espt_fallback(cpu, retaddr);
    }
    qemu_mutex_unlock(&espt.lock);
    if (lg > ESPT_PAGE_BITS) {
        espt_map_large(cpu, t, addr, prot, lg, retaddr);
    }
}

static bool espt_pc_in_code(uintptr_t pc)
{
    /*
     * The whole code buffer, not this thread's region of it: with MTTCG a
     * vCPU runs TBs that other vCPU threads translated.
     */
    return in_code_gen_buffer((const void *)(pc - tcg_splitwx_diff));
}

static void espt_sigsegv(int sig, siginfo_t *info, void *puc)
{
    ucontext_t *uc = puc;
    uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t a = (uintptr_t)info->si_addr;
    EsptTable *t = thread_table;
    CPUState *cpu = current_cpu;
    sigset_t set;
    uint64_t off;

    if (!t || !cpu || !espt_pc_in_code(pc) || a < (uintptr_t)t->base ||
        a >= (uintptr_t)t->base + ESPT_STRIDE) {
        /* Not ours: a real crash stays a crash. */
        sigaction(SIGSEGV, &espt.old_segv, NULL);
        return;
    }
    off = a - (uintptr_t)t->base;

    /* We may longjmp back to the cpu loop: unblock SIGSEGV first. */
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    /* As for return addresses, restore_state looks before the pc. */
    pc += GETPC_ADJ;
    if (off >= ESPT_REGION_SIZE) {
        /* The tail of an access that wrapped past 4 GiB. */
        st.fallbacks_wrap++;
        trace_espt_fallback(cpu->cpu_index, off, "wraps 4 GiB");
        espt_fallback(cpu, pc);
    }
    espt_fault(cpu, t, off, uc->uc_mcontext.gregs[REG_ERR] & 2, pc);
}

/* ------------------------------------------------------------------ */
/* Userfaultfd: postcopy and background snapshots                      */
/* ------------------------------------------------------------------ */

/*
 * Userfaultfd watches QEMU's own mapping of guest RAM; a shadow mapping
 * of the same memfd is another mapping, which it does not see.  On a
 * postcopy destination a user access through a shadow page would fill a
 * page that has not arrived yet (the guest reads zeros, and placing the
 * page later fails); during a background snapshot a store through a
 * writable shadow page would escape write protection and change the
 * snapshot.  So while either runs no shadow page exists and vCPUs run
 * softmmu TBs only, whose accesses go through QEMU's mapping.  Called
 * while the vCPUs are stopped (before the destination starts them, and
 * with the VM stopped before write protection starts), so their tables
 * can be emptied from here.
 */
void espt_inhibit(const char *why)
{
    CPUState *cpu;
    int i;

    if (!espt_enabled) {
        return;
    }
    assert(!runstate_is_running());
    qatomic_set(&espt_inhibited, why);
    qemu_mutex_lock(&espt.lock);
    for (i = 0; i < espt.ncpus; i++) {
        espt_drop_cpu(&espt.cpus[i]);
    }
    qemu_mutex_unlock(&espt.lock);
    CPU_FOREACH(cpu) {
        cpu->tcg_cflags &= ~CF_ESPT;
    }
    st.inhibits++;
}

/* It is over: vCPUs pick ESPT up again at their next espt_update(). */
void espt_uninhibit(void)
{
    qatomic_set(&espt_inhibited, NULL);
}

static int espt_postcopy_notify(NotifierWithReturn *n, void *data)
{
    struct PostcopyNotifyData *pnd = data;

    switch (pnd->reason) {
    case POSTCOPY_NOTIFY_INBOUND_LISTEN:
        /* From now on pages arrive on demand, through userfaultfd. */
        espt_inhibit("incoming postcopy migration");
        break;
    case POSTCOPY_NOTIFY_INBOUND_END:
        espt_uninhibit();
        break;
    default:
        break;
    }
    return 0;
}

static NotifierWithReturn espt_postcopy_notifier = {
    .notify = espt_postcopy_notify,
};

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static void espt_check_ram(Notifier *n, void *data)
{
    MemoryRegion *mr = current_machine->ram;

    if (!espt_enabled) {
        return;
    }
    /*
     * Shadow pages, flushes and the user jump cache work in 4 KiB pages;
     * machines that keep QEMU's pages at 1 KiB (ARMv5 tiny pages) cannot
     * be served.  Final by now, unlike at accelerator setup.
     */
    if (TARGET_PAGE_SIZE != ESPT_PAGE) {
        if (espt_mode == ESPT_MODE_AUTO) {
            espt_enabled = false;
            espt_off_reason = "this machine has 1 KiB target pages";
            return;
        }
        error_report("-accel tcg,espt=on: this machine has %d-byte target "
                     "pages, ESPT needs 4 KiB ones; use -accel tcg,espt=off",
                     (int)TARGET_PAGE_SIZE);
        exit(1);
    }
    if (!mr) {
        return;
    }
    if (memory_region_get_fd(mr) < 0 || !qemu_ram_is_shared(mr->ram_block)) {
        HostMemoryBackend *b = current_machine->memdev;
        bool private = b && b->share_given && !b->share;

        if (espt_mode == ESPT_MODE_AUTO) {
            /* Before any vCPU ran: nothing was mapped yet. */
            espt_enabled = false;
            espt_off_reason = private ?
                "guest RAM backend asks for private memory (share=off)" :
                "guest RAM is not in a shared file descriptor";
            return;
        }
        if (private) {
            error_report("-accel tcg,espt=on needs guest RAM that it can "
                         "share, but its backend says share=off: drop "
                         "share=off, or use -accel tcg,espt=off");
            exit(1);
        }
        error_report("-accel tcg,espt=on needs guest RAM in a shared file "
                     "descriptor: use -object memory-backend-memfd,share=on "
                     "(or memory-backend-file,share=on) for the machine's "
                     "memory-backend, or -accel tcg,espt=off");
        exit(1);
    }
}

static Notifier espt_ram_notifier = { .notify = espt_check_ram };

static long espt_max_map_count(void)
{
    long n = 65530;     /* the kernel's default */
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f) {
        if (fscanf(f, "%ld", &n) != 1) {
            n = 65530;
        }
        fclose(f);
    }
    return n;
}

/* NULL if ESPT can serve this run, else why not. */
static const char *espt_run_unsupported(void)
{
    const char *why = espt_host_unsupported();

    if (why) {
        return why;
    }
    if (target_words_bigendian()) {
        return "ESPT does not support big-endian guests";
    }
    if (replay_mode != REPLAY_MODE_NONE) {
        return "ESPT does not support record/replay";
    }
    if (icount_enabled()) {
        return "ESPT does not support -icount";
    }
    return NULL;
}

bool espt_accel_init(Error **errp)
{
    const char *why;
    struct sigaction sa;
    int i, ret;

    if (espt_mode == ESPT_MODE_OFF) {
        espt_off_reason = "disabled with -accel tcg,espt=off";
        return true;
    }
    why = espt_run_unsupported();
    if (why) {
        if (espt_mode == ESPT_MODE_AUTO) {
            espt_off_reason = why;
            return true;
        }
        error_setg(errp, "%s; use -accel tcg,espt=off", why);
        return false;
    }
    espt.ncpus = current_machine->smp.max_cpus;
    espt.budget = (espt_max_map_count() - ESPT_VMA_RESERVE -
                   ESPT_ASIDS * espt.ncpus) / 2;
    if (getenv("QEMU_ESPT_TEST_BUDGET")) {
        /* Test-only: a far smaller budget (tests/test_espt.py). */
        long b = 0;

        if (qemu_strtol(getenv("QEMU_ESPT_TEST_BUDGET"), NULL, 0, &b) == 0 &&
            b >= 16 && b < espt.budget) {
            espt.budget = b;
        }
    } else if (espt.budget < 1024) {
        why = "vm.max_map_count is too low for ESPT";
        if (espt_mode == ESPT_MODE_AUTO) {
            espt_off_reason = why;
            return true;
        }
        error_setg(errp, "%s (at least %d needed); use -accel tcg,espt=off",
                   why, 2048 + ESPT_VMA_RESERVE + ESPT_ASIDS * espt.ncpus);
        return false;
    }
    espt.reserve = mmap(NULL, ESPT_STRIDE * ESPT_ASIDS * espt.ncpus,
                        PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    if (espt.reserve == MAP_FAILED) {
        if (espt_mode == ESPT_MODE_AUTO) {
            espt_off_reason = "cannot reserve the address space of the "
                              "shadow tables (ulimit -v?)";
            return true;
        }
        error_setg_errno(errp, errno, "ESPT cannot reserve %d x 256 x 4 GiB "
                         "of address space (ulimit -v?)", espt.ncpus);
        return false;
    }
    espt.cpus = g_new0(EsptCpu, espt.ncpus);
    for (i = 0; i < espt.ncpus; i++) {
        espt.cpus[i].jc_code = bitmap_new(ESPT_CODE_BITS);
    }
    for (i = 0; i < espt.ncpus * ESPT_ASIDS; i++) {
        EsptCpu *c = &espt.cpus[i / ESPT_ASIDS];
        EsptTable *t = &c->tables[i % ESPT_ASIDS];

        t->base = espt.reserve + ESPT_STRIDE * i;
        t->large_addr = -1;
        t->owner = c;
        t->asid = i % ESPT_ASIDS;
    }
    espt.rmap = g_hash_table_new(NULL, NULL);
    espt.have_wrgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;
    qemu_mutex_init(&espt.lock);

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = espt_sigsegv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &espt.old_segv)) {
        error_setg_errno(errp, errno, "ESPT: sigaction");
        return false;
    }
    /* Every shadow fault is a signal: keep them from waking the main loop. */
    ret = qemu_signal_init_thread();
    if (ret < 0) {
        error_setg_errno(errp, -ret, "ESPT: cannot start the signal thread");
        return false;
    }
    qemu_add_machine_init_done_notifier(&espt_ram_notifier);
    postcopy_add_notifier(&espt_postcopy_notifier);
    espt_mmu_idx = espt_target_mmu_idx();
    espt_enabled = true;
    espt_off_reason = NULL;
    return true;
}

/* ------------------------------------------------------------------ */
/* Monitor                                                             */
/* ------------------------------------------------------------------ */

EsptInfo *qmp_query_espt(Error **errp)
{
    EsptInfo *info = g_new0(EsptInfo, 1);
    int i;

    info->enabled = espt_enabled;
    info->has_reason = !espt_enabled;
    info->reason = espt_enabled ? NULL : g_strdup(espt_off_reason);
    info->vcpus = espt_enabled ? espt.ncpus : 0;
    info->asids = ESPT_ASIDS;
    info->mmu_index = espt_mmu_idx;
    info->gs_base = g_strdup(espt.have_wrgsbase ? "wrgsbase" : "arch_prctl");
    info->pages_mapped = espt.pages;
    info->vma_budget = espt.budget;
    info->tables_live = espt.tables_live;
    info->table_switches = st.table_switches;
    info->cold_periods = st.cold_periods;
    info->faults_read = st.faults_read;
    info->faults_write = st.faults_write;
    info->maps = st.maps;
    info->remaps = st.remaps;
    info->upgrades = st.upgrades;
    info->maps_large = st.maps_large;
    info->smc_writes = st.smc_writes;
    info->write_protects = st.write_protects;
    info->fallbacks_io = st.fallbacks_io;
    info->fallbacks_wrap = st.fallbacks_wrap;
    info->flushes_all = st.flush_all;
    info->flushes_asid = st.flush_asid;
    info->flushes_range = st.flush_range;
    info->flushes_kept = st.flush_suppressed;
    info->flushes_narrowed = st.flush_narrowed;
    info->flushes_user_state = st.flush_user_state;
    info->flushes_context = st.flush_context;
    info->flushes_budget = st.flush_budget;
    info->flushes_code = st.flush_code;
    info->host_failures = qatomic_read(&st.host_failures);
    info->tables_stale = st.tables_stale;
    info->inhibits = st.inhibits;
    info->cold_fallbacks = st.cold_fallbacks;
    info->inhibited = g_strdup(qatomic_read(&espt_inhibited));
    info->has_inhibited = info->inhibited != NULL;
    info->tb_cache_misses = 0;
    info->tb_cache_pages_kept = 0;
    info->flushes_page = 0;
    for (i = 0; i < espt.ncpus; i++) {
        info->tb_cache_misses += qatomic_read(&espt.cpus[i].jc_misses);
        info->tb_cache_pages_kept +=
            qatomic_read(&espt.cpus[i].jc_pages_kept);
        info->flushes_page += qatomic_read(&espt.cpus[i].flush_page);
    }
    return info;
}

void hmp_info_espt(Monitor *mon, const QDict *qdict)
{
    g_autoptr(EsptInfo) i = qmp_query_espt(NULL);
    const struct {
        const char *name;
        uint64_t value;
    } c[] = {
        { "pages-mapped", i->pages_mapped },
        { "vma-budget", i->vma_budget },
        { "tables-live", i->tables_live },
        { "table-switches", i->table_switches },
        { "cold-periods", i->cold_periods },
        { "cold-fallbacks", i->cold_fallbacks },
        { "faults-read", i->faults_read },
        { "faults-write", i->faults_write },
        { "maps", i->maps },
        { "remaps", i->remaps },
        { "upgrades", i->upgrades },
        { "maps-large", i->maps_large },
        { "smc-writes", i->smc_writes },
        { "write-protects", i->write_protects },
        { "fallbacks-io", i->fallbacks_io },
        { "fallbacks-wrap", i->fallbacks_wrap },
        { "flushes-all", i->flushes_all },
        { "flushes-asid", i->flushes_asid },
        { "flushes-page", i->flushes_page },
        { "flushes-range", i->flushes_range },
        { "flushes-kept", i->flushes_kept },
        { "flushes-narrowed", i->flushes_narrowed },
        { "flushes-user-state", i->flushes_user_state },
        { "flushes-context", i->flushes_context },
        { "flushes-budget", i->flushes_budget },
        { "flushes-code", i->flushes_code },
        { "tb-cache-misses", i->tb_cache_misses },
        { "tb-cache-pages-kept", i->tb_cache_pages_kept },
        { "host-failures", i->host_failures },
        { "tables-stale", i->tables_stale },
        { "inhibits", i->inhibits },
    };
    int k;

    if (!i->enabled) {
        monitor_printf(mon, "ESPT is off: %s\n", i->reason);
        return;
    }
    monitor_printf(mon, "ESPT is on: %" PRId64 " vCPU(s) x %" PRId64
                   " ASIDs, mmu index %" PRId64 ", GS base via %s\n",
                   i->vcpus, i->asids, i->mmu_index, i->gs_base);
    if (i->has_inhibited) {
        monitor_printf(mon, "  softmmu only during %s\n", i->inhibited);
    }
    for (k = 0; k < ARRAY_SIZE(c); k++) {
        monitor_printf(mon, "  %-20s %" PRIu64 "\n", c[k].name, c[k].value);
    }
}
