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
    info->pages_mapped = espt.pages;
    info->vma_budget = espt.budget;
    info->tables_live = espt.tables_live;
    info->table_switches = espt_stats.table_switches;
    info->cold_periods = espt_stats.cold_periods;
    info->faults_read = espt_stats.faults_read;
    info->faults_write = espt_stats.faults_write;
    info->maps = espt_stats.maps;
    info->remaps = espt_stats.remaps;
    info->upgrades = espt_stats.upgrades;
    info->maps_large = espt_stats.maps_large;
    info->smc_writes = espt_stats.smc_writes;
    info->write_protects = espt_stats.write_protects;
    info->fallbacks_io = espt_stats.fallbacks_io;
    info->fallbacks_wrap = espt_stats.fallbacks_wrap;
    info->flushes_all = espt_stats.flush_all;
    info->flushes_asid = espt_stats.flush_asid;
    info->flushes_range = espt_stats.flush_range;
    info->flushes_kept = espt_stats.flush_suppressed;
    info->flushes_narrowed = espt_stats.flush_narrowed;
    info->flushes_user_state = espt_stats.flush_user_state;
    info->flushes_context = espt_stats.flush_context;
    info->flushes_budget = espt_stats.flush_budget;
    info->flushes_code = espt_stats.flush_code;
    info->host_failures = qatomic_read(&espt_stats.host_failures);
    info->tables_stale = espt_stats.tables_stale;
    info->inhibits = espt_stats.inhibits;
    info->cold_fallbacks = espt_stats.cold_fallbacks;
    info->chain_slots = espt_chain_slots_used();
    info->chain_shared = qatomic_read(&espt_stats.chain_shared);
    info->chain_links = 0;
    info->chain_misses = 0;
    info->chain_stale = 0;
    info->lookup_misses = 0;
    info->lookup_mismatch = qatomic_read(&espt_stats.lookup_mismatch);
    info->inhibited = g_strdup(qatomic_read(&espt_inhibited));
    ESPT_QAPI_SET_HAS(info, inhibited, info->inhibited != NULL);
    info->tb_cache_misses = 0;
    info->tb_cache_pages_kept = tb_jmp_cache_keep_pages_kept();
    info->flushes_page = 0;
    for (i = 0; i < espt.ncpus; i++) {
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
        { "flushes-kept", i->flushes_kept },
        { "flushes-narrowed", i->flushes_narrowed },
        { "flushes-user-state", i->flushes_user_state },
        { "flushes-context", i->flushes_context },
        { "flushes-budget", i->flushes_budget },
        { "flushes-code", i->flushes_code },
        { "tb-cache-misses", i->tb_cache_misses },
        { "tb-cache-pages-kept", i->tb_cache_pages_kept },
        { "chain-slots", i->chain_slots },
        { "chain-links", i->chain_links },
        { "chain-misses", i->chain_misses },
        { "chain-stale", i->chain_stale },
        { "chain-shared", i->chain_shared },
        { "lookup-misses", i->lookup_misses },
        { "lookup-mismatch", i->lookup_mismatch },
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
    if (i->inhibited) {
        monitor_printf(mon, "  softmmu only during %s\n", i->inhibited);
    }
    for (k = 0; k < ARRAY_SIZE(c); k++) {
        monitor_printf(mon, "  %-20s %" PRIu64 "\n", c[k].name, c[k].value);
    }
}
