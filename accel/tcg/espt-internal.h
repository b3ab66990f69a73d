/*
 * qemu-espt: state shared by the files of the shadow page table manager.
 *
 * Each vCPU owns one shadow table per guest ASID.  For 32-bit guest
 * addresses (EsptTargetOps.va_bits 32) a table is a 4 GiB host region
 * (plus a guard) reserved PROT_NONE at start, whose byte at offset A is
 * guest virtual address A as user mode sees it: the vCPU thread's GS base
 * points at the current one, and TBs translated with CF_ESPT access user
 * memory as GS:[addr32].  For wider ones (AArch64) a table is segmented:
 * ESPT_SEGS such regions, each the window of one 4 GiB segment of the
 * guest's address space (VA bits 47:32), assigned on first use, and a
 * segment map of 64 Ki words, one per segment, at the GS base: the window
 * minus the segment's base, or ESPT_SEG_NONE.  A CF_ESPT access computes
 * its host address as map[VA bits 47:32] + VA (espt-fault.c has the
 * argument that no guest address reaches outside the windows).
 *
 * Invariant: a page is mapped in a vCPU's table only while the same
 * vCPU's softmmu TLB could hold the same translation for the ESPT mmu
 * index, with no more permission than a TLB hit would give.  So the table
 * is filled from QEMU's own TLB fill (on a host fault), and emptied by
 * every softmmu flush that covers that mmu index.  Pages holding
 * translated code are mapped read-only in every alias, so that writes
 * take the softmmu's self-modifying-code path.
 *
 * The manager, by concern (docs/espt.md):
 *   espt-table.c    tables, host mappings, reverse map, page budget
 *   espt-flush.c    the softmmu's TLB maintenance, followed in the tables
 *   espt-jc.c       the per-table jump caches of CF_ESPT TBs
 *   espt-fault.c    the SIGSEGV handler: shadow faults and fallbacks
 *   espt-policy.c   which TBs get CF_ESPT, GS base, cold periods
 *   espt-init.c     switches, host and run checks, RAM, userfaultfd, setup
 *   espt-monitor.c  'info espt' and query-espt
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef ACCEL_TCG_ESPT_INTERNAL_H
#define ACCEL_TCG_ESPT_INTERNAL_H

#include "qemu/bitmap.h"
#include "qemu/thread.h"
#include "exec/exec-all.h"
#include "exec/espt.h"
#include "exec/espt-compat.h"

/* What cpu_get_tb_cpu_state() fills in: vaddr since 8.0. */
#if ESPT_HAVE_TB_PC_VADDR
typedef vaddr espt_tb_pc_t;
typedef uint64_t espt_tb_cs_t;
#else
typedef target_ulong espt_tb_pc_t;
typedef target_ulong espt_tb_cs_t;
#endif

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

#define ESPT_ASIDS         256
/*
 * The guest kernel's table (espt-kernel=on) follows the ASIDs' tables in
 * EsptCpu.tables: it serves every address space, and holds only global
 * translations (docs/espt.md, "The guest kernel").
 */
#define ESPT_KTABLE        ESPT_ASIDS
#define ESPT_NTABLES       (ESPT_ASIDS + 1)
/*
 * A kernel page that faults more often than this while its table is not
 * emptied is one the guest keeps remapping (fixmap, kmap): the TBs that
 * touch it again run on softmmu.
 */
#define ESPT_KERNEL_REFAULTS 3
/*
 * A kernel that empties its TLB (TLBIALL) more than ESPT_KERNEL_STORM
 * times in ESPT_KERNEL_WINDOW_NS, as Debian's armmp kernels do on every
 * fork and exit, refaults its working set after each: softmmu refills
 * cost far less than shadow faults.  Its TBs run on softmmu for
 * ESPT_KERNEL_COLD_NS, long enough that switching between the two kinds
 * of kernel TB costs little.
 */
