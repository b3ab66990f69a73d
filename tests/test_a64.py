# ESPT for AArch64 guests (qemu-system-aarch64, segmented shadow tables):
# the same guest work with espt=off and espt=on gives the same output, and
# ESPT really served A64 user code (its counters moved).  Both kernels:
# Debian's, 48-bit VA (a64/...), and the 39-bit VA one we build from its
# source (a64/va39/...: the layout of Android's GKI kernels).  Bases
# without qemu-system-aarch64 (7.2) skip these.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re

from harness import test, check, Skip
from guest import (ROOT, BUILD, QEMU_A64, boot, concurrent_map, have_a64, kernel_path,
                   parse_espt)
from test_espt import (OFF, ON_ALL, ON_CHECK, check_diff_served,
                       check_suite_served, explain, log, results, suite_lines)

FLAVOUR = "arm64"
# Test name prefix of each kernel.
KERNELS = (("arm64", "a64"), ("arm64-va39", "a64/va39"))


def need_a64(flavour=FLAVOUR):
    if not have_a64():
        raise Skip("this base builds no qemu-system-aarch64 (AArch32 only)")
    if not os.path.exists(kernel_path(flavour)):
        raise Skip("no %s guest kernel: run 'make guest%s'"
                   % (flavour, "-va39" if flavour != FLAVOUR else ""))


def check_kernel(r, flavour):
    """The guest booted the kernel asked for (the va39 one names itself)."""
    m = re.search(r"ESPT-INIT .*kernel=(\S+)", r.log)
    check(m and (m.group(1).endswith("-va39") == (flavour == "arm64-va39")),
          "%s: booted kernel %s" % (flavour, m and m.group(1)))


def both(name, tests, smp, on_opts, mem=1024, timeout=600, flavour=FLAVOUR):
    """Boot the arm64 guest with espt=off and with @on_opts; return the
    two BootResults and the parsed 'info espt' of the espt=on one."""
    runs = {}
    modes = (("off", OFF), ("on", on_opts))
    boots = concurrent_map(lambda mode, extra: boot(
        flavour, tests=tests, smp=smp, mem=mem, extra_qemu=extra,
        log_path=log("%s-%s" % (name, mode)), timeout=timeout, hmp=["info espt"]), modes)
    for (mode, extra), r in zip(modes, boots):
        lf = log("%s-%s" % (name, mode))
        check(r.ok, "espt=%s: %s" % (mode, explain(r, lf)))
        check_kernel(r, flavour)
        check(r.hmp is not None, "espt=%s: no monitor reply" % mode)
        runs[mode] = r
    info = runs["on"].hmp["info espt"]
    on = parse_espt(info)
    check(not parse_espt(runs["off"].hmp["info espt"])["on"],
          "espt=off but 'info espt' says it is on")
    check(on["on"] and "segmented tables" in info,
          "espt=on: not on with segmented tables: %s" % info.split("\n")[0])
    return runs["off"], runs["on"], on


def differential(flavour, prefix, smp):
    name = "%s/diff/smp%d" % (prefix, smp)

    def run():
        need_a64(flavour)
        off, onr, on = both(name, ["memtest", "workload"], smp, ON_ALL, flavour=flavour)
        a, b = results(off), results(onr)
        check(a and a == b, "outputs differ:\n  off: %s\n  on:  %s" % (a, b))
        check_diff_served(on)
        # The workload's huge pages (THP): flushes inside one dropped
        # only its pages (invariant 1).
        check(on.get("flushes-large", 0) > 0, "no flush inside a large page: %r" % on)
        # Linux's flush_tlb_mm() is TLBI ASIDE1IS: one table dropped, not
        # every table of every vCPU (10.0 patch 0017).
        check(on.get("flushes-asid", 0) > 0, "no TLBI ASIDE1 reached ESPT: %r" % on)
        print("    maps %d, faults %d/%d, flushes all/asid/page %d/%d/%d, kept %d, "
              "segment evictions %d, chain links %d; workload %s s (off) vs %s s (on)"
              % (on["maps"], on["faults-read"], on["faults-write"], on["flushes-all"],
                 on["flushes-asid"], on["flushes-page"], on["flushes-kept"],
                 on["segment-evictions"],
                 on["chain-links"], off.results["workload"][2],
                 onr.results["workload"][2]), flush=True)
    test(name)(run)


