/*
 * qemu-espt: embedded shadow page tables.
 *
 * Guest user-mode loads and stores of TBs translated with CF_ESPT are
 * emitted by the TCG backend as single host accesses through the GS
 * segment into a reserved 4 GiB host region (the shadow table of the
 * vCPU).  The region is filled lazily from a SIGSEGV handler that asks
 * QEMU's own TLB fill for the translation, and emptied whenever QEMU's
 * softmmu TLB drops the same entries.  See docs/espt.md.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EXEC_ESPT_H
#define EXEC_ESPT_H

#include "exec/cpu-common.h"
#include "qapi/qapi-types-common.h"

/*
 * TB cflags bit: the TB's accesses with mmu index espt_mmu_idx go through
 * the shadow table.  Part of the TB lookup key like every cflags bit.
 * Unused by upstream in every base (7.2 uses up to 0x00100000, 10.0 up to
 * 0x00040000; the cluster ID starts at 0x01000000).
 */
#define CF_ESPT          0x00400000
/*
 * TB cflags bit: a guest kernel TB whose accesses with mmu index
 * espt_kernel_mmu_idx go through the vCPU's kernel table (docs/espt.md,
 * "The guest kernel"), unless ESPT decided against it for that TB
 * (espt_seg_mmu_idx()).  Never set together with CF_ESPT.
 */
#define CF_ESPT_KERN     0x00200000

/*
 * May cpu_exec() link the direct exit of TB @from to TB @to?  Not from a
 * CF_ESPT TB to one without, nor back, and likewise for CF_ESPT_KERN:
 * each kind may only run while the vCPU's cflags ask for it (and the
 * thread's GS base points at its table), and a linked jump would carry a
 * vCPU from one kind into the other without a lookup.  On 10.0 the kinds also differ in
 * CF_PCREL, and a CF_ESPT TB's linked exit leaves the PC stale, which a
 * PC-relative TB computes from.  A macro: TranslationBlock is not known
 * everywhere this header is.
 */
#define espt_tb_link_ok(from, to) \
    (!((tb_cflags(from) ^ tb_cflags(to)) & (CF_ESPT | CF_ESPT_KERN)))

/*
 * ESPT's part of the TCG accelerator's state (TCGState), set through the
 * accelerator's properties (espt_accel_class_init()).
 */
typedef struct EsptSettings {
    OnOffAuto mode;             /* espt=: auto uses it where it can work */
    /*
     * espt-adaptive=: run softmmu TBs for a while in new address spaces
     * and during fault storms, where ESPT would not pay (off makes ESPT
     * serve everything it can, for tests and measurements).
     */
    bool adaptive;
    /*
     * espt-chain=: chain user-mode TBs across guest pages, checked per
     * address space (accel/tcg/espt-chain.c; off leaves every such jump
     * to the lookup helper, as upstream does).
     */
    bool chain;
    /*
     * espt-kernel=: also serve the guest kernel's own accesses (its data
     * accesses of global pages) through a kernel table per vCPU.
     */
    bool kernel;
    /*
     * x-espt-kernel-jumps=: with espt-kernel=on and espt-chain=on, kernel
     * TBs whose code the kernel table maps also chain across guest pages
     * and look indirect targets up inline, in the kernel table's jump
     * cache (invariant 19); off leaves them to the lookup helper.
     */
    bool kernel_jumps;
    /*
     * x-espt-kernel-guard=: with espt-kernel=on, a kernel TB that met a
     * page that must stay on softmmu keeps its accesses inside the
     * kernel's block-mapped range (the linear map) on the kernel table
     * and sends only the others to softmmu; off sends them all.
     */
    bool kernel_guard;
    /* The x- properties: tuning and test knobs, not a stable interface. */
    bool check;                 /* x-espt-check: ESPT checks itself */
    uint32_t chain_key_start;   /* x-espt-chain-key-start: keys run out */
    uint32_t budget;            /* x-espt-budget: mappings (0: automatic) */
    /* The adaptive policy's periods and storm rate (espt-policy.c). */
    uint32_t new_as_us;         /* x-espt-new-as-us */
    uint32_t cold_us;           /* x-espt-cold-us */
    uint32_t storm_faults;      /* x-espt-storm-faults */
    uint32_t test_break;        /* x-espt-test-break: ESPT_BREAK_* bits */
    bool test_no_target;        /* x-espt-test-no-target: as if no ops */
} EsptSettings;