#define ESPT_KERNEL_STORM      16
#define ESPT_KERNEL_WINDOW_NS  (100 * 1000 * 1000)
#define ESPT_KERNEL_COLD_NS    (500 * 1000 * 1000)

/*
 * Segmented tables: windows per table, segment map entries, and the entry
 * of a segment without a window.  ESPT_SEG_NONE + VA is not canonical on
 * x86-64 for any VA below 2^64 - 2^62 (bits 63:47 are not all equal), so
 * the access raises SIGSEGV (a general protection fault, with no address).
 */
#define ESPT_SEGS          4
#define ESPT_SEG_SHIFT     32
#define ESPT_SEGMAP_LEN    (1 << 16)
#define ESPT_SEG_NONE      (1ULL << 62)

/* Guest virtual pages as keys of GHashTables (64-bit hosts only). */
#define ESPT_VKEY(va)      ((gpointer)(uintptr_t)(va))
#define ESPT_KEYV(k)       ((vaddr)(uintptr_t)(k))

/* The adaptive policy's defaults (espt-policy.c, the x- knobs). */
#define ESPT_NEW_AS_US     10000
#define ESPT_COLD_US       20000
#define ESPT_STORM_FAULTS  64

typedef struct EsptCpu EsptCpu;

#define ESPT_LARGE_RANGES  16
#define ESPT_LARGE_EXACT   21  /* log2 of the largest page kept exactly */

typedef struct EsptTable {
    uint8_t *base;              /* the region, or the first window */
    /*
     * Segmented tables: the segment map (GS base while current), NULL
     * until first used, and which segment each window serves (nsegs of
     * them).  The windows stay assigned when the table is emptied.
     */
    uint64_t *segmap;
    uint32_t seg[ESPT_SEGS];
    unsigned nsegs;
    GHashTable *pages;          /* guest vpage -> espt_page_val() */
    EsptContext ctx;            /* translation registers when filled */
    /*
     * Large guest pages (sections, blocks, huge pages) its pages were
     * mapped from: up to ESPT_LARGE_RANGES of at most 2 MiB exactly (a
     * flush inside one drops that range's pages); more of at most 2 MiB
     * as the 1 MiB granules of the 2 MiB-aligned regions they are in (a
     * flush in a marked granule drops that region's pages); larger ones
     * in one span like CPUTLBDesc's (a flush inside it empties the
     * table).
     */
    vaddr large[ESPT_LARGE_RANGES];
    uint8_t large_bits[ESPT_LARGE_RANGES];
    unsigned nlarge;
    unsigned long large_granules[BITS_TO_LONGS(4096)];
    vaddr large_addr;
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
    /*
     * The key of links made from this table's TBs (espt-chain.c): fresh
     * whenever jc is emptied, 0 until first needed.
     */
    uint32_t chain_key;
    EsptCpu *owner;
    int asid;                   /* ESPT_KTABLE: the kernel's */
    int mmu_idx;                /* whose accesses it serves */
    /* The kernel table: the attrs its pages may have, a bit per value. */
    uint16_t attrs_held;
    /*
     * The host refused to unmap or write-protect some of its pages (at
     * vm.max_map_count, splitting a mapping fails with ENOMEM): it may
     * hold stale or too permissive mappings.  Never used with CF_ESPT
     * until espt_drop_all() manages to empty it; its pages stay in the
     * bookkeeping meanwhile.  Set under espt.lock, read by the owner.
     */
    bool stale;
    /*
     * The checking mode's pages that disagreed with the guest's page
     * tables at the last audit: vpage -> EsptCheckSuspect (espt-check.c).
     */
    GHashTable *check_suspects;
} EsptTable;

