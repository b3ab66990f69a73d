/*
 * qemu-espt: shadow faults.
 *
 * A CF_ESPT TB's user access through a page that is not (or not
 * writably) mapped in the current shadow table raises SIGSEGV in
 * generated code.  The handler asks the softmmu's TLB fill for the page,
 * which raises guest aborts precisely, and then maps it (espt-table.c)
 * or runs that one guest instruction on softmmu (I/O, watchpoints,
 * stores next to translated code, pages that cannot be mapped).  Any
 * other SIGSEGV is not ours and stays a crash.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "exec/ram_addr.h"
#include "hw/core/cpu.h"
#include "tcg/tcg.h"
#include "trace.h"
#include "espt-internal.h"

#include <sys/mman.h>
#include <ucontext.h>

/*
 * Run the faulting guest instruction alone on the softmmu path, then go
 * on: for I/O, watchpoints, accesses that wrap around 4 GiB, and pages
 * that cannot be mapped.
 */
static G_NORETURN void espt_fallback(CPUState *cpu, uintptr_t retaddr)
{
    EsptTable *t = espt_thread_table;

    if (t && t->asid == ESPT_KTABLE) {
        /*
         * A kernel TB: what it met (I/O, a user page, a page the guest
         * keeps remapping, code) it will likely meet again, and each
         * time would cost a host fault.  It is translated again with its
         * accesses on softmmu.  Not counted for the cold periods.
         */
        espt_kernel_avoid_tb(cpu, retaddr);
    } else {
        espt_count_fallback(cpu);
    }
    cpu_restore_state(cpu, retaddr);
    cpu->cflags_next_tb = (curr_cflags(cpu) & ~(CF_ESPT | CF_ESPT_KERN)) |
                          ESPT_CF_LAST_IO | CF_NOIRQ | 1;
    cpu_loop_exit_noexc(cpu);
}

/*
 * A kernel access at @addr (@t is the kernel table) that the softmmu let
 * through: may the page go into the kernel table?  Only a global
 * translation, the same in every address space the table serves, and
 * only a page the guest does not keep remapping.  *@attrs: what the
 * target says the mapping depends on besides the TLB (ARM: the domain).
 */
static bool espt_kernel_page_ok(CPUState *cpu, EsptTable *t, vaddr addr,
                                bool is_write, unsigned *attrs,
                                EsptWalk *walk)
{
    EsptCpu *c = t->owner;
    vaddr vpage = addr & ~(vaddr)(ESPT_PAGE - 1);
    unsigned n;

    if (!espt_ops->kernel_page(cpu, addr, is_write, attrs, walk)) {
        qatomic_inc(&espt_stats.kernel_not_global);
        trace_espt_fallback(cpu->cpu_index, addr, "kernel: not global");
        return false;
    }
    if (!c->krefaults) {
        c->krefaults = g_hash_table_new(NULL, NULL);
    }
    n = GPOINTER_TO_UINT(g_hash_table_lookup(c->krefaults,
                                             ESPT_VKEY(vpage)));
    if (n >= ESPT_KERNEL_REFAULTS) {
        qatomic_inc(&espt_stats.kernel_refaulted);
        trace_espt_fallback(cpu->cpu_index, addr, "kernel: remapped often");
        return false;
    }
    if (g_hash_table_size(c->krefaults) >= 65536) {
        g_hash_table_remove_all(c->krefaults);
    }
    g_hash_table_insert(c->krefaults, ESPT_VKEY(vpage),
                        GUINT_TO_POINTER(n + 1));
    return true;
}

/*
 * A kernel TB at @addr is about to be cached for the kernel table (@t,
 * the thread's current one), whose jump cache holds only TBs whose code
 * it maps (invariant 19), but that page is not mapped, or is dormant:
 * map it as a read from it would, if the guest allows that read.  Much
 * kernel code is never read as data (entry paths, the vectors page), and
 * a page put to sleep by a full flush wakes only on a data access.  The
 * probe may not fault, so nothing the guest sees changes: an
 * architectural TLB may fill any translation the tables allow at any
 * time.  Each page is tried at most ESPT_KERNEL_REFAULTS times between
 * sleeps of the table (espt_kernel_page_ok() counts them).
 */
