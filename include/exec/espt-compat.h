/*
 * qemu-espt: what differs between the upstream bases we build on.
 *
 * Our sources are the same for every base (QEMU 7.2 and 10.0).  Where
 * upstream moved a header or changed a signature since 7.2, they go
 * through this header instead; everything else they use is the same on
 * both.  The upstream hooks differ per base in patches/<base>/.
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef EXEC_ESPT_COMPAT_H
#define EXEC_ESPT_COMPAT_H

/* 10.0 renamed include/sysemu/ to include/system/ and split exec-all.h. */
#if QEMU_VERSION_MAJOR >= 10
#define ESPT_QEMU_10 1
#include "system/cpus.h"
#include "system/cpu-timers.h"
#include "system/hostmem.h"
#include "system/replay.h"
#include "system/runstate.h"
#include "system/system.h"
#include "exec/cputlb.h"
#include "accel/tcg/cpu-ops.h"
#include "accel/tcg/internal-common.h"  /* curr_cflags() */
#include "accel/tcg/tb-internal.h"      /* GETPC_ADJ */
#include "exec/tb-flush.h"
#else
#define ESPT_QEMU_10 0
#include "sysemu/cpus.h"
#include "sysemu/cpu-timers.h"
#include "sysemu/hostmem.h"
#include "sysemu/replay.h"
#include "sysemu/runstate.h"
#include "sysemu/sysemu.h"
#include "hw/core/tcg-cpu-ops.h"
#endif


/* The CPU's architectural state: cs->env_ptr is gone since 8.2. */
#if ESPT_QEMU_10
#define espt_cpu_env(cs)            cpu_env(cs)
#define espt_cpu_mmu_index(cs, f)   cpu_mmu_index((cs), (f))
#else
#define espt_cpu_env(cs)            ((CPUArchState *)(cs)->env_ptr)
#define espt_cpu_mmu_index(cs, f)   cpu_mmu_index((cs)->env_ptr, (f))
#endif

/* probe_access_full() takes the access size since 8.1; 0 is 7.2's. */
#if ESPT_QEMU_10
#define espt_probe_access_full(env, addr, type, idx, nonfault, phost, pfull, \
                               ra) \
    probe_access_full((env), (addr), 0, (type), (idx), (nonfault), (phost), \
                      (pfull), (ra))
#else
#define espt_probe_access_full      probe_access_full
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
#if ESPT_QEMU_10
#define ESPT_QAPI_SET_HAS(obj, member, val)  ((void)(val))
#else
#define ESPT_QAPI_SET_HAS(obj, member, val)  ((obj)->has_##member = (val))
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
#if ESPT_QEMU_10
#define espt_ram_fd_offset(rb)      ((rb)->fd_offset)
#else
#define espt_ram_fd_offset(rb)      ((off_t)0)
#endif

/* Notifiers with a return value take an Error ** since 9.0. */
#if ESPT_QEMU_10
#define ESPT_NOTIFIER_ERRP          , Error **errp
#else
#define ESPT_NOTIFIER_ERRP
#endif

#endif /* EXEC_ESPT_COMPAT_H */