/*
 * EsptTable.pages values: the RAM address of the page (4 KiB aligned),
 * bit 0 set (so never NULL), bit 1 set while the mapping is writable,
 * bits 5:2 the kernel table's attrs of the page (EsptTargetOps.
 * kernel_page(); 0 in the ASIDs' tables), bit 6 set while the page is
 * dormant: still mapped on the host, but PROT_NONE since a full flush,
 * until a fault finds the same translation again (espt_kernel_sleep()),
 * bit 7 set if the kernel table's walk of it said the kernel may fetch
 * from it (espt_map()'s attrs had ESPT_ATTR_EXEC).
 */
#define ESPT_PV_MAPPED      1
#define ESPT_PV_WRITABLE    2
#define ESPT_PV_ATTRS_SHIFT 2
#define ESPT_PV_ATTRS       (15 << ESPT_PV_ATTRS_SHIFT)
#define ESPT_PV_DORMANT     64
#define ESPT_PV_EXEC        128
#define ESPT_PV_FLAGS       (ESPT_PV_MAPPED | ESPT_PV_WRITABLE | \
                             ESPT_PV_ATTRS | ESPT_PV_DORMANT | ESPT_PV_EXEC)
/* In espt_map()'s attrs, beside the target's 4 bits: ESPT_PV_EXEC. */
#define ESPT_ATTR_EXEC      16

static inline gpointer espt_page_val(ram_addr_t ram, bool writable,
                                     unsigned attrs)
{
    return (gpointer)(uintptr_t)(ram | ESPT_PV_MAPPED |
                                 (writable ? ESPT_PV_WRITABLE : 0) |
                                 ((attrs & 15) << ESPT_PV_ATTRS_SHIFT) |
                                 (attrs & ESPT_ATTR_EXEC ? ESPT_PV_EXEC : 0));
}

static inline bool espt_page_exec(gpointer v)
{
    return (uintptr_t)v & ESPT_PV_EXEC;
}

static inline ram_addr_t espt_page_ram(gpointer v)
{
    return (uintptr_t)v & ~(uintptr_t)ESPT_PV_FLAGS;
}

static inline unsigned espt_page_attrs(gpointer v)
{
    return ((uintptr_t)v & ESPT_PV_ATTRS) >> ESPT_PV_ATTRS_SHIFT;
}

static inline bool espt_page_dormant(gpointer v)
{
    return (uintptr_t)v & ESPT_PV_DORMANT;
}

/* The same mapping, read-only. */
static inline gpointer espt_page_ro(gpointer v)
{
    return (gpointer)((uintptr_t)v & ~(uintptr_t)ESPT_PV_WRITABLE);
}

static inline bool espt_page_writable(gpointer v)
{
    return (uintptr_t)v & ESPT_PV_WRITABLE;
}

/* One vCPU: a shadow table per guest ASID, and the kernel's. */
struct EsptCpu {
    EsptTable tables[ESPT_NTABLES];
    /* tables with pages or cached TBs */
    unsigned long live[BITS_TO_LONGS(ESPT_NTABLES)];
    /* The user table it last ran CF_ESPT TBs on (NULL: none yet). */
    EsptTable *user_table;
    /*
     * Kernel pages that faulted since the kernel table was last emptied:
     * vpage -> count (ESPT_KERNEL_REFAULTS), NULL until needed.
     */
    GHashTable *krefaults;
    /*
     * What the kernel table's pages depend on (espt-kwatch.c): first
     * descriptors per MiB, the descriptors below them by host address,
     * and vpage -> host address of 4 KiB leaves; NULL until needed.  Not
     * whole (broken) if a page was mapped that it could not watch.
     */
    GHashTable *kroots, *kdescs, *kleaves;
    EsptRegime kregime;
    unsigned kwatch_ram_gen;    /* espt_kwatch_ram_gen when started */
    bool kwatch_broken;
    /* Full flushes of the kernel table in the current window (ns). */
    int64_t kwindow_start;
    unsigned kwindow_sleeps;
    int64_t kcold_until;        /* kernel TBs on softmmu until (ns), 0 */
    uint64_t user_state;        /* the target's user_state when filled */
    uint8_t suppress;           /* inside a flush that keeps the tables */
    int64_t window_start;       /* fault-rate window (ns) */
    unsigned window_faults;
    unsigned window_drops;      /* mapped pages dropped by flushes */
    unsigned window_fallbacks;  /* accesses ESPT could not map */
    int64_t cold_until;         /* softmmu TBs until then (ns), 0: none */
    /* The table whose key the vCPU's chained jumps use, and that key. */
    EsptTable *chain_table;
    uint32_t *chain_key;
    /* The target's CF_PCREL, which CF_ESPT TBs do without. */
    uint32_t pcrel;
    /* Hot counters, written by the vCPU's thread only: no shared line. */
    uint64_t flush_page, jc_misses, chain_links, chain_misses, chain_stale;
    uint64_t lookup_misses, check_jumps;
    int64_t check_next;         /* the checking mode's next audit (ns) */
    int64_t kcheck_next;        /* of the kernel table */
    int64_t check_quiet_until;  /* no audit before (ns): their time share */
};

