/*
 * qemu-espt: switching ESPT on, and keeping it off where it cannot work.
 *
 * The user's switches (tcg,espt=, tcg,espt-adaptive=), the checks of
 * host, target and run, guest RAM in a shared memfd, the target's
 * registration, setup in espt_accel_init(), and the periods in which
 * userfaultfd watches guest RAM and no shadow mapping may exist
 * (espt_inhibit()).
 *
 * Copyright (c) 2026 qemu-espt developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "cpu.h"
#include "exec/ram_addr.h"
#include "hw/boards.h"
#include "qemu/memfd.h"
#include "migration/postcopy-ram.h"
#include "espt-internal.h"

#include <sys/mman.h>
#include <sys/auxv.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE    (1 << 1)
#endif

int espt_mmu_idx = -1;
int espt_kernel_mmu_idx = -1;
bool espt_enabled;

EsptSettings espt_cfg;
const char *espt_off_reason = "not started";
const char *espt_inhibited;
const EsptTargetOps *espt_ops;

/*
 * The accelerator's properties.  Their values live in the accelerator's
 * instance, at the offset its class init gave us; espt_accel_init() takes
 * a copy into espt_cfg.
 */
static ptrdiff_t espt_settings_offset;

static EsptSettings *espt_settings(Object *obj)
{
    return (EsptSettings *)((char *)obj + espt_settings_offset);
}

void espt_settings_init(EsptSettings *s)
{
    *s = (EsptSettings) {
        .mode = ON_OFF_AUTO_AUTO,
        .adaptive = true,
        .chain = true,
        .kernel_jumps = true,
        .kernel_guard = true,
        .chain_key_start = 1,
        .new_as_us = ESPT_NEW_AS_US,
        .cold_us = ESPT_COLD_US,
        .storm_faults = ESPT_STORM_FAULTS,
    };
}

static int espt_prop_get_mode(Object *obj, Error **errp)
{
    return espt_settings(obj)->mode;
}

static void espt_prop_set_mode(Object *obj, int value, Error **errp)
{
    espt_settings(obj)->mode = value;
}

#define ESPT_BOOL_PROP(field)                                              \
static bool espt_prop_get_##field(Object *obj, Error **errp)               \
{                                                                          \
    return espt_settings(obj)->field;                                      \
}                                                                          \
static void espt_prop_set_##field(Object *obj, bool value, Error **errp)   \
{                                                                          \
    espt_settings(obj)->field = value;                                     \
}

ESPT_BOOL_PROP(adaptive)
ESPT_BOOL_PROP(chain)
ESPT_BOOL_PROP(kernel)
ESPT_BOOL_PROP(kernel_jumps)
ESPT_BOOL_PROP(kernel_guard)
ESPT_BOOL_PROP(check)
ESPT_BOOL_PROP(test_no_target)

/* A uint32 property with a range; @opaque points to its EsptU32Prop. */
typedef struct EsptU32Prop {
    const char *name, *description;
    size_t field;
    uint32_t min, max;
} EsptU32Prop;

static void espt_prop_get_u32(Object *obj, Visitor *v, const char *name,
                              void *opaque, Error **errp)
{
    const EsptU32Prop *p = opaque;
    uint32_t value = *(uint32_t *)((char *)espt_settings(obj) + p->field);

    visit_type_uint32(v, name, &value, errp);
}

static void espt_prop_set_u32(Object *obj, Visitor *v, const char *name,
                              void *opaque, Error **errp)
{
    const EsptU32Prop *p = opaque;
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value < p->min || value > p->max) {
        error_setg(errp, "%s must be between %u and %u", name, p->min,
                   p->max);
        return;
    }
    *(uint32_t *)((char *)espt_settings(obj) + p->field) = value;
}

/* The tuning and test knobs that are numbers. */
static const EsptU32Prop espt_u32_props[] = {
    { "x-espt-chain-key-start",
      "First key of ESPT's chained jumps (test knob: a value near "
      "the end makes keys run out soon)",
      offsetof(EsptSettings, chain_key_start), 1, ESPT_CHAIN_KEY_LAST },
    /* 0 is automatic; espt_accel_init() checks the rest. */
    { "x-espt-budget",
      "Shadow mappings ESPT may keep before it drops tables (tuning and "
      "test knob; 0, the default, derives it from vm.max_map_count)",
      offsetof(EsptSettings, budget), 0, INT32_MAX },
    /* The adaptive policy's: up to a second; at least one fault. */
    { "x-espt-new-as-us",
      "Tuning knob of espt-adaptive: microseconds a vCPU runs softmmu "
      "code in a guest address space new to it",
      offsetof(EsptSettings, new_as_us), 0, 1000 * 1000 },
    { "x-espt-cold-us",
      "Tuning knob of espt-adaptive: microseconds a vCPU runs softmmu "
      "code after a shadow fault storm",
      offsetof(EsptSettings, cold_us), 0, 1000 * 1000 },
    { "x-espt-storm-faults",
      "Tuning knob of espt-adaptive: shadow faults in 4 ms (with "
      "mappings dropped) that make a storm",
      offsetof(EsptSettings, storm_faults), 1, 1000 * 1000 },
};

