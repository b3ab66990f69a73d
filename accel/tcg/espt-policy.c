/*
 * qemu-espt: which TBs of a vCPU use the shadow table (CF_ESPT), and
 * when a vCPU runs softmmu TBs for a while instead.
 *
 * espt_update() decides CF_ESPT where the state it depends on changes
 * (entry to cpu_exec(), the target's TB flag rebuilds), never per TB
 * lookup: the target's ops say whether the vCPU runs code ESPT can serve
 * and which address space it is in; that picks the table and the
 * thread's GS base.  The adaptive policy (tcg,espt-adaptive=, invariant
 * 5) sends a vCPU to softmmu for a while where ESPT would not pay.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "cpu.h"
#include "hw/core/cpu.h"
#include "tcg/tcg.h"
#include "espt-internal.h"

/*
 * A shadow fault costs about 8 us, and unmapping the page again a few
 * more; a softmmu TLB refill a fraction of a microsecond.  Mappings that
 * stay pay that back, mappings that the guest flushes soon after do not
 * (mmap churn, fork/exec).  A vCPU that takes more than
 * x-espt-storm-faults shadow faults in ESPT_COLD_WINDOW_NS (64: about 13%
 * of its time in faults) while its flushes drop more than ESPT_COLD_DROPS
 * mapped pages runs softmmu TBs for x-espt-cold-us, then ESPT again.  A
 * program filling new memory (first touch, no drops) stays on ESPT.
 * Counted per vCPU, not per table: short-lived processes each get a
 * fresh table.  The window is host time because what it weighs is host
 * time: the faults' cost against the time the vCPU spends running.
 *
 * A new address space (a table used under other translation registers
 * than before: a new process) starts on softmmu for x-espt-new-as-us: a
 * short-lived process (fork/exec, shell pipelines) would pay a shadow
 * fault for every page it touches and never win it back.
 *
 * The defaults (espt-internal.h) were chosen over every group of `make
 * bench`, not one workload; see docs/espt.md.
 */
#define ESPT_COLD_WINDOW_NS  (4 * 1000 * 1000)
#define ESPT_COLD_DROPS      16

/* Softmmu TBs for x-espt-cold-us from @now on (invariant 5). */
static void espt_go_cold(CPUState *cpu, EsptCpu *c, int64_t now)
{
    c->cold_until = now + espt_cfg.cold_us * SCALE_US;
    qatomic_inc(&espt_stats.cold_periods);
    /* TBs looked up from now on run on softmmu; see espt_update(). */
    espt_set_cflags(cpu, 0);
}

/* @cpu takes a shadow fault (@c is its EsptCpu). */
void espt_count_fault(CPUState *cpu, EsptCpu *c)
{
    int64_t now = get_clock();

    if (now - c->window_start > ESPT_COLD_WINDOW_NS) {
        c->window_start = now;
        c->window_faults = 0;
        c->window_drops = 0;
        c->window_fallbacks = 0;
    }
    if (++c->window_faults > espt_cfg.storm_faults &&
        c->window_drops > ESPT_COLD_DROPS && espt_cfg.adaptive) {
        /* Faulting faster than ESPT pays back: softmmu for a while. */
        c->window_faults = 0;
        espt_go_cold(cpu, c, now);
    }
}

/* @cpu runs an access on softmmu that ESPT could not serve. */
void espt_count_fallback(CPUState *cpu)
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
    if (espt_cfg.adaptive && ++c->window_fallbacks > espt_cfg.storm_faults) {
        c->window_fallbacks = 0;
        qatomic_inc(&espt_stats.cold_fallbacks);
        espt_go_cold(cpu, c, get_clock());
    }
}

/*
 * Whether @t may be used with CF_ESPT or CF_ESPT_KERN: not stale (see
 * EsptTable.stale), or emptied now, which makes it usable again.
 */
static bool espt_table_usable(EsptTable *t)
{
    if (likely(!qatomic_read(&t->stale))) {
        return true;
    }
    qemu_mutex_lock(&espt.lock);
    espt_drop_all(t);
    qemu_mutex_unlock(&espt.lock);
    return !t->stale;
}