/* EsptCpu.suppress */
enum {
    ESPT_SUPPRESS_NONE,
    ESPT_SUPPRESS_KEEP,         /* the flush cannot change user mappings */
    ESPT_SUPPRESS_SCOPED,       /* the caller drops what it must itself */
};

/* One shadow mapping of a RAM page, in the reverse map. */
typedef struct EsptAlias {
    EsptTable *t;
    vaddr vpage;
} EsptAlias;

/* The manager's state (espt-table.c); lock guards tables and rmap. */
typedef struct EsptState {
    QemuMutex lock;
    uint8_t *reserve;
    int ncpus;
    EsptCpu *cpus;              /* indexed by cpu_index */
    GHashTable *rmap;           /* ram page -> GSList of EsptAlias */
    long pages;                 /* mapped pages, all tables */
    long budget;                /* most mapped pages, see ESPT_VMA_RESERVE */
    long budget_base;           /* the budget before any count of VMAs */
    long vma_limit;             /* host VMAs ESPT may let the process reach */
    bool budget_fixed;          /* x-espt-budget: never recounted */
    uint64_t tables_live;
    struct sigaction old_segv;
    bool have_wrgsbase;
    bool segmented;             /* tables are segmented (va_bits > 32) */
    size_t table_span;          /* host address space of one table */
    int segmap_fd;              /* a segment map of ESPT_SEG_NONE only */
} EsptState;
extern EsptState espt;

/*
 * Keys of chained jumps (espt-chain.c): 1 to ESPT_CHAIN_KEY_LAST are
 * handed out; an unlinked slot holds ESPT_CHAIN_KEY_NONE; 0 links nothing.
 */
#define ESPT_CHAIN_KEY_NONE UINT32_MAX
#define ESPT_CHAIN_KEY_LAST (ESPT_CHAIN_KEY_NONE - 2)

/* Statistics, shown by 'info espt' (espt-monitor.c). */
typedef struct EsptStats {
    uint64_t faults_read, faults_write, faults_prot;
    uint64_t maps, remaps, fallbacks_io, fallbacks_wrap, smc_writes;
    uint64_t flush_all, flush_range, flush_suppressed, flush_narrowed;
    uint64_t flush_user_state, flush_context, flush_budget, write_protects;
    uint64_t flush_asid, flush_code;
    uint64_t table_switches, cold_periods, upgrades, maps_large;
    uint64_t host_failures, tables_stale, inhibits, cold_fallbacks;
    uint64_t chain_shared, lookup_mismatch, chain_flushes;
    uint64_t seg_evictions, flush_large;
    /* The kernel table (espt-kernel=on). */
    uint64_t kernel_faults, kernel_maps, kernel_flush_all, kernel_revoked;
    uint64_t kernel_tbs_avoided, kernel_not_global, kernel_refaulted;
    uint64_t kernel_revalidated, kernel_cold_periods;
    uint64_t kernel_flush_kept, kernel_watch_broken;
    uint64_t kernel_jc_adds, kernel_jc_refused, kernel_jc_dropped;
    uint64_t kernel_code_maps, kernel_tbs_guarded;
} EsptStats;
extern EsptStats espt_stats;