bool espt_kernel_map_code(CPUState *cpu, EsptTable *t, vaddr addr)
{
    CPUArchState *env = espt_cpu_env(cpu);
    CPUTLBEntryFull *full;
    EsptCpu *c = t->owner;
    void *host;
    int flags;
    ram_addr_t ram;
    unsigned lg, attrs = 0;
    EsptWalk walk;
    bool ok;

    if (c->krefaults &&
        GPOINTER_TO_UINT(g_hash_table_lookup(c->krefaults,
                             ESPT_VKEY(addr & ~(vaddr)(ESPT_PAGE - 1)))) >=
        ESPT_KERNEL_REFAULTS) {
        return false;
    }
    flags = espt_probe_access_full(env, addr, MMU_DATA_LOAD, t->mmu_idx, true,
                                   &host, &full, 0);
    if (flags & (TLB_INVALID_MASK | TLB_MMIO | TLB_WATCHPOINT |
                 TLB_DISCARD_WRITE) || !host) {
        return false;
    }
    ram = qemu_ram_addr_from_host(host);
    if (ram == RAM_ADDR_INVALID ||
        !espt_kernel_page_ok(cpu, t, addr, false, &attrs, &walk)) {
        return false;
    }
    lg = full->lg_page_size;
    if (!walk.exec || !walk.n ||
        walk.phys != (full->phys_addr & TARGET_PAGE_MASK)) {
        return false;
    }
    qemu_mutex_lock(&espt.lock);
    ok = espt_map(t, addr & ~(vaddr)(ESPT_PAGE - 1), host, PROT_READ, lg,
                  attrs | ESPT_ATTR_EXEC) && !t->stale;
    qemu_mutex_unlock(&espt.lock);
    if (ok) {
        qatomic_inc(&espt_stats.kernel_code_maps);
        espt_kwatch_add(cpu, c, addr, &walk, full->phys_addr, false, lg);
    }
    return ok;
}

