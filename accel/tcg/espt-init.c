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
bool espt_enabled;

EsptMode espt_mode = ESPT_MODE_AUTO;
bool espt_adaptive = true;
bool espt_chain = true;
/* tcg,x-espt-chain-key-start=: where keys start after every tb_flush(). */
uint32_t espt_chain_key_start = 1;
const char *espt_off_reason = "not started";
const char *espt_inhibited;
const EsptTargetOps *espt_ops;

void espt_set_adaptive(bool on)
{
    espt_adaptive = on;
}

bool espt_get_adaptive(void)
{
    return espt_adaptive;
}

void espt_set_chain(bool on)
{
    espt_chain = on;
}

bool espt_get_chain(void)
{
    return espt_chain;
}

static bool espt_prop_get_check(Object *obj, Error **errp)
{
    return espt_check;
}

static void espt_prop_set_check(Object *obj, bool value, Error **errp)
{
    espt_check = value;
}

static void espt_prop_get_key_start(Object *obj, Visitor *v, const char *name,
                                    void *opaque, Error **errp)
{
    uint32_t value = espt_chain_key_start;

    visit_type_uint32(v, name, &value, errp);
}

static void espt_prop_set_key_start(Object *obj, Visitor *v, const char *name,
                                    void *opaque, Error **errp)
{
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (value < 1 || value > ESPT_CHAIN_KEY_LAST) {
        error_setg(errp, "%s must be between 1 and %u", name,
                   ESPT_CHAIN_KEY_LAST);
        return;
    }
    espt_chain_key_start = value;
}

unsigned espt_test_break;
static char *espt_test_break_str;

static char *espt_prop_get_test_break(Object *obj, Error **errp)
{
    return g_strdup(espt_test_break_str ? espt_test_break_str : "");
}

static void espt_prop_set_test_break(Object *obj, const char *value,
                                     Error **errp)
{
    static const struct {
        const char *name;
        unsigned bit;
    } rules[] = {
        { "breakpoints", ESPT_BREAK_BREAKPOINTS },
        { "page-flush", ESPT_BREAK_PAGE_FLUSH },
    };
    g_auto(GStrv) words = g_strsplit(value, ":", -1);
    unsigned bits = 0;
    int i, j;

    for (i = 0; words[i]; i++) {
        for (j = 0; j < ARRAY_SIZE(rules); j++) {
            if (!strcmp(words[i], rules[j].name)) {
                bits |= rules[j].bit;
                break;
            }
        }
        if (words[i][0] && j == ARRAY_SIZE(rules)) {
            error_setg(errp, "x-espt-test-break: unknown rule '%s' (known: "
                       "breakpoints, page-flush; join them with ':')",
                       words[i]);
            return;
        }
    }
    espt_test_break = bits;
    g_free(espt_test_break_str);
    espt_test_break_str = g_strdup(value);
}

void espt_accel_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "x-espt-check",
        espt_prop_get_check, espt_prop_set_check);
    object_class_property_set_description(oc, "x-espt-check",
        "ESPT checks itself as it runs: every chained jump and inline "
        "lookup against a full lookup, every shadow page against a walk "
        "of the guest page tables (slow; mismatches in 'info espt')");
    object_class_property_add(oc, "x-espt-chain-key-start", "uint32",
        espt_prop_get_key_start, espt_prop_set_key_start, NULL, NULL);
    object_class_property_set_description(oc, "x-espt-chain-key-start",
        "First key of ESPT's chained jumps (test knob: a value near "
        "the end makes keys run out soon)");
    object_class_property_add_str(oc, "x-espt-test-break",
        espt_prop_get_test_break, espt_prop_set_test_break);
    object_class_property_set_description(oc, "x-espt-test-break",
        "Rules ESPT breaks on purpose, ':'-separated (breakpoints, "
        "page-flush): only for showing that x-espt-check=on catches them");
}

void espt_set_mode(EsptMode mode)
{
    espt_mode = mode;
}

EsptMode espt_get_mode(void)
{
    return espt_mode;
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
                                   backend->size,
                                   ESPT_RAM_SHARED_FLAGS(ram_flags), fd,
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

/*
 * The softmmu improvements that are not ESPT's own but that ESPT is
 * tuned with (tb-jc-keep.c; the target's, through its enable op) are on
 * exactly while ESPT is, so that espt=off is upstream's softmmu.  Both
 * are switched before any vCPU runs.
 */
static void espt_switch_companions(bool on)
{
    tb_jmp_cache_keep_enable(on);
    if (espt_ops->enable) {
        espt_ops->enable(on);
    }
}

/* Auto mode found, before any vCPU ran, that ESPT cannot serve. */
static void espt_switch_off(const char *reason)
{
    espt_enabled = false;
    espt_off_reason = reason;
    espt_switch_companions(false);
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
        if (espt_mode == ESPT_MODE_AUTO) {
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

        if (espt_mode == ESPT_MODE_AUTO) {
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
    if (!espt_ops) {
        return "ESPT does not support this target (" TARGET_NAME
               " registered no ESPT target ops)";
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
    tb_jmp_cache_keep_init(espt.ncpus);
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
    espt_mmu_idx = espt_ops->mmu_idx;
    espt_chain_init();
    espt_check_init();
    espt_enabled = true;
    espt_off_reason = NULL;
    espt_switch_companions(true);
    return true;
}