/* The checking mode's findings (espt-check.c), shown by 'info espt'. */
#define ESPT_CHECK_FIRST    8
typedef struct EsptCheckStats {
    uint64_t jump_errors;       /* jumps that entered another TB */
    uint64_t audits, pages;     /* tables and their pages audited */
    uint64_t page_errors;       /* pages mapped against the walk */
    uint64_t page_transients;   /* such disagreements that went away */
    uint64_t kernel_unmapped;   /* kernel pages unmapped, not yet flushed */
} EsptCheckStats;
extern EsptCheckStats espt_check_stats;

/* The table this thread's GS base points at (espt_set_gs()). */
extern __thread EsptTable *espt_thread_table;

/*
 * espt-init.c: the run's settings, as the accelerator had them when
 * espt_accel_init() set ESPT up (its properties do not change them after).
 */
extern EsptSettings espt_cfg;
/*
 * Rules ESPT breaks on purpose (x-espt-test-break=), so that a test can
 * show the checking mode catches what they are there for.
 */
enum {
    ESPT_BREAK_BREAKPOINTS = 1 << 0,    /* chain with breakpoints set */
    ESPT_BREAK_PAGE_FLUSH = 1 << 1,     /* keep pages a page flush hits */
    ESPT_BREAK_KERNEL_PAGE_FLUSH = 1 << 2,  /* the same, kernel table only */
    ESPT_BREAK_KERNEL_KEEP = 1 << 3,    /* keep it across full flushes */
};
/* Why ESPT is off (NULL while it is on). */
extern const char *espt_off_reason;
/* Why no vCPU may use ESPT for now (NULL: they may); see espt_inhibit(). */
extern const char *espt_inhibited;
/* What the target registered; never NULL while espt_enabled. */
extern const EsptTargetOps *espt_ops;

static inline EsptCpu *espt_cpu(CPUState *cpu)
{
    assert(cpu->cpu_index < espt.ncpus);
    return &espt.cpus[cpu->cpu_index];
}

/*
 * Where the TBs of a table's jump cache have code: a bitmap of the 64 KiB
 * granules of the 32-bit guest address space, marked with each TB's
 * first and last byte.
 */
#define ESPT_CODE_SHIFT 16
#define ESPT_CODE_BITS  (1 << (32 - ESPT_CODE_SHIFT))

static inline unsigned long espt_code_bit(vaddr va)
{
    return (va >> ESPT_CODE_SHIFT) & (ESPT_CODE_BITS - 1);
}

/* Wider guest addresses fold onto the same bits: a test may err on yes. */
static inline void espt_code_mark(unsigned long *code, vaddr pc,
                                  uint32_t size)
{
    set_bit(espt_code_bit(pc), code);
    set_bit(espt_code_bit(pc + MAX(size, 1) - 1), code);
}

/*
 * Whether a TB in the table's jc may have code on the page at @vpage: as
 * upstream assumes, one that starts on the page before may reach into it.
 */
static inline bool espt_jc_has_page(EsptTable *t, vaddr vpage)
{
    return t->jc_used &&
           (test_bit(espt_code_bit(vpage), t->code) ||
            test_bit(espt_code_bit(vpage - ESPT_PAGE), t->code));
}

/* 1 MiB granules that may hold pages (EsptTable.granules), folded alike. */
static inline unsigned long espt_granule(vaddr va)
{
    return (va >> 20) & 4095;
}

/*
 * The host address of guest virtual address @va in @t, or NULL if its
 * segment has no window (segmented tables).
 */