static const struct {
    const char *name;
    unsigned bit;
} espt_break_rules[] = {
    { "breakpoints", ESPT_BREAK_BREAKPOINTS },
    { "page-flush", ESPT_BREAK_PAGE_FLUSH },
    { "kernel-page-flush", ESPT_BREAK_KERNEL_PAGE_FLUSH },
    { "kernel-keep", ESPT_BREAK_KERNEL_KEEP },
};

static char *espt_prop_get_test_break(Object *obj, Error **errp)
{
    g_autoptr(GString) str = g_string_new("");
    unsigned bits = espt_settings(obj)->test_break;
    int i;

    for (i = 0; i < ARRAY_SIZE(espt_break_rules); i++) {
        if (bits & espt_break_rules[i].bit) {
            g_string_append_printf(str, "%s%s", str->len ? ":" : "",
                                   espt_break_rules[i].name);
        }
    }
    return g_string_free(g_steal_pointer(&str), false);
}

static void espt_prop_set_test_break(Object *obj, const char *value,
                                     Error **errp)
{
    g_auto(GStrv) words = g_strsplit(value, ":", -1);
    unsigned bits = 0;
    int i, j;

    for (i = 0; words[i]; i++) {
        for (j = 0; j < ARRAY_SIZE(espt_break_rules); j++) {
            if (!strcmp(words[i], espt_break_rules[j].name)) {
                bits |= espt_break_rules[j].bit;
                break;
            }
        }
        if (words[i][0] && j == ARRAY_SIZE(espt_break_rules)) {
            error_setg(errp, "x-espt-test-break: unknown rule '%s' (known: "
                       "breakpoints, page-flush, kernel-page-flush, "
                       "kernel-keep; join them with ':')",
                       words[i]);
            return;
        }
    }
    espt_settings(obj)->test_break = bits;
}

void espt_accel_class_init(ObjectClass *oc, ptrdiff_t offset)
{
    int i;

    espt_settings_offset = offset;
    object_class_property_add_enum(oc, "espt", "OnOffAuto",
        &OnOffAuto_lookup, espt_prop_get_mode, espt_prop_set_mode);
    object_class_property_set_description(oc, "espt",
        "Guest user-mode memory accesses through embedded shadow page "
        "tables in the host MMU: on, off, or auto (the default: on where "
        "the host and the run support it)");
    object_class_property_add_bool(oc, "espt-adaptive",
        espt_prop_get_adaptive, espt_prop_set_adaptive);
    object_class_property_set_description(oc, "espt-adaptive",
        "Run softmmu code for a while in new guest address spaces and "
        "during shadow fault storms, where ESPT would not pay (default on)");
    object_class_property_add_bool(oc, "espt-chain",
        espt_prop_get_chain, espt_prop_set_chain);
    object_class_property_set_description(oc, "espt-chain",
        "Chain user-mode code with ESPT across guest pages, checked "
        "per address space, and look indirect branch targets up inline "
        "(default on)");
    object_class_property_add_bool(oc, "espt-kernel",
        espt_prop_get_kernel, espt_prop_set_kernel);
    object_class_property_set_description(oc, "espt-kernel",
        "Also serve the guest kernel's data accesses of global pages "
        "through the host MMU (AArch32 guests; default off)");
    object_class_property_add_bool(oc, "x-espt-kernel-jumps",
        espt_prop_get_kernel_jumps, espt_prop_set_kernel_jumps);
    object_class_property_set_description(oc, "x-espt-kernel-jumps",
        "With espt-kernel=on: chain the guest kernel's code across guest "
        "pages and look its indirect branch targets up inline where the "
        "kernel table maps that code (default on; needs espt-chain)");
    object_class_property_add_bool(oc, "x-espt-kernel-guard",
        espt_prop_get_kernel_guard, espt_prop_set_kernel_guard);
    object_class_property_set_description(oc, "x-espt-kernel-guard",
        "With espt-kernel=on: a kernel TB that met a page that must stay "
        "on softmmu keeps its accesses of the kernel's linear map on the "
        "host MMU (default on; off sends all its accesses to softmmu)");
    object_class_property_add_bool(oc, "x-espt-check",
        espt_prop_get_check, espt_prop_set_check);
    object_class_property_set_description(oc, "x-espt-check",
        "ESPT checks itself as it runs: every chained jump and inline "
        "lookup against a full lookup, every shadow page against a walk "
        "of the guest page tables (slow; mismatches in 'info espt')");
    for (i = 0; i < ARRAY_SIZE(espt_u32_props); i++) {
        const EsptU32Prop *p = &espt_u32_props[i];

        object_class_property_add(oc, p->name, "uint32", espt_prop_get_u32,
                                  espt_prop_set_u32, NULL, (void *)p);
        object_class_property_set_description(oc, p->name, p->description);
    }
    object_class_property_add_str(oc, "x-espt-test-break",
        espt_prop_get_test_break, espt_prop_set_test_break);
    object_class_property_set_description(oc, "x-espt-test-break",
        "Rules ESPT breaks on purpose, ':'-separated (breakpoints, "
        "page-flush, kernel-page-flush, kernel-keep): only for showing "
        "that x-espt-check=on or a test catches them");
    object_class_property_add_bool(oc, "x-espt-test-no-target",
        espt_prop_get_test_no_target, espt_prop_set_test_no_target);
    object_class_property_set_description(oc, "x-espt-test-no-target",
        "Test knob: ESPT behaves as for a target that registered no ESPT "
        "support");
}

