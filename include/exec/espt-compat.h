/*
 * qemu-espt: what differs between the upstream bases we build on.
 *
 * Our sources are the same for every base (QEMU 7.2 and 10.0).  Where
 * upstream moved a header or changed a signature since 7.2, they go
 * through this header instead; everything else they use is the same on
 * both.  Each difference is decided by a test for the feature itself
 * (__has_include, a macro upstream defines with it, or a test of the
 * base's sources in meson.build), never by a version number, so that a
 * base between or after ours builds wherever it has what we need.  The
 * upstream hooks differ per base in patches/<base>/.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EXEC_ESPT_COMPAT_H
#define EXEC_ESPT_COMPAT_H

#include "qemu-espt/espt-config.h"     /* ESPT_HAVE_*: see meson.build */

/* 9.2 renamed include/sysemu/ to include/system/. */
#if __has_include("system/cpus.h")
#include "system/cpus.h"
#include "system/cpu-timers.h"
#include "system/hostmem.h"
#include "system/replay.h"
#include "system/runstate.h"
#include "system/system.h"
#else
#include "sysemu/cpus.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/hostmem.h"
#include "sysemu/replay.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#endif
/* Split out of exec-all.h and hw/core/ in 8.x to 10.0. */
#if __has_include("exec/cputlb.h")
#include "exec/cputlb.h"
#endif
#if __has_include("accel/tcg/cpu-ops.h")
#include "accel/tcg/cpu-ops.h"
#else
#include "hw/core/tcg-cpu-ops.h"
#endif
#if __has_include("accel/tcg/internal-common.h")
#include "accel/tcg/internal-common.h"  /* curr_cflags() */
#endif
#if __has_include("accel/tcg/tb-internal.h")
#include "accel/tcg/tb-internal.h"      /* GETPC_ADJ */
#endif
#if __has_include("exec/tb-flush.h")
#include "exec/tb-flush.h"
#endif

/* The CPU's architectural state: cs->env_ptr is gone since 8.2. */
#if ESPT_HAVE_CPU_ENV
#define espt_cpu_env(cs)            cpu_env(cs)
#else
#define espt_cpu_env(cs)            ((CPUArchState *)(cs)->env_ptr)
#endif
/* cpu_mmu_index() takes the CPUState since 9.0. */
#if ESPT_HAVE_MMU_INDEX_CS
#define espt_cpu_mmu_index(cs, f)   cpu_mmu_index((cs), (f))
#else
#define espt_cpu_mmu_index(cs, f)   cpu_mmu_index(espt_cpu_env(cs), (f))
#endif

/* probe_access_full() takes the access size since 8.1; 0 is 7.2's. */
#if ESPT_HAVE_PROBE_FULL_SIZE
#define espt_probe_access_full(env, addr, type, idx, nonfault, phost, pfull, \
                               ra) \
    probe_access_full((env), (addr), 0, (type), (idx), (nonfault), (phost), \
                      (pfull), (ra))
#else
#define espt_probe_access_full      probe_access_full
#endif

/*
 * Translation: the env pointer's TCG global (tcg_env since 8.2), the
 * cflags of the TB being generated, and temps that live across a branch
 * (every temp since 8.0; before, only "local" ones).
 */
#if ESPT_HAVE_TCG_ENV
#define espt_tcg_env                tcg_env
#else
#define espt_tcg_env                cpu_env
#endif
#if ESPT_HAVE_GEN_TB
#define espt_gen_cflags()           (tcg_ctx->gen_tb->cflags)
#else
#define espt_gen_cflags()           (tcg_ctx->tb_cflags)
#endif
#if ESPT_HAVE_TEMP_LOCAL
#define espt_temp_new_tb_ptr        tcg_temp_local_new_ptr
#define espt_temp_new_tb_i32        tcg_temp_local_new_i32
#define espt_temp_new_tb_i64        tcg_temp_local_new_i64
#else
#define espt_temp_new_tb_ptr        tcg_temp_new_ptr
#define espt_temp_new_tb_i32        tcg_temp_new_i32
#define espt_temp_new_tb_i64        tcg_temp_new_i64
#endif

/*
 * The negative-offset state, before env in ArchCPU: in CPUState since
 * 8.2 (cpu->neg), in ArchCPU before.
 */
#if ESPT_HAVE_CPUSTATE_NEG
#define ESPT_NEG_OFS(f)     (offsetof(ArchCPU, parent_obj.neg.f) - \
                             offsetof(ArchCPU, env))
#define espt_neg(cs)        (&(cs)->neg)
#else
#define ESPT_NEG_OFS(f)     (offsetof(ArchCPU, neg.f) - offsetof(ArchCPU, env))
#define espt_neg(cs)        cpu_neg(cs)
#endif

/*
 * A one-instruction TB that may do I/O: 7.2 wants CF_LAST_IO for it,
 * which 8.2 dropped (every TB may do I/O in its last instruction).
 */
#ifdef CF_LAST_IO
#define ESPT_CF_LAST_IO             CF_LAST_IO
#else
#define ESPT_CF_LAST_IO             0
#endif

/* PC-relative TBs shared between virtual addresses: 8.0's CF_PCREL. */
#ifdef CF_PCREL
#define ESPT_CF_PCREL               CF_PCREL
#else
#define ESPT_CF_PCREL               0
#endif

/* QAPI: optional pointer members lost their has_ flag in 8.0. */
#if !ESPT_HAVE_QAPI_NEED_HAS
#define ESPT_QAPI_SET_HAS(obj, member, val)  ((obj)->has_##member = (val))
#else
#define ESPT_QAPI_SET_HAS(obj, member, val)  ((void)(val))
#endif
/*
 * RAM flags: 10.0 asks for RAM_PRIVATE or RAM_SHARED explicitly; the
 * memfd that ESPT allocates is always shared.
 */
#ifdef RAM_PRIVATE
#define ESPT_RAM_SHARED_FLAGS(f)    (((f) & ~RAM_PRIVATE) | RAM_SHARED)
#else
#define ESPT_RAM_SHARED_FLAGS(f)    ((f) | RAM_SHARED)
#endif

/*
 * Where a RAM block starts in its file: memory-backend-file's offset=
 * (8.2).  7.2 always maps a file from its start.  Needs exec/ramblock.h.
 */
#if ESPT_HAVE_RAM_FD_OFFSET
#define espt_ram_fd_offset(rb)      ((rb)->fd_offset)
#else
#define espt_ram_fd_offset(rb)      ((off_t)0)
#endif

/* Notifiers with a return value take an Error ** since 9.0. */
#if ESPT_HAVE_NOTIFIER_ERRP
#define ESPT_NOTIFIER_ERRP          , Error **errp
#else
#define ESPT_NOTIFIER_ERRP
#endif

#endif /* EXEC_ESPT_COMPAT_H */