static inline uint8_t *espt_host(EsptTable *t, vaddr va)
{
    unsigned i;

    if (!espt.segmented) {
        return t->base + (uint32_t)va;
    }
    for (i = 0; i < t->nsegs; i++) {
        if (t->seg[i] == va >> ESPT_SEG_SHIFT) {
            return t->base + i * ESPT_STRIDE + (uint32_t)va;
        }
    }
    return NULL;
}

/* espt-table.c; "locked": called with espt.lock held. */
void espt_host_failed(const char *what, int err);
bool espt_unmap_host(uint8_t *host, uint64_t len);
void espt_mark_stale(EsptTable *t);                         /* locked */
void espt_forget_page(EsptTable *t, vaddr vpage, ram_addr_t ram);
void espt_drop_page(EsptTable *t, vaddr vpage);             /* locked */
void espt_set_live(EsptTable *t);                           /* locked */
void espt_drop_all(EsptTable *t);                           /* locked */
void espt_kernel_sleep(EsptTable *t);                       /* locked */
bool espt_budget_allows(long more);                         /* locked */
void espt_pages_gone(long n);                               /* locked */
void espt_kwatch_init(void);
void espt_kwatch_reset(EsptCpu *c);
void espt_kwatch_add(CPUState *cpu, EsptCpu *c, vaddr addr,
                     const EsptWalk *w, uint64_t phys, bool writable,
                     unsigned lg);
void espt_kwatch_forget(EsptCpu *c, vaddr vpage);
bool espt_kwatch_holds(CPUState *cpu, EsptCpu *c);
void espt_drop_cpu(EsptCpu *c);                             /* locked */
bool espt_map(EsptTable *t, vaddr vpage, void *host, int prot,
              unsigned lg_page_size, unsigned attrs);       /* locked */
void espt_map_large(CPUState *cpu, EsptTable *t, vaddr addr,
                    int prot, unsigned lg, unsigned attrs, uintptr_t retaddr);
bool espt_set_gs(EsptTable *t);

/* espt-jc.c */
void espt_jc_init(EsptTable *t);
void espt_jc_empty(EsptTable *t);
void espt_kernel_jc_drop(EsptTable *t);

/*
 * Chained jumps, inline lookups and the checking mode (espt-chain.c,
 * espt-check.c) are built by the patch that hooks them into translation,
 * later in the series than the rest of the manager, which calls them
 * through these ops: espt-chain.c registers them when it is linked in
 * (a QOM type initialiser, before the accelerator is set up).  Without
 * them ESPT serves accesses as before and chains nothing.
 */
typedef struct EsptJumpOps {
    void (*init)(void);
    /* @cpu enters table @t (@switched: another than before) with CF_ESPT */
    void (*enter)(CPUState *cpu, EsptCpu *c, EsptTable *t, bool switched);
    /* @cpu's next TBs are not CF_ESPT: its links and lookups find nothing */
    void (*leave)(CPUState *cpu);
    /* @cpu enters kernel table @t (espt-kernel=on): the checking mode */
    void (*kernel_enter)(CPUState *cpu, EsptCpu *c, EsptTable *t);
    /* @t was emptied: links made from its TBs are stale */
    void (*rekey)(EsptTable *t);
    void (*tb_flush)(void);
    uint64_t (*slots_used)(void);
    /* The checking mode's first mismatches, described; g_strfreev() it. */
    char **(*first_mismatches)(int *n);
} EsptJumpOps;
extern const EsptJumpOps *espt_jump_ops;
/* Once, before the accelerator is set up; @ops must stay valid. */
void espt_register_jump_ops(const EsptJumpOps *ops);

static inline void espt_jumps_enter(CPUState *cpu, EsptCpu *c, EsptTable *t,
                                    bool switched)
{
    if (espt_jump_ops) {
        espt_jump_ops->enter(cpu, c, t, switched);
    }
}