const EsptJumpOps *espt_jump_ops;

void espt_register_jump_ops(const EsptJumpOps *ops)
{
    assert(!espt_enabled && (!espt_jump_ops || espt_jump_ops == ops));
    espt_jump_ops = ops;
}

/*
 * The target's side of ESPT (target/<arch>/espt-*.c).  Registered before
 * the accelerator is set up: espt_accel_init() keeps ESPT off without it.
 */
void espt_register_target(const EsptTargetOps *ops)
{
    assert(ops->user_ok && ops->user_state && ops->context);
    assert(!espt_enabled && (!espt_ops || espt_ops == ops));
    espt_ops = ops;
}

const char *espt_host_unsupported(void)
{
#if !defined(HOST_X86_64) || !defined(CONFIG_LINUX)
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
 * (since 8.2 that skips named files only; 7.2, which skips every shared
 * block, needs a check in migration/ram.c for it).  Returns false where
 * the backend must be allocated as usual: ESPT is off, or the user asked
 * for private memory with an explicit share=off.
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
        if (espt_cfg.mode == ON_OFF_AUTO_ON) {
            error_propagate_prepend(errp, err, "-accel tcg,espt=on: ");
            return true;
        }
        /* espt_check_ram() turns ESPT off and says why. */
        warn_report_err(err);
        return false;
    }
    memory_region_init_ram_from_fd(&backend->mr, OBJECT(backend), name,
                                   backend->size,
                                   ESPT_RAM_SHARED_FLAGS(ram_flags), fd,
                                   0, &err);
    if (err) {
        close(fd);
        error_propagate(errp, err);
    }
    return true;
}

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
        espt_set_cflags(cpu, 0);
    }
    qatomic_inc(&espt_stats.inhibits);
}

/* It is over: vCPUs pick ESPT up again at their next espt_update(). */
void espt_uninhibit(void)
{
    qatomic_set(&espt_inhibited, NULL);
}

static int espt_postcopy_notify(NotifierWithReturn *n, void *data
                                ESPT_NOTIFIER_ERRP)
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