/*
 * Kernel TBs that ESPT saw fault on a page that must stay on softmmu (I/O,
 * a user page, a page the guest keeps remapping, code): guest physical
 * address of the TB's start -> ESPT_KTB_GUARD or ESPT_KTB_AVOID, under
 * espt.lock.  Kernel code is global, so its physical address names it in
 * every address space.  The first such fault makes the TB's
 * retranslation guarded: its accesses inside the kernel's block-mapped
 * range (espt_kernel_note_block(), the linear map) still go through the
 * kernel table, the others through softmmu (espt_seg_guard()).  The
 * kernel's shared copy and clear routines meet user pages, device
 * registers and kmap's fixmap slots through some callers and the linear
 * map through most.  A fault of a TB already guarded (its access inside
 * the range met such a page) makes it avoided: every access through
 * softmmu (espt_seg_mmu_idx()).
 */
enum { ESPT_KTB_GUARD = 1, ESPT_KTB_AVOID = 2 };
static GHashTable *espt_kernel_avoid;

/*
 * The guard's range.  Its seeds are the 1 MiB granules of the 32-bit
 * guest VA space in which the kernel table mapped a page of a block
 * (section, LPAE block): their densest cluster, where granules less
 * than ESPT_KGUARD_GAP apart belong to one cluster.  On Linux that is
 * the linear map; the cluster keeps out the identity maps at RAM's
 * physical address that the decompressor and the kernel's boot use,
 * which would otherwise stretch the range over user space.  The range
 * is that cluster grown over the granules next to it that a walk finds
 * mapped as global blocks (the kernel table maps only what the kernel
 * touched), so that a TB, which keeps the range it was guarded with,
 * gets the whole linear map.  A cluster whose first granule no longer
 * walks to a global block (the decompressor's) is dropped.  Computed
 * again after a new seed or a full flush the kernel table did not
 * survive (espt_kernel_guard_stale()); under espt.lock.
 */
#define ESPT_KGUARD_GRANULES    4096
#define ESPT_KGUARD_GAP         256     /* granules: 256 MiB */
static DECLARE_BITMAP(espt_kblocks, ESPT_KGUARD_GRANULES);
static bool espt_kguard_valid;
static uint64_t espt_kguard_lo, espt_kguard_len;

/* The seeds' densest cluster, [*first, *last]; false if there is none. */
static bool espt_kernel_cluster(unsigned long *first, unsigned long *last)
{
    unsigned long g, f = 0, l = 0, n = 0, best = 0;

    for (g = find_first_bit(espt_kblocks, ESPT_KGUARD_GRANULES);
         g < ESPT_KGUARD_GRANULES;
         g = find_next_bit(espt_kblocks, ESPT_KGUARD_GRANULES, g + 1)) {
        if (n && g - l >= ESPT_KGUARD_GAP) {
            n = 0;
        }
        if (!n) {
            f = g;
        }
        l = g;
        if (++n > best) {
            best = n;
            *first = f;
            *last = l;
        }
    }
    return best;
}

/* Whether the kernel's walk maps granule @g as a global block. */
static bool espt_kernel_block_at(CPUState *cpu, int64_t g)
{
    EsptWalk walk;
    unsigned attrs;

    return espt_ops->kernel_page(cpu, (vaddr)g << 20, false, &attrs, &walk) &&
           walk.lg >= 20;
}

static void espt_kernel_guard_range(CPUState *cpu)
{
    unsigned long first, last;
    int64_t lo, hi;

    espt_kguard_valid = true;
    espt_kguard_len = 0;
    while (espt_kernel_cluster(&first, &last)) {
        if (!espt_kernel_block_at(cpu, first)) {
            bitmap_clear(espt_kblocks, first, last + 1 - first);
            continue;
        }
        for (lo = first; lo > 0 && espt_kernel_block_at(cpu, lo - 1); lo--) {
            continue;
        }
        for (hi = last + 1; hi < ESPT_KGUARD_GRANULES &&
             espt_kernel_block_at(cpu, hi); hi++) {
            continue;
        }
        espt_kguard_lo = (uint64_t)lo << 20;
        espt_kguard_len = (uint64_t)(hi - lo) << 20;
        return;
    }
}