for _fl, _prefix in KERNELS:
    for _smp in (1, 4):
        differential(_fl, _prefix, _smp)


def correctness(flavour, prefix, smp):
    """The guest correctness suite built for AArch64, with espt=off and
    with the checking mode on: same lines, all passed, ESPT served it."""
    name = "%s/suite/smp%d" % (prefix, smp)

    def run():
        need_a64(flavour)
        off, onr, on = both(name, ["suite"], smp, ON_CHECK, mem=2048, timeout=900,
                            flavour=flavour)
        a, b = suite_lines(off), suite_lines(onr)
        check(len(a) > 30, "suite printed too little: %s" % a)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        check(a == b, "espt=off and espt=on disagree (%d vs %d lines), first: %s"
              % (len(a), len(b), diff[:3]))
        check(on.get("maps", 0) > 1000, "ESPT barely used: %r" % on)
        first = [ln.strip() for ln in onr.hmp["info espt"].split("\n") if "mismatch:" in ln]
        check(on.get("check-pages", 0) > 0 and on.get("check-page-errors", -1) == 0,
              "the checking mode did not audit, or found page mismatches: %r\n  %s"
              % (on, "\n  ".join(first)))
        # Chained jumps were taken and each checked against a full lookup;
        # the suite's chain part makes links go stale (remap, fork, JIT).
        check(on.get("check-jumps", 0) > 0 and on.get("check-jump-errors", -1) == 0,
              "chained jumps unchecked, or into the wrong TB: %r\n  %s"
              % (on, "\n  ".join(first)))
        check_suite_served(on)
        print("    %d lines equal; maps %d, faults %d/%d, io fallbacks %d, smc writes %d, "
              "flushes all/page/code %d/%d/%d, segment evictions %d; suite %s s (off) "
              "vs %s s (on)"
              % (len(a), on["maps"], on["faults-read"], on["faults-write"],
                 on["fallbacks-io"], on["smc-writes"], on["flushes-all"],
                 on["flushes-page"], on["flushes-code"], on["segment-evictions"],
                 off.results["suite"][2], onr.results["suite"][2]), flush=True)
    test(name)(run)


for _fl, _prefix in KERNELS:
    for _smp in (1, 4):
        correctness(_fl, _prefix, _smp)


def compat_lines(r):
    """What the AArch32 programs computed, without timings."""
    out = []
    for t in ("memtest32", "workload32"):
        for line in r.output(t).split("\n"):
            if line.startswith(("memtest:", "workload:")) and " time " not in line:
                out.append(line)
            elif line.startswith("workload:") and "checksum" in line:
                out.append(" ".join(line.split()[:4]))
    return out


@test("a64/compat")
def compat():
    """AArch32 processes (armhf memtest and workload) under the AArch64
    kernel: EL0 AArch32 in the AArch64 EL1&0 regime, through the same
    segmented tables.  Same output with espt=off and espt=on, and ESPT
    mapped their working sets (the init around them maps about 1000
    pages: a64/diff)."""
    need_a64()
    off, onr, on = both("a64/compat", ["memtest32", "workload32"], 1, ON_ALL)
    a, b = compat_lines(off), compat_lines(onr)
    check(len(a) > 6 and a == b, "outputs differ:\n  off: %s\n  on:  %s" % (a, b))
    check(any("checksum" in ln for ln in a), "workload32 printed no checksums: %s" % a)
    check(on.get("maps", 0) > 10000, "ESPT barely used: %r" % on)
    check(on.get("fallbacks-io", -1) == 0, "unexpected softmmu fallbacks: %r" % on)
    print("    %d lines equal; maps %d, faults %d/%d; workload32 %s s (off) vs %s s (on)"
          % (len(a), on["maps"], on["faults-read"], on["faults-write"],
             off.results["workload32"][2], onr.results["workload32"][2]), flush=True)