static inline void espt_jumps_leave(CPUState *cpu)
{
    if (espt_jump_ops) {
        espt_jump_ops->leave(cpu);
    }
}

static inline void espt_jumps_rekey(EsptTable *t)
{
    if (espt_jump_ops) {
        espt_jump_ops->rekey(t);
    }
}

/*
 * Whether CF_ESPT_KERN TBs chain and look up inline through the kernel
 * table's jump cache (invariant 19).  A chained jump must lead to one
 * virtual address: they are keyed by virtual PC for it, as CF_ESPT TBs
 * are (without 8.0's CF_PCREL; 7.2 keys every TB by virtual PC).
 */
static inline bool espt_kernel_jumps(void)
{
    return espt_cfg.chain && espt_cfg.kernel_jumps && espt_kernel_mmu_idx >= 0;
}

/*
 * CF_ESPT (@f) or not (0) for @cpu's next TBs.  CF_ESPT TBs are keyed by
 * virtual PC even where the target translates PC-relative (10.0's
 * CF_PCREL, which shares a TB between virtual addresses): a direct jump
 * chained across pages (espt-chain.c) must lead to one address.  Without
 * CF_ESPT, the vCPU's chained jumps and inline lookups find nothing from
 * now on (EsptJumpOps.leave), so that a CF_ESPT TB still running goes
 * through the lookup, which returns a TB for the new cflags.
 */
static inline void espt_set_cflags(CPUState *cpu, uint32_t f)
{
    EsptCpu *c = espt_cpu(cpu);
    uint32_t cf = cpu->tcg_cflags;

    if (!(cf & (CF_ESPT | CF_ESPT_KERN))) {
        c->pcrel = cf & ESPT_CF_PCREL;
    }
    cf &= ~(CF_ESPT | CF_ESPT_KERN | ESPT_CF_PCREL);
    /*
     * CF_ESPT_KERN TBs chain across pages like CF_ESPT ones where
     * espt_kernel_jumps() says so, and are keyed by virtual PC for it;
     * otherwise they chain as upstream's do, and keep CF_PCREL.
     */
    if ((f & CF_ESPT) || ((f & CF_ESPT_KERN) && espt_kernel_jumps())) {
        cpu->tcg_cflags = cf | f;
    } else {
        cpu->tcg_cflags = cf | f | c->pcrel;
        espt_jumps_leave(cpu);
    }
}

/* espt-chain.c, espt-check.c: see EsptJumpOps */
void espt_chain_enter(CPUState *cpu, EsptCpu *c, EsptTable *t);
void espt_chain_leave(CPUState *cpu);
void espt_check_init(void);
void espt_check_enter(CPUState *cpu, EsptCpu *c, EsptTable *t, bool switched);
char **espt_check_first_mismatches(int *n);

/* espt-policy.c */
void espt_count_fault(CPUState *cpu, EsptCpu *c);
void espt_kernel_count_sleep(CPUState *cpu, EsptCpu *c);
/*
 * The kernel TB that ran into @retaddr accesses through softmmu from now:
 * outside the kernel's block-mapped range, or everywhere if it was so
 * guarded already.
 */
void espt_kernel_avoid_tb(CPUState *cpu, uintptr_t retaddr);
/*
 * The kernel table maps a page of a guest block [@start, @end), under
 * espt.lock.
 */
void espt_kernel_note_block(uint64_t start, uint64_t end);
/* The guarded kernel TBs' range as it is now ('info espt'). */
void espt_kernel_guard_get(uint64_t *lo, uint64_t *len);
/* The kernel table was emptied: walk for that range again.  Locked. */
void espt_kernel_guard_stale(void);
void espt_count_fallback(CPUState *cpu);

/* espt-fault.c */
void espt_sigsegv(int sig, siginfo_t *info, void *puc);
bool espt_kernel_map_code(CPUState *cpu, EsptTable *t, vaddr addr);

#endif /* ACCEL_TCG_ESPT_INTERNAL_H */