static unsigned espt_kernel_tb_state(uint64_t phys_pc)
{
    if (!espt_kernel_avoid) {
        return 0;
    }
    return GPOINTER_TO_UINT(g_hash_table_lookup(espt_kernel_avoid,
                                                ESPT_VKEY(phys_pc)));
}

bool espt_kernel_tb_ok(uint64_t phys_pc)
{
    bool ok;

    if (phys_pc == (uint64_t)-1) {
        return false;           /* not in RAM: it could not be named */
    }
    qemu_mutex_lock(&espt.lock);
    ok = espt_kernel_tb_state(phys_pc) != ESPT_KTB_AVOID;
    qemu_mutex_unlock(&espt.lock);
    return ok;
}

void espt_seg_guard(uint32_t cflags, uint64_t phys_pc, uint64_t *lo,
                    uint64_t *len)
{
    *lo = *len = 0;
    if (!(cflags & CF_ESPT_KERN) || phys_pc == (uint64_t)-1) {
        return;
    }
    qemu_mutex_lock(&espt.lock);
    if (espt_kernel_tb_state(phys_pc) == ESPT_KTB_GUARD) {
        if (!espt_kguard_valid) {
            espt_kernel_guard_range(current_cpu);
        }
        *lo = espt_kguard_lo;
        *len = espt_kguard_len;
    }
    qemu_mutex_unlock(&espt.lock);
}

void espt_kernel_note_block(uint64_t start, uint64_t end)
{
    uint64_t g;

    for (g = start >> 20; g < ESPT_KGUARD_GRANULES && g << 20 < end; g++) {
        if (!test_bit(g, espt_kblocks)) {
            set_bit(g, espt_kblocks);
            espt_kguard_valid = false;
        }
    }
}

void espt_kernel_guard_stale(void)
{
    espt_kguard_valid = false;
}

void espt_kernel_guard_get(uint64_t *lo, uint64_t *len)
{
    qemu_mutex_lock(&espt.lock);
    *lo = espt_kguard_lo;
    *len = espt_kguard_len;
    qemu_mutex_unlock(&espt.lock);
}

void espt_kernel_avoid_tb(CPUState *cpu, uintptr_t retaddr)
{
    TranslationBlock *tb = tcg_tb_lookup(retaddr);
    tb_page_addr_t phys;
    unsigned state;

    if (!tb) {
        return;
    }
    phys = tb_page_addr0(tb);
    if (phys == -1) {
        return;
    }
    qemu_mutex_lock(&espt.lock);
    if (!espt_kernel_avoid) {
        espt_kernel_avoid = g_hash_table_new(NULL, NULL);
    }
    /*
     * Guarded first, if there is a range to guard by; a second fault at
     * the same address (whichever of its TBs raised it) avoids it.
     */
    state = ESPT_KTB_AVOID;
    if (espt_kernel_tb_state(phys) == 0 && espt_cfg.kernel_guard) {
        if (!espt_kguard_valid) {
            espt_kernel_guard_range(cpu);
        }
        if (espt_kguard_len) {
            state = ESPT_KTB_GUARD;
        }
    }
    g_hash_table_insert(espt_kernel_avoid, ESPT_VKEY(phys),
                        GUINT_TO_POINTER(state));
    qemu_mutex_unlock(&espt.lock);
    qatomic_inc(state == ESPT_KTB_GUARD ? &espt_stats.kernel_tbs_guarded
                                        : &espt_stats.kernel_tbs_avoided);
    /* Its next lookup translates it again (the TB stays until tb_flush). */
    tb_phys_invalidate(tb, -1);
}

/* @cpu's kernel table was emptied by a full flush (invariant 5). */
void espt_kernel_count_sleep(CPUState *cpu, EsptCpu *c)
{
    int64_t now = get_clock();

    if (!espt_cfg.adaptive) {
        return;
    }
    if (now - c->kwindow_start > ESPT_KERNEL_WINDOW_NS) {
        c->kwindow_start = now;
        c->kwindow_sleeps = 0;
    }
    if (++c->kwindow_sleeps > ESPT_KERNEL_STORM) {
        c->kwindow_sleeps = 0;
        c->kcold_until = now + ESPT_KERNEL_COLD_NS;
        qatomic_inc(&espt_stats.kernel_cold_periods);
        if (cpu->tcg_cflags & CF_ESPT_KERN) {
            espt_set_cflags(cpu, 0);
        }
    }
}