/* Auto mode found, before any vCPU ran, that ESPT cannot serve. */
static void espt_switch_off(const char *reason)
{
    espt_enabled = false;
    espt_off_reason = reason;
}

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
        if (espt_cfg.mode == ON_OFF_AUTO_AUTO) {
            espt_switch_off("this machine has 1 KiB target pages");
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

        if (espt_cfg.mode == ON_OFF_AUTO_AUTO) {
            /* Before any vCPU ran: nothing was mapped yet. */
            espt_switch_off(private ?
                "guest RAM backend asks for private memory (share=off)" :
                "guest RAM is not in a shared file descriptor");
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
    if (!espt_ops || espt_cfg.test_no_target) {
        return "ESPT does not support this target (" TARGET_NAME
               " registered no ESPT target ops)";
    }
    /*
     * The backend lowers accesses by the width of guest addresses: 32-bit
     * ones into a flat table, 64-bit ones through a segment map.
     */
    if ((espt_ops->va_bits > 32) != (TARGET_LONG_BITS > 32)) {
        return "ESPT's target ops do not match this target's address width";
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

/*
 * Segmented tables: a segment map with no windows, which each table maps
 * privately (copy-on-write) when first used (espt_set_gs()).
 */
static bool espt_segmap_init(Error **errp)
{
    size_t len = ESPT_SEGMAP_LEN * sizeof(uint64_t);
    g_autofree uint64_t *none = g_new(uint64_t, ESPT_SEGMAP_LEN);
    int i, fd = memfd_create("espt-segmap", MFD_CLOEXEC);

    for (i = 0; i < ESPT_SEGMAP_LEN; i++) {
        none[i] = ESPT_SEG_NONE;
    }
    if (fd < 0 || ftruncate(fd, len) || pwrite(fd, none, len, 0) != len) {
        error_setg_errno(errp, errno, "ESPT: cannot make its segment map");
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    espt.segmap_fd = fd;
    return true;
}

bool espt_accel_init(const EsptSettings *s, Error **errp)
{
    const char *why;
    struct sigaction sa;
    int i, ret;

    espt_cfg = *s;
    if (espt_cfg.mode == ON_OFF_AUTO_OFF && espt_cfg.kernel) {
        error_setg(errp, "espt-kernel=on needs ESPT: drop espt=off");
        return false;
    }
    if (espt_cfg.mode == ON_OFF_AUTO_OFF) {
        espt_off_reason = "disabled with -accel tcg,espt=off";
        return true;
    }
    why = espt_run_unsupported();
    if (why) {
        if (espt_cfg.mode == ON_OFF_AUTO_AUTO) {
            espt_off_reason = why;
            return true;
        }
        error_setg(errp, "%s; use -accel tcg,espt=off", why);
        return false;
    }
    espt.ncpus = current_machine->smp.max_cpus;
    espt.segmented = espt_ops->va_bits > 32;
    if (espt_cfg.kernel && (!espt_ops->kernel_ok || espt.segmented)) {
        /* Kernel addresses of 64-bit guests need their own windows. */
        error_setg(errp, "espt-kernel=on: ESPT cannot serve this guest's "
                   "kernel yet (only AArch32 kernels, in qemu-system-arm); "
                   "use espt-kernel=off");
        return false;
    }
    espt.vma_limit = (espt_max_map_count() - ESPT_VMA_RESERVE) * 3 / 4;
    espt.budget = (espt_max_map_count() - ESPT_VMA_RESERVE -
                   ESPT_NTABLES * espt.ncpus *
                   (espt.segmented ? ESPT_SEGS : 1)) / 2;
    if (espt_cfg.budget) {
        /* Asked for (tests: a far smaller one makes tables go often). */
        if (espt_cfg.budget < 16 || espt_cfg.budget > espt.budget) {
            error_setg(errp, "x-espt-budget must be between 16 and %ld "
                       "here (vm.max_map_count)", espt.budget);
            return false;
        }
        espt.budget = espt_cfg.budget;
        espt.budget_fixed = true;
    } else if (espt.budget < 1024) {
        why = "vm.max_map_count is too low for ESPT";
        if (espt_cfg.mode == ON_OFF_AUTO_AUTO) {
            espt_off_reason = why;
            return true;
        }
        error_setg(errp, "%s (at least %d needed); use -accel tcg,espt=off",
                   why, 2048 + ESPT_VMA_RESERVE + ESPT_NTABLES * espt.ncpus);
        return false;
    }
    espt.budget_base = espt.budget;
    espt.table_span = espt.segmented ? ESPT_SEGS * ESPT_STRIDE : ESPT_STRIDE;
    if (espt.segmented && !espt_segmap_init(errp)) {
        return false;
    }
    espt.reserve = mmap(NULL, espt.table_span * ESPT_NTABLES * espt.ncpus,
                        PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    if (espt.reserve == MAP_FAILED) {
        if (espt_cfg.mode == ON_OFF_AUTO_AUTO) {
            espt_off_reason = "cannot reserve the address space of the "
                              "shadow tables (ulimit -v?)";
            return true;
        }
        error_setg_errno(errp, errno, "ESPT cannot reserve %d x %d x %d "
                         "x 4 GiB of address space (ulimit -v?)", espt.ncpus,
                         ESPT_NTABLES, espt.segmented ? ESPT_SEGS : 1);
        return false;
    }
    espt.cpus = g_new0(EsptCpu, espt.ncpus);
    for (i = 0; i < espt.ncpus * ESPT_NTABLES; i++) {
        EsptCpu *c = &espt.cpus[i / ESPT_NTABLES];
        EsptTable *t = &c->tables[i % ESPT_NTABLES];

        t->base = espt.reserve + espt.table_span * i;
        t->large_addr = -1;
        t->owner = c;
        t->asid = i % ESPT_NTABLES;
        t->mmu_idx = t->asid == ESPT_KTABLE ? espt_ops->kernel_mmu_idx
                                            : espt_ops->mmu_idx;
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
    espt_mmu_idx = espt_ops->mmu_idx;
    if (espt_cfg.kernel) {
        espt_kernel_mmu_idx = espt_ops->kernel_mmu_idx;
        espt_kwatch_init();
    }
    if (espt_jump_ops) {
        espt_jump_ops->init();
    }
    espt_enabled = true;
    espt_off_reason = NULL;
    return true;
}
