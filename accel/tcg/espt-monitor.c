/*
 * qemu-espt: 'info espt' and query-espt (schema in qapi/espt.json).
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "monitor/monitor.h"
#include "monitor/hmp.h"
#include "qapi/qapi-commands-espt.h"
#include "espt-internal.h"

EsptInfo *qmp_query_espt(Error **errp)
{
    EsptInfo *info = g_new0(EsptInfo, 1);
    int i;

    info->enabled = espt_enabled;
    ESPT_QAPI_SET_HAS(info, reason, !espt_enabled);
    info->reason = espt_enabled ? NULL : g_strdup(espt_off_reason);
    info->vcpus = espt_enabled ? espt.ncpus : 0;
    info->asids = ESPT_ASIDS;
    info->mmu_index = espt_mmu_idx;
    info->gs_base = g_strdup(espt.have_wrgsbase ? "wrgsbase" : "arch_prctl");
    info->tables = g_strdup(espt.segmented ? "segmented" : "flat");
    info->segment_evictions = qatomic_read(&espt_stats.seg_evictions);
    info->flushes_large = qatomic_read(&espt_stats.flush_large);
    info->pages_mapped = espt.pages;
    info->vma_budget = espt.budget;
    info->tables_live = espt.tables_live;
    info->table_switches = qatomic_read(&espt_stats.table_switches);
    info->cold_periods = qatomic_read(&espt_stats.cold_periods);
    info->faults_read = qatomic_read(&espt_stats.faults_read);
    info->faults_write = qatomic_read(&espt_stats.faults_write);
    info->maps = qatomic_read(&espt_stats.maps);
    info->remaps = qatomic_read(&espt_stats.remaps);
    info->upgrades = qatomic_read(&espt_stats.upgrades);
    info->maps_large = qatomic_read(&espt_stats.maps_large);
    info->smc_writes = qatomic_read(&espt_stats.smc_writes);
    info->write_protects = qatomic_read(&espt_stats.write_protects);
    info->fallbacks_io = qatomic_read(&espt_stats.fallbacks_io);
    info->fallbacks_wrap = qatomic_read(&espt_stats.fallbacks_wrap);
    info->flushes_all = qatomic_read(&espt_stats.flush_all);
    info->flushes_asid = qatomic_read(&espt_stats.flush_asid);
    info->flushes_range = qatomic_read(&espt_stats.flush_range);
    info->flushes_kept = qatomic_read(&espt_stats.flush_suppressed);
    info->flushes_narrowed = qatomic_read(&espt_stats.flush_narrowed);
    info->flushes_user_state = qatomic_read(&espt_stats.flush_user_state);
    info->flushes_context = qatomic_read(&espt_stats.flush_context);
    info->flushes_budget = qatomic_read(&espt_stats.flush_budget);
    info->flushes_code = qatomic_read(&espt_stats.flush_code);
    info->host_failures = qatomic_read(&espt_stats.host_failures);
    info->tables_stale = qatomic_read(&espt_stats.tables_stale);
    info->inhibits = qatomic_read(&espt_stats.inhibits);
    info->cold_fallbacks = qatomic_read(&espt_stats.cold_fallbacks);
    info->chain_slots = espt_jump_ops ? espt_jump_ops->slots_used() : 0;
    info->chain_shared = qatomic_read(&espt_stats.chain_shared);
    info->chain_links = 0;
    info->chain_misses = 0;
    info->chain_stale = 0;
    info->lookup_misses = 0;
    info->lookup_mismatch = qatomic_read(&espt_stats.lookup_mismatch);
    info->chain_flushes = qatomic_read(&espt_stats.chain_flushes);
    info->kernel = espt_enabled && espt_kernel_mmu_idx >= 0;
    info->kernel_faults = qatomic_read(&espt_stats.kernel_faults);
    info->kernel_maps = qatomic_read(&espt_stats.kernel_maps);
    info->kernel_flushes_all = qatomic_read(&espt_stats.kernel_flush_all);
    info->kernel_revoked = qatomic_read(&espt_stats.kernel_revoked);
    info->kernel_tbs_avoided = qatomic_read(&espt_stats.kernel_tbs_avoided);
    info->kernel_tbs_guarded = qatomic_read(&espt_stats.kernel_tbs_guarded);
    info->kernel_not_global = qatomic_read(&espt_stats.kernel_not_global);
    info->kernel_refaulted = qatomic_read(&espt_stats.kernel_refaulted);
    info->kernel_revalidated = qatomic_read(&espt_stats.kernel_revalidated);
    info->kernel_cold_periods = qatomic_read(&espt_stats.kernel_cold_periods);
    info->kernel_flushes_kept = qatomic_read(&espt_stats.kernel_flush_kept);
    info->kernel_watch_broken = qatomic_read(&espt_stats.kernel_watch_broken);
    info->kernel_jc_adds = qatomic_read(&espt_stats.kernel_jc_adds);
    info->kernel_jc_refused = qatomic_read(&espt_stats.kernel_jc_refused);
    info->kernel_jc_dropped = qatomic_read(&espt_stats.kernel_jc_dropped);
    info->kernel_code_maps = qatomic_read(&espt_stats.kernel_code_maps);
    if (info->kernel) {
        espt_kernel_guard_get(&info->kernel_guard_start,
                              &info->kernel_guard_size);
    }
    info->inhibited = g_strdup(qatomic_read(&espt_inhibited));
    ESPT_QAPI_SET_HAS(info, inhibited, info->inhibited != NULL);
    info->tb_cache_misses = 0;
    info->flushes_page = 0;
    info->check = espt_enabled && espt_cfg.check;
    info->check_jump_errors = qatomic_read(&espt_check_stats.jump_errors);
    info->check_audits = qatomic_read(&espt_check_stats.audits);
    info->check_pages = qatomic_read(&espt_check_stats.pages);
    info->check_page_errors = qatomic_read(&espt_check_stats.page_errors);
    info->check_page_transients =
        qatomic_read(&espt_check_stats.page_transients);
    info->check_kernel_unmapped =
        qatomic_read(&espt_check_stats.kernel_unmapped);
    if (info->check && espt_jump_ops) {
        int n;
        char **first = espt_jump_ops->first_mismatches(&n);

        for (i = n - 1; i >= 0; i--) {
            QAPI_LIST_PREPEND(info->check_first, first[i]);
        }
        g_free(first);      /* the strings are the list's now */
        ESPT_QAPI_SET_HAS(info, check_first, n > 0);
    }
    for (i = 0; i < espt.ncpus; i++) {
        info->check_jumps += qatomic_read(&espt.cpus[i].check_jumps);
        info->tb_cache_misses += qatomic_read(&espt.cpus[i].jc_misses);
        info->flushes_page += qatomic_read(&espt.cpus[i].flush_page);
        info->chain_links += qatomic_read(&espt.cpus[i].chain_links);
        info->chain_misses += qatomic_read(&espt.cpus[i].chain_misses);
        info->chain_stale += qatomic_read(&espt.cpus[i].chain_stale);
        info->lookup_misses += qatomic_read(&espt.cpus[i].lookup_misses);
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
        { "flushes-large", i->flushes_large },
        { "flushes-kept", i->flushes_kept },
        { "flushes-narrowed", i->flushes_narrowed },
        { "flushes-user-state", i->flushes_user_state },
        { "flushes-context", i->flushes_context },
        { "flushes-budget", i->flushes_budget },
        { "flushes-code", i->flushes_code },
        { "tb-cache-misses", i->tb_cache_misses },
        { "chain-slots", i->chain_slots },
        { "chain-links", i->chain_links },
        { "chain-misses", i->chain_misses },
        { "chain-stale", i->chain_stale },
        { "chain-shared", i->chain_shared },
        { "lookup-misses", i->lookup_misses },
        { "lookup-mismatch", i->lookup_mismatch },
        { "chain-flushes", i->chain_flushes },
        { "host-failures", i->host_failures },
        { "tables-stale", i->tables_stale },
        { "segment-evictions", i->segment_evictions },
        { "inhibits", i->inhibits },
    };
    const struct {
        const char *name;
        uint64_t value;
    } kern[] = {
        { "kernel-faults", i->kernel_faults },
        { "kernel-maps", i->kernel_maps },
        { "kernel-flushes-all", i->kernel_flushes_all },
        { "kernel-revoked", i->kernel_revoked },
        { "kernel-tbs-avoided", i->kernel_tbs_avoided },
        { "kernel-tbs-guarded", i->kernel_tbs_guarded },
        { "kernel-not-global", i->kernel_not_global },
        { "kernel-refaulted", i->kernel_refaulted },
        { "kernel-revalidated", i->kernel_revalidated },
        { "kernel-cold-periods", i->kernel_cold_periods },
        { "kernel-flushes-kept", i->kernel_flushes_kept },
        { "kernel-watch-broken", i->kernel_watch_broken },
        { "kernel-jc-adds", i->kernel_jc_adds },
        { "kernel-jc-refused", i->kernel_jc_refused },
        { "kernel-jc-dropped", i->kernel_jc_dropped },
        { "kernel-code-maps", i->kernel_code_maps },
        { "kernel-guard-start", i->kernel_guard_start },
        { "kernel-guard-size", i->kernel_guard_size },
    };
    const struct {
        const char *name;
        uint64_t value;
    } chk[] = {
        { "check-jumps", i->check_jumps },
        { "check-jump-errors", i->check_jump_errors },
        { "check-audits", i->check_audits },
        { "check-pages", i->check_pages },
        { "check-page-errors", i->check_page_errors },
        { "check-page-transients", i->check_page_transients },
        { "check-kernel-unmapped", i->check_kernel_unmapped },
    };
    strList *l;
    int k;

    if (!i->enabled) {
        monitor_printf(mon, "ESPT is off: %s\n", i->reason);
        return;
    }
    monitor_printf(mon, "ESPT is on: %" PRId64 " vCPU(s) x %" PRId64
                   " ASIDs, %s tables, mmu index %" PRId64
                   ", GS base via %s\n", i->vcpus, i->asids, i->tables,
                   i->mmu_index, i->gs_base);
    if (i->inhibited) {
        monitor_printf(mon, "  softmmu only during %s\n", i->inhibited);
    }
    for (k = 0; k < ARRAY_SIZE(c); k++) {
        monitor_printf(mon, "  %-20s %" PRIu64 "\n", c[k].name, c[k].value);
    }
    if (i->kernel) {
        monitor_printf(mon, "the guest kernel's table (espt-kernel=on):\n");
        for (k = 0; k < ARRAY_SIZE(kern); k++) {
            monitor_printf(mon, "  %-20s %" PRIu64 "\n", kern[k].name,
                           kern[k].value);
        }
    }
    if (!i->check) {
        return;
    }
    monitor_printf(mon, "checking mode (x-espt-check=on):\n");
    for (k = 0; k < ARRAY_SIZE(chk); k++) {
        monitor_printf(mon, "  %-20s %" PRIu64 "\n", chk[k].name,
                       chk[k].value);
    }
    for (l = i->check_first; l; l = l->next) {
        monitor_printf(mon, "  mismatch: %s\n", l->value);
    }
}