/*
 * CF_ESPT_KERN for this vCPU in kernel mode, with espt-kernel=on: the
 * kernel table becomes the thread's current one.  The cold periods of the
 * adaptive policy are the user tables': a kernel TB is either CF_ESPT_KERN
 * or not, and flipping between the two every period made the kernel look
 * every TB up again (forkexec: a quarter of its time in the TB hash
 * table).
 */
static uint32_t espt_kernel_cflags_now(CPUState *cpu)
{
    const EsptTargetOps *ops = espt_ops;
    EsptCpu *c;
    EsptTable *t;

    if (espt_kernel_mmu_idx < 0 || !ops->kernel_ok(cpu)) {
        return 0;
    }
    c = espt_cpu(cpu);
    t = &c->tables[ESPT_KTABLE];
    if (unlikely(c->kcold_until)) {
        if (get_clock() < c->kcold_until) {
            return 0;
        }
        c->kcold_until = 0;
    }
    if (unlikely(!espt_table_usable(t))) {
        return 0;
    }
    if (espt_thread_table != t && !espt_set_gs(t)) {
        return 0;
    }
    if (espt_jump_ops) {
        espt_jump_ops->kernel_enter(cpu, c, t);
    }
    return CF_ESPT_KERN;
}

/* CF_ESPT for this vCPU now, making its table the thread's current one. */
static uint32_t espt_cflags_now(CPUState *cpu)
{
    const EsptTargetOps *ops = espt_ops;
    EsptCpu *c;
    EsptTable *t;
    EsptContext ctx;
    uint64_t us;
    bool switched;
    int asid;

    if (qatomic_read(&espt_inhibited)) {
        return 0;
    }
    if (!ops->user_ok(cpu)) {
        return espt_kernel_cflags_now(cpu);
    }
    c = espt_cpu(cpu);
    /*
     * Entering user mode: state outside the TLB that user translations
     * depend on (DACR) may have changed under a suppressed flush.
     */
    us = ops->user_state(cpu);
    if (unlikely(us != c->user_state)) {
        qemu_mutex_lock(&espt.lock);
        espt_drop_cpu(c);
        c->user_state = us;
        qatomic_inc(&espt_stats.flush_user_state);
        qemu_mutex_unlock(&espt.lock);
        /* The softmmu TLB may hold entries made under the old state too. */
        tlb_flush_by_mmuidx(cpu, 1 << espt_mmu_idx);
    }
    /* One table per ASID: a context switch only moves the GS base. */
    asid = ops->context(cpu, &ctx) & (ESPT_ASIDS - 1);
    t = &c->tables[asid];
    if (unlikely(memcmp(&ctx, &t->ctx, sizeof(ctx)))) {
        /* Same ASID, other translation registers: start it again. */
        qemu_mutex_lock(&espt.lock);
        if (test_bit(asid, c->live)) {
            espt_drop_all(t);
            qatomic_inc(&espt_stats.flush_context);
        }
        t->ctx = ctx;
        qemu_mutex_unlock(&espt.lock);
        if (espt_cfg.adaptive) {
            c->cold_until = get_clock() + espt_cfg.new_as_us * SCALE_US;
            qatomic_inc(&espt_stats.cold_periods);
        }
    }
    if (unlikely(!espt_table_usable(t))) {
        return 0;
    }
    /* Another user table than last time (the kernel's may be between). */
    switched = c->user_table != t;
    if (unlikely(espt_thread_table != t)) {
        if (!espt_set_gs(t)) {
            return 0;
        }
    }
    if (unlikely(switched)) {
        c->user_table = t;
        qatomic_inc(&espt_stats.table_switches);
    }
    if (unlikely(c->cold_until)) {
        if (get_clock() < c->cold_until) {
            return 0;
        }
        c->cold_until = 0;
    }
    /* Its chained jumps use the table's key (espt-chain.c). */
    espt_jumps_enter(cpu, c, t, switched);
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
    espt_set_cflags(cpu, f);
}