struct DisasContextBase;
struct TCGv_i32_d;
struct TCGv_i64_d;

#ifndef CONFIG_USER_ONLY
/* The mmu index whose accesses ESPT serves; -1 while ESPT is off. */
extern int espt_mmu_idx;
/* The guest kernel's, with espt-kernel=on; -1 otherwise. */
extern int espt_kernel_mmu_idx;
/* True once ESPT is enabled for this run. */
extern bool espt_enabled;
/*
 * Whether the kernel TB starting at guest physical address @phys_pc may
 * access through the kernel table (ESPT has not seen it fault on a page
 * that must stay on softmmu).
 */
bool espt_kernel_tb_ok(uint64_t phys_pc);
/*
 * tb_gen_code(): the mmu index that the backend is to lower to one access
 * through the GS segment (TCGContext.seg_mmu_idx) in a TB with @cflags
 * that starts at guest physical address @phys_pc (-1: not in RAM).
 */
static inline int espt_seg_mmu_idx(uint32_t cflags, uint64_t phys_pc)
{
    if (cflags & CF_ESPT) {
        return espt_mmu_idx;
    }
    if ((cflags & CF_ESPT_KERN) && espt_kernel_tb_ok(phys_pc)) {
        return espt_kernel_mmu_idx;
    }
    return -1;
}

/*
 * tb_gen_code(), with espt_seg_mmu_idx(): for a kernel TB with @cflags at
 * guest physical address @phys_pc whose accesses of espt_kernel_mmu_idx
 * are to go through the kernel table only inside [*@lo, *@lo + *@len),
 * that range; the backend sends the others to softmmu.  *@len is 0 where
 * every such access goes through the table.
 */
void espt_seg_guard(uint32_t cflags, uint64_t phys_pc, uint64_t *lo,
                    uint64_t *len);

/*
 * The accelerator's class and instance init: ESPT's properties, on the
 * EsptSettings at @offset in the accelerator's instance, and their
 * defaults.
 */
void espt_accel_class_init(ObjectClass *oc, ptrdiff_t offset);
void espt_settings_init(EsptSettings *s);
/* NULL if this host can run ESPT, else why not. */
const char *espt_host_unsupported(void);
/*
 * Called once the accelerator is set up, with its settings (which this
 * run then keeps); fails with a reason.
 */
bool espt_accel_init(const EsptSettings *s, Error **errp);
/* Whether RAM backends should be shared memfds (ESPT is on). */
bool espt_wants_shared_ram(void);
/*
 * memory-backend-ram: allocate it as a shared memfd if ESPT wants one and
 * the user did not ask for share=off; false: allocate as usual.
 */
bool espt_ram_backend_alloc(HostMemoryBackend *backend, const char *name,
                            uint32_t ram_flags, Error **errp);
/*
 * Userfaultfd is about to watch guest RAM (postcopy destination,
 * background snapshot), which it cannot do through shadow mappings: empty
 * every table and run softmmu TBs only until espt_uninhibit().  The vCPUs
 * must be stopped.  @why shows in 'info espt'.
 */
void espt_inhibit(const char *why);
void espt_uninhibit(void);

/*
 * Whether the vCPU's next TBs use the shadow table: sets or clears CF_ESPT
 * in cpu->tcg_cflags, and moves the thread's GS base to the table of the
 * current guest address space.  Called where the state it depends on can
 * change: on entry to cpu_exec() and by the target whenever it rebuilds
 * its cached TB flags (mode changes, exception entry and return).  So TB
 * lookups, which run on every indirect branch, pay nothing for ESPT.
 */
void espt_update(CPUState *cpu);

/*
 * The target's translator: a direct jump of the TB being translated to
 * @dest, which is on another guest page than the TB's start, with the PC
 * already set to @dest.  For a CF_ESPT TB this emits the jump chained
 * through a checked link (accel/tcg/espt-chain.c) and returns true; else
 * false, and the caller emits its usual lookup of the next TB.
 */