/* A user access at @addr of @t faulted: map the page, or run on softmmu. */
static void espt_fault(CPUState *cpu, EsptTable *t, vaddr addr,
                       bool is_write, uintptr_t retaddr)
{
    CPUArchState *env = espt_cpu_env(cpu);
    CPUTLBEntryFull *full;
    EsptCpu *c = t->owner;
    void *host;
    int flags, prot = PROT_READ;
    ram_addr_t ram;
    unsigned lg, attrs = 0;
    EsptWalk walk;
    uint64_t phys;

    if (t->asid == ESPT_KTABLE) {
        qatomic_inc(&espt_stats.kernel_faults);
    }
    if (is_write) {
        qatomic_inc(&espt_stats.faults_write);
    } else {
        qatomic_inc(&espt_stats.faults_read);
    }
    trace_espt_fault(cpu->cpu_index, t->asid, addr, is_write);
    if (t->asid != ESPT_KTABLE) {
        /* The kernel table has its own rule: espt_kernel_count_sleep(). */
        espt_count_fault(cpu, c);
    }
    /* Precise guest abort if the guest page tables say no. */
    flags = espt_probe_access_full(env, addr, is_write ? MMU_DATA_STORE :
                                   MMU_DATA_LOAD, t->mmu_idx, false, &host,
                                   &full, retaddr);
    lg = full->lg_page_size;
    phys = full->phys_addr;
    if (flags & (TLB_MMIO | TLB_WATCHPOINT | TLB_DISCARD_WRITE) || !host) {
        qatomic_inc(&espt_stats.fallbacks_io);
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
        qatomic_inc(&espt_stats.fallbacks_io);
        trace_espt_fallback(cpu->cpu_index, addr, "not RAM");
        espt_fallback(cpu, retaddr);
    }
    if (is_write) {
        if (!cpu_physical_memory_get_dirty_flag(ram, DIRTY_MEMORY_CODE)) {
            qatomic_inc(&espt_stats.smc_writes);
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
        int wf = espt_probe_access_full(env, addr, MMU_DATA_STORE,
                                        t->mmu_idx, true, &h2, &f2,
                                        retaddr);

        if (!(wf & (TLB_INVALID_MASK | TLB_MMIO | TLB_WATCHPOINT |
                    TLB_DISCARD_WRITE)) && h2 == host) {
            prot |= PROT_WRITE;
        }
    }
    if (t->asid == ESPT_KTABLE) {
        if (!espt_kernel_page_ok(cpu, t, addr, is_write, &attrs, &walk)) {
            espt_fallback(cpu, retaddr);
        }
        /* Its jump cache may take TBs of the page (invariant 19). */
        if (walk.exec && walk.n && walk.phys == (phys & TARGET_PAGE_MASK)) {
            attrs |= ESPT_ATTR_EXEC;
        }
    }
    qemu_mutex_lock(&espt.lock);
    if (!espt_map(t, addr & ~(vaddr)(ESPT_PAGE - 1), host, prot, lg,
                  attrs) ||
        t->stale) {
        qemu_mutex_unlock(&espt.lock);
        qatomic_inc(&espt_stats.fallbacks_io);
        trace_espt_fallback(cpu->cpu_index, addr, "cannot map");
        if (t->stale) {
            /* Emptying it for the budget failed: softmmu from now on. */
            espt_set_cflags(cpu, 0);
        }
        espt_fallback(cpu, retaddr);
    }
    qemu_mutex_unlock(&espt.lock);
    if (t->asid == ESPT_KTABLE) {
        espt_kwatch_add(cpu, c, addr, &walk, phys, prot & PROT_WRITE, lg);
    }
    if (lg > ESPT_PAGE_BITS) {
        espt_map_large(cpu, t, addr, prot, lg, attrs, retaddr);
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

/*
 * Segmented tables (espt-internal.h).  The backend emits a CF_ESPT access
 * as "mov map(GS:[bits 47:32 of VA] * 8), %base" then one access at
 * (%base + %va [+ 8]), %va holding the guest address; the two halves of
 * a 16-byte access whose data register is %va go through
 * "lea (%base + %va), %hi" and (%hi), 8(%hi).  Where an access goes:
 *
 * - a segment with a window: window + VA's low 32 bits, if VA's bits
 *   63:48 are 0; else that plus (bits 63:48) << 48, which has bits 63:48
 *   not 0 while bit 47 is 0 (a window lies below 2^47): not canonical, a
 *   general protection fault;
 * - a segment without: ESPT_SEG_NONE + VA, not canonical either.
 *
 * So an access reaches its window or faults, and a window's page is
 * mapped only for the guest page of that segment.  A page fault names
 * the byte: its window gives the guest address.  A protection fault names
 * nothing: read the guest address back from the instruction, as its SIB
 * index (plus displacement).
 */
typedef struct EsptAccess {
    int base, index;            /* REG_* of ucontext; index -1: none */
    int64_t disp;
    bool is_write;
} EsptAccess;

static const int espt_gregs[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

/* The loads and stores tcg/i386 emits for guest accesses, and no other. */
static bool espt_decode_access(const uint8_t *p, EsptAccess *a)
{
    int rex = 0, op, modrm, mod, rm;

    while (*p == 0x66 || *p == 0x67) {
        p++;
    }
    if ((*p & 0xf0) == 0x40) {
        rex = *p++;
    }
    op = *p++;
    if (op == 0x0f) {
        op = 0x0f00 | *p++;
    }
    switch (op) {
    case 0x88: case 0x89:
        a->is_write = true;
        break;
    case 0x8b: case 0x63:
    case 0x0fb6: case 0x0fb7: case 0x0fbe: case 0x0fbf:
        a->is_write = false;
        break;
    default:
        return false;
    }
    modrm = *p++;
    mod = modrm >> 6;
    rm = modrm & 7;
    if (mod == 3 || (mod == 0 && rm == 5)) {
        return false;           /* a register, or RIP-relative */
    }
    a->index = -1;
    if (rm == 4) {
        int sib = *p++;
        int idx = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);

        rm = sib & 7;
        if (mod == 0 && rm == 5) {
            return false;       /* no base */
        }
        if (idx != 4) {
            a->index = espt_gregs[idx];
        }
    }
    a->base = espt_gregs[rm | (rex & 1 ? 8 : 0)];
    a->disp = mod == 1 ? (int8_t)p[0] : mod == 2 ? (int32_t)ldl_le_p(p) : 0;
    return true;
}

static void espt_sigsegv_seg(CPUState *cpu, EsptTable *t, siginfo_t *info,
                             ucontext_t *uc, uintptr_t pc)
{
    greg_t *regs = uc->uc_mcontext.gregs;
    uintptr_t a = (uintptr_t)info->si_addr;
    uintptr_t off = a - (uintptr_t)t->base;
    EsptAccess acc;
    vaddr addr, start;

    pc += GETPC_ADJ;
    if (a && off < (uintptr_t)t->nsegs * ESPT_STRIDE) {
        /* A page fault in a window: it names the byte. */
        if (off % ESPT_STRIDE >= ESPT_REGION_SIZE) {
            qatomic_inc(&espt_stats.fallbacks_wrap);
            trace_espt_fallback(cpu->cpu_index, off, "crosses a segment");
            espt_fallback(cpu, pc);
        }
        addr = ((vaddr)t->seg[off / ESPT_STRIDE] << ESPT_SEG_SHIFT) +
               off % ESPT_STRIDE;
        espt_fault(cpu, t, addr, regs[REG_ERR] & 2, pc);
        return;
    }
    if (!espt_decode_access((const uint8_t *)(pc - GETPC_ADJ), &acc)) {
        sigaction(SIGSEGV, &espt.old_segv, NULL);
        return;                 /* not an access of ours: a crash */
    }
    /*
     * Bits 63:48 set (TTBR1's half, or a tag TBI does not remove): the
     * segment map cannot tell such a page from its alias below 2^48, so
     * it is never mapped, and the softmmu decides.  So it does where the
     * base register holds more than the map's word (the "lea" form: its
     * guest address cannot be told apart from one with bits 63:48 set),
     * and for the half of an access that crosses into another segment.
     */
    start = acc.index >= 0 ? regs[acc.index] : -1;
    addr = start + acc.disp;
    if (acc.index < 0 || start >> 48 || addr >> 48 ||
        (addr ^ start) >> ESPT_SEG_SHIFT) {
        qatomic_inc(&espt_stats.fallbacks_wrap);
        trace_espt_fallback(cpu->cpu_index, addr, "above 2^48");
        espt_fallback(cpu, pc);
    }
    /*
     * A segment without a window: the access gets one, but the
     * instruction that runs again reads its base register, which holds
     * what the map had before.  Give it the new word.
     */
    espt_fault(cpu, t, addr, acc.is_write, pc);
    regs[acc.base] = t->segmap[start >> ESPT_SEG_SHIFT];
}

/* The SIGSEGV handler (SA_SIGINFO), installed by espt_accel_init(). */
void espt_sigsegv(int sig, siginfo_t *info, void *puc)
{
    ucontext_t *uc = puc;
    uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP];
    uintptr_t a = (uintptr_t)info->si_addr;
    EsptTable *t = espt_thread_table;
    CPUState *cpu = current_cpu;
    sigset_t set;
    uint64_t off;

    if (!t || !cpu || !espt_pc_in_code(pc) ||
        (!espt.segmented && (a < (uintptr_t)t->base ||
                             a >= (uintptr_t)t->base + ESPT_STRIDE))) {
        /* Not ours: a real crash stays a crash. */
        sigaction(SIGSEGV, &espt.old_segv, NULL);
        return;
    }
    off = a - (uintptr_t)t->base;

    /* We may longjmp back to the cpu loop: unblock SIGSEGV first. */
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    if (espt.segmented) {
        espt_sigsegv_seg(cpu, t, info, uc, pc);
        return;
    }
    /* As for return addresses, restore_state looks before the pc. */
    pc += GETPC_ADJ;
    if (off >= ESPT_REGION_SIZE) {
        /* The tail of an access that wrapped past 4 GiB. */
        qatomic_inc(&espt_stats.fallbacks_wrap);
        trace_espt_fallback(cpu->cpu_index, off, "wraps 4 GiB");
        espt_fallback(cpu, pc);
    }
    espt_fault(cpu, t, off, uc->uc_mcontext.gregs[REG_ERR] & 2, pc);
}