@test("a64/cpus")
def cpus():
    """The other CPU models users pick for -M virt (the tests' own is
    cortex-a57): cortex-a53, cortex-a72 and max (FEAT_LSE2, BTI, PAuth,
    SVE, ...).  Each computes with espt=on what cortex-a57 does with
    espt=off, with ESPT on and serving it, and no TB state mismatch."""
    need_a64()
    ref = boot(FLAVOUR, tests=["memtest", "workload"], extra_qemu=OFF,
               log_path=log("a64/cpus-reference"))
    check(ref.ok, "reference run: %s" % "; ".join(ref.problems))
    want = results(ref)
    check(len(want) > 6, "reference printed too little: %s" % want)
    seen = []
    for cpu in ("cortex-a53", "cortex-a72", "max"):
        lf = log("a64/cpus-" + cpu)
        r = boot(FLAVOUR, tests=["memtest", "workload"], extra_qemu=ON_ALL, cpu=cpu,
                 log_path=lf, hmp=["info espt"])
        check(r.ok, "-cpu %s: %s" % (cpu, explain(r, lf)))
        got = results(r)
        check(got == want, "-cpu %s computed other results:\n  want %s\n  got  %s"
              % (cpu, want, got))
        on = parse_espt(r.hmp["info espt"])
        check(on["on"] and on.get("maps", 0) > 10000,
              "-cpu %s: ESPT off or barely used: %r" % (cpu, on))
        check(on.get("lookup-mismatch", 0) == 0, "-cpu %s: TB state mismatch: %r" % (cpu, on))
        seen.append("%s maps %d" % (cpu, on["maps"]))
    print("    %d result lines equal; %s" % (len(want), ", ".join(seen)), flush=True)


@test("a64/asid8-bare")
def asid8_bare():
    """ASID rollover with 8-bit ASIDs (TCR_EL1.AS = 0), which no Linux
    guest here uses (QEMU's CPU models offer 16 bits): tests/bare64/asid8.c
    runs 300 EL0 processes with private pages at one address for three
    rounds under a Linux-like allocator of 255 ASIDs, three rollovers
    (TLBI VMALLE1IS) and junk in TTBR0 bits 63:56.  The same results with
    espt=off, espt=on and the checking mode, ESPT serving every process
    and following the rollovers, the checking mode clean."""
    if not have_a64():
        raise Skip("this base builds no qemu-system-aarch64 (AArch32 only)")
    from guest import GUEST_A64, run
    elf = os.path.join(GUEST_A64, "bare", "asid8.elf")
    check(os.path.exists(elf), "%s missing: run make guest" % elf)
    outs = {}
    for name, acc in (("off", OFF), ("on", ON_ALL), ("check", ON_CHECK)):
        lf = log("a64/asid8-bare-" + name)
        r = run([QEMU_A64, "-M", "virt", "-cpu", "cortex-a57", "-m", "256", "-kernel", elf,
                 "-nographic", "-no-reboot", "-serial", "stdio"] + acc, 120,
                hmp=["info espt"], done=b"ASID8 end", log_path=lf)
        lines = [ln.strip() for ln in r.log.split("\n") if ln.startswith("ASID8")]
        summary = [ln for ln in lines if ln.startswith("ASID8 rollovers")]
        check(not r.timed_out and summary, "espt %s: no summary (log: %s)\n%s"
              % (name, os.path.relpath(lf, ROOT), r.log[-1500:]))
        check(summary[0].startswith("ASID8 rollovers 0000000000000003 ") and
              summary[0].endswith(" ok"), "espt %s: %s\n%s" % (name, summary[0],
                                                              "\n".join(lines[:12])))
        outs[name] = lines
        info = parse_espt(r.hmp["info espt"])
        if acc is OFF:
            check(not info["on"], "espt=off: %s" % r.hmp["info espt"])
            continue
        # Every run of every process faulted its pages in (900 runs, two
        # pages each at least once per table), and each rollover's
        # TLBI VMALLE1IS emptied the live tables.
        check(info["on"] and info["maps"] >= 600 and info["table-switches"] >= 600
              and info["flushes-all"] >= 3 and info["fallbacks-io"] == 0,
              "espt %s: ESPT did not serve the processes: %r" % (name, info))
        if acc is ON_CHECK:
            check(info.get("check-pages", 0) > 0 and info.get("check-page-errors", -1) == 0,
                  "the checking mode did not audit, or found mismatches: %r" % info)
        outs[name + "-info"] = info
    check(outs["off"] == outs["on"] == outs["check"],
          "results differ:\n  off: %s\n  on:  %s\n  check: %s"
          % (outs["off"], outs["on"], outs["check"]))
    i = outs["on-info"]
    print("    %s; maps %d, table switches %d, full flushes %d, faults %d/%d"
          % (outs["on"][1], i["maps"], i["table-switches"], i["flushes-all"],
             i["faults-read"], i["faults-write"]), flush=True)