bool espt_gen_chain(struct DisasContextBase *db, uint64_t dest);
/*
 * The target's translator: the TB being translated ends by looking up the
 * next TB from the CPU state (an indirect branch, or any lookup exit).
 * For a CF_ESPT TB this emits an inline lookup in the shadow table's jump
 * cache before the usual helper, and returns true; else false, and the
 * caller emits tcg_gen_lookup_and_goto_ptr().
 */
bool espt_gen_lookup(void);

/* cputlb: softmmu TLB maintenance that the shadow tables must follow. */
void espt_tlb_flush(CPUState *cpu, uint16_t idxmap);
void espt_tlb_flush_page(CPUState *cpu, vaddr addr, uint16_t idxmap);
void espt_tlb_flush_range(CPUState *cpu, vaddr addr, vaddr len,
                          uint16_t idxmap);
/*
 * physmem: the softmmu must see writes to these guest RAM pages again
 * (translated code on them, dirty logging): read-only in every table.
 */
void espt_reset_dirty(ram_addr_t start, ram_addr_t length);
/*
 * target: the guest invalidates the TLB entries of one ASID, on this vCPU
 * or (broadcast) on all of them, synced like tlb_flush_all_cpus_synced().
 * Does the softmmu flush too and returns true; false if ESPT is off and
 * the caller must flush as usual.
 */
bool espt_tlbi_asid(CPUState *cpu, int asid, bool broadcast);

/*
 * A flush of the softmmu TLB that cannot change what user mode sees
 * (Linux's software PAN rewriting DACR on every kernel entry and exit):
 * between espt_flush_suppress(cpu, true) and (cpu, false) this vCPU's
 * shadow table is kept; the target's user_state op decides at the next
 * entry to user mode whether it is still valid.
 */
void espt_flush_suppress(CPUState *cpu, bool suppress);

/* Translation registers a shadow table was filled under. */
typedef struct EsptContext {
    uint64_t ttbr0, ttbr1, tcr;
} EsptContext;


/*
 * What a walk of the guest's translation tables read (kernel_page()): its
 * descriptors, top level first, each with QEMU's host address of it (the
 * tables are in RAM; n is 0 if any is not, or the walk depends on more
 * than these, such as a stage 2), and the page it found.  A walk of the
 * same address reading the same first descriptor, then the same values
 * at the same places, finds the same translation.
 */
#define ESPT_WALK_MAX 5
typedef struct EsptWalk {
    int n;
    uint64_t phys;              /* the page's guest physical address */
    bool writable;
    bool exec;                  /* the walk's privilege may fetch from it */
    unsigned lg;                /* log2 of the size of the page it found */
    struct {
        void *host;
        uint64_t val;
        bool wide;              /* 8 bytes, else 4 */
        bool be;
    } d[ESPT_WALK_MAX];
} EsptWalk;

/* The target's translation-control registers, compared whole. */
typedef struct EsptRegime {
    uint64_t v[4];
} EsptRegime;

/*
 * What the manager asks of the target (target/<arch>/espt-*.c), which
 * registers it with espt_register_target() before the accelerator is set
 * up.  Without registered ops ESPT stays off ('info espt' says why, and
 * espt=on is an error).  user_ok, user_state and context run on the vCPU
 * thread whenever espt_update() decides CF_ESPT: keep them cheap.
 */
typedef struct EsptTargetOps {
    /* The mmu index of unprivileged accesses, the one ESPT serves. */
    int mmu_idx;
    /*
     * Bits of the user virtual addresses it serves: 32, or up to 48 with
     * 64-bit guest addresses (segmented tables, accel/tcg/espt-internal.h).
     */
    unsigned va_bits;
    /* The vCPU runs code whose user accesses ESPT can serve exactly. */
    bool (*user_ok)(CPUState *cpu);
    /*
     * State outside the TLB on which user-mode translations depend; a
     * change empties the vCPU's tables on the next entry to user mode.
     */
    uint64_t (*user_state)(CPUState *cpu);
    /*
     * The current user address space: returns its ASID, whose low 8 bits
     * pick the vCPU's shadow table, and fills @ctx; a table filled under
     * another context (which includes the whole ASID) is emptied before
     * use.
     */
    int (*context)(CPUState *cpu, EsptContext *ctx);
    /*
     * Optional.  While translating a CF_ESPT TB: emit code that computes
     * into @pc, @flags and @cs_base what a TB lookup would now compute
     * with cpu_get_tb_cpu_state(), from the live CPU state.  Indirect
     * jumps of CF_ESPT TBs then look the table's jump cache up inline
     * (accel/tcg/espt-chain.c); its miss path checks the result against
     * cpu_get_tb_cpu_state() and counts any difference.
     */
    void (*gen_tb_state)(struct TCGv_i64_d *pc, struct TCGv_i32_d *flags,
                         struct TCGv_i64_d *cs_base);
    /*
     * Optional: the guest kernel (espt-kernel=on).  kernel_mmu_idx is the
     * mmu index of its ordinary accesses; kernel_ok() says the vCPU runs
     * kernel code whose accesses of that index the kernel table can serve
     * exactly.  kernel_page() walks the guest's tables for a page the
     * softmmu has just let the kernel access at @addr: true if the
     * translation is global (the same in every address space), with the
     * state outside the TLB it depends on in *@attrs (ARM: the domain,
     * which DACR writes can take away: espt_kernel_revoke()).  With
     * @walk, it also says what the walk read (EsptWalk), also when it
     * fails.  kernel_regime() gives the registers, besides the table
     * bases, that the kernel's walks depend on: while they and the
     * descriptors of the table's pages stay the same, a full flush keeps
     * the kernel table (espt-kwatch.c).
     */
    int kernel_mmu_idx;
    bool (*kernel_ok)(CPUState *cpu);
    bool (*kernel_page)(CPUState *cpu, vaddr addr, bool is_write,
                        unsigned *attrs, EsptWalk *walk);
    void (*kernel_regime)(CPUState *cpu, EsptRegime *regime);
} EsptTargetOps;
/* Once, before the accelerator is initialised; @ops must stay valid. */
void espt_register_target(const EsptTargetOps *ops);

/*
 * The virtual-PC TB cache of the current shadow table, which CF_ESPT TB
 * lookups use instead of cpu->tb_jmp_cache (see accel/tcg/espt-jc.c).
 * An entry is one word, 0 when empty: the guest PC in the low half and,
 * in the high half, the TB's signed offset from @base, an address in the
 * TCG code buffer (at most 2 GiB on x86-64 hosts, so any TB is within
 * reach).  Half the size of CPUJumpCache's PC + pointer pairs, so the
 * lookup's hottest table takes half the host's data cache.  A user
 * table's has 1 << ESPT_JC_BITS entries; the kernel table's, which every
 * process's system calls share and which is rarely emptied, has
 * 1 << ESPT_KJC_BITS (@mask is their number less one).
 */
#define ESPT_JC_BITS 12
#define ESPT_KJC_BITS 18
typedef struct EsptJumpCache {
    uintptr_t base;
    uint32_t mask;
    uint64_t entry[];
} EsptJumpCache;
extern __thread EsptJumpCache *espt_thread_jc;
/*
 * Its hash, before the cache's mask: by address like user mode's, not by
 * page like softmmu's.
 */
static inline uint32_t espt_jmp_cache_hash(uint64_t pc)
{
    return pc ^ (pc >> ESPT_JC_BITS);
}
static inline TranslationBlock *espt_jmp_cache_get(uint32_t hash,
                                                   uint64_t pc)
{
    EsptJumpCache *jc = espt_thread_jc;
    uint64_t e = qatomic_read(&jc->entry[hash & jc->mask]);

    if ((uint32_t)e != (uint32_t)pc || !e) {
        return NULL;
    }
    return (TranslationBlock *)(jc->base + (int32_t)(e >> 32));
}
/*
 * The kernel table's jump cache hashes the TB flags in too: the same
 * kernel code runs under more than one (on Arm, FPEXC.EN follows the
 * thread that owns the FPU, and each value has its own TBs).
 */
static inline uint32_t espt_kjc_hash(uint64_t pc, uint32_t flags,
                                     uint64_t cs_base)
{
    return espt_jmp_cache_hash(pc) ^ flags ^ (uint32_t)cs_base;
}
/*
 * For a lookup with @cflags: a CF_ESPT_KERN TB the kernel table's jump
 * cache (the thread's current one in kernel mode) holds for @pc, @flags
 * and @cs_base, or NULL.  The caller still compares flags, cs_base and
 * cflags, as for any cache hit.
 */
static inline TranslationBlock *espt_kernel_jmp_cache_get(uint32_t cflags,
                                                          uint64_t pc,
                                                          uint32_t flags,
                                                          uint64_t cs_base)
{
    EsptJumpCache *jc = espt_thread_jc;
    uint64_t e;

    if (!(cflags & CF_ESPT_KERN) || !jc) {
        return NULL;
    }
    e = qatomic_read(&jc->entry[espt_kjc_hash(pc, flags, cs_base) &
                                jc->mask]);
    if ((uint32_t)e != (uint32_t)pc || !e) {
        return NULL;
    }
    return (TranslationBlock *)(jc->base + (int32_t)(e >> 32));
}
/*
 * @tb goes into a jump cache for @pc: a CF_ESPT TB into espt_thread_jc,
 * done here (returns true); any other into cpu->tb_jmp_cache, which the
 * caller does (returns false).
 */
bool espt_jmp_cache_add(CPUState *cpu, const TranslationBlock *tb,
                        uint64_t pc);
/* tb_flush(): every TB is gone. */
void espt_tb_flush(void);

/*
 * ARM: DACR went from @old to @new.  With ESPT on, the shadow tables are
 * kept (they are checked against DACR on entry to user mode) and the
 * softmmu TLBs flushed as target/arm/tlb-domains.c says.
 */
void espt_target_dacr_write(CPUState *cpu, uint32_t old, uint32_t new);
/*
 * The kernel's pages whose attrs (EsptTargetOps.kernel_page()) are in
 * @revoked (a bit per value, below 16) lost access: drop them from @cpu's
 * kernel table (ARM: DACR took access away from those domains).
 */
void espt_kernel_revoke(CPUState *cpu, uint16_t revoked);
/* Count a TLB flush that ESPT found unneeded and left out. */
void espt_flush_skipped(CPUState *cpu);
/* Count one that ESPT cut down to a few pages. */
void espt_flush_narrowed(CPUState *cpu);

#else
#define espt_enabled false
static inline int espt_seg_mmu_idx(uint32_t cflags, uint64_t phys_pc)
{
    return -1;
}
static inline void espt_seg_guard(uint32_t cflags, uint64_t phys_pc,
                                  uint64_t *lo, uint64_t *len)
{
    *lo = *len = 0;
}
static inline bool espt_gen_chain(struct DisasContextBase *db, uint64_t dest)
{
    return false;
}
static inline bool espt_gen_lookup(void)
{
    return false;
}
static inline TranslationBlock *espt_jmp_cache_get(uint32_t hash,
                                                   uint64_t pc)
{
    return NULL;
}
static inline bool espt_jmp_cache_add(CPUState *cpu,
                                      const TranslationBlock *tb, uint64_t pc)
{
    return false;
}
static inline TranslationBlock *espt_kernel_jmp_cache_get(uint32_t cflags,
                                                          uint64_t pc,
                                                          uint32_t flags,
                                                          uint64_t cs_base)
{
    return NULL;
}
static inline uint32_t espt_jmp_cache_hash(uint64_t pc)
{
    return 0;
}
static inline void espt_target_dacr_write(CPUState *cpu, uint32_t old,
                                          uint32_t new)
{
    /* Not reached: espt_enabled is false. */
}
static inline void espt_tb_flush(void)
{
}
static inline void espt_update(CPUState *cpu)
{
}
static inline void espt_flush_suppress(CPUState *cpu, bool suppress)
{
}
static inline bool espt_tlbi_asid(CPUState *cpu, int asid, bool broadcast)
{
    return false;
}
#endif /* CONFIG_USER_ONLY */

#endif /* EXEC_ESPT_H */
