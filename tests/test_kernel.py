"""The guest kernel through the host MMU (-accel tcg,espt-kernel=on).

The guest correctness suite, whose `kern` part makes the kernel copy
through every kind of user page, across processes, into unmapped and
freshly protected pages, and wait on futexes and take signals, runs with
espt=off and with the kernel on the host MMU under the checking mode: the
same lines, every check passed, no mismatch, and the kernel's counters
show that its table served accesses and that what must stay on softmmu
(device registers, user pages, pages the kernel keeps remapping) did.
"""

import os
import subprocess

from harness import test, check
from guest import (GUEST, KERNELS, QEMU, QEMU_A64, boot, boot_cmd, concurrent_map, have_a64,
                   parse_espt, run)
from test_espt import (OFF, ON_CHECK, SUITE_OFF, check_clean, explain, log,
                       suite_lines, check_suite_served)

KERNEL_CHECK = ["-accel", ON_CHECK[1] + ",espt-kernel=on"]


def check_kernel_served(on):
    """The kernel table's counters of a run of the suite."""
    check(on.get("kernel-maps", 0) > 1000 and on.get("kernel-faults", 0) > 100,
          "the kernel table was barely used: %r" % on)
    # Device registers (the UART, virtio, the GIC) and the uaccess
    # routines' user pages: the TBs that met them went to softmmu.
    check(on.get("kernel-tbs-guarded", 0) + on.get("kernel-tbs-avoided", 0) > 0 and
          on.get("kernel-not-global", 0) > 0,
          "no kernel TB met a page that must stay on softmmu: %r" % on)
    # fork and exit: TLBIALL reached the table, which survived those
    # under which its descriptors were unchanged (invariant 18).
    check(on.get("kernel-flushes-all", 0) > 0 and on.get("kernel-flushes-kept", 0) > 0,
          "full flushes did not reach the kernel table, or it survived none: %r" % on)


def kernel_suite(flavour, smp):
    name = "kernel/suite/%s/smp%d" % (flavour, smp)

    def run():
        runs = {}
        # The reference: espt/suite/*'s espt=off run if it ran (and
        # passed) in this process, else one of our own.
        if (flavour, smp) in SUITE_OFF:
            runs["off"] = SUITE_OFF[(flavour, smp)]
        modes = [(mode, extra) for mode, extra in (("off", OFF), ("kernel", KERNEL_CHECK))
                 if mode not in runs]
        boots = concurrent_map(lambda mode, extra: boot(
            flavour, tests=["suite"], smp=smp, mem=2048, extra_qemu=extra,
            log_path=log("%s-%s" % (name, mode)), timeout=900, hmp=["info espt"]), modes)
        for (mode, extra), r in zip(modes, boots):
            lf = log("%s-%s" % (name, mode))
            check(r.ok, "%s: %s" % (mode, explain(r, lf)))
            check(r.hmp is not None, "%s: no monitor reply" % mode)
            runs[mode] = (r, parse_espt(r.hmp["info espt"]))
        a, b = suite_lines(runs["off"][0]), suite_lines(runs["kernel"][0])
        check(any(ln.startswith("suite: kern: copies") for ln in a),
              "the suite has no kern part: %s" % a)
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        check(a == b, "espt=off and espt-kernel=on disagree (%d vs %d lines), first: %s"
              % (len(a), len(b), diff[:3]))
        on = runs["kernel"][1]
        check(on["on"] and "the guest kernel's table" in runs["kernel"][0].hmp["info espt"],
              "espt-kernel=on but 'info espt' shows no kernel table: %r" % on)
        check_clean(on, runs["kernel"][0].hmp["info espt"], "espt-kernel=on")
        check_suite_served(on)
        check_kernel_served(on)
        print("    %d lines equal; kernel maps %d, faults %d, TBs guarded %d, avoided %d, "
              "not global %d, remapped %d, full flushes %d (kept %d, record broken %d), "
              "woken %d, cold %d, "
              "audits found %d pages unmapped lazily; suite %s s (off) vs %s s"
              % (len(a), on["kernel-maps"], on["kernel-faults"], on["kernel-tbs-guarded"],
                 on["kernel-tbs-avoided"],
                 on["kernel-not-global"], on["kernel-refaulted"], on["kernel-flushes-all"],
                 on["kernel-flushes-kept"], on["kernel-watch-broken"],
                 on["kernel-revalidated"], on["kernel-cold-periods"],
                 on.get("check-kernel-unmapped", 0),
                 runs["off"][0].results["suite"][2], runs["kernel"][0].results["suite"][2]),
              flush=True)
    test(name)(run)


# Both kernels at 1 and 4 vCPUs (CI runs only armmp at 1 vCPU on the
# second base: scripts/check.sh).
for _fl in KERNELS:
    for _smp in (1, 4):
        kernel_suite(_fl, _smp)


def qemu_error(qemu, accel):
    p = subprocess.run([qemu, "-M", "virt", "-display", "none", "-accel", accel],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


@test("kernel/bad-options")
def bad_options():
    """espt-kernel=on is refused where it cannot work, with a reason."""
    rc, out = qemu_error(QEMU, "tcg,espt=off,espt-kernel=on")
    check(rc != 0 and "espt-kernel=on needs ESPT" in out,
          "espt=off,espt-kernel=on accepted or unexplained (%d): %s" % (rc, out))
    if have_a64():      # 10.0 on
        rc, out = qemu_error(QEMU_A64, "tcg,espt=on,espt-kernel=on")
        check(rc != 0 and "espt-kernel=on" in out and "AArch32" in out,
              "an AArch64 guest's kernel accepted or unexplained (%d): %s" % (rc, out))


@test("kernel/tlbiall-bare")
def tlbiall_bare():
    """The kernel table survives a full TLB flush only while the
    descriptors its pages came from are unchanged (docs/espt.md,
    invariant 18), and its jump cache keeps kernel code only while the
    table maps it (invariant 19).  tests/bare/ktlb.c changes a section,
    a small page, a first-level table (TTBR0), a second-level table and
    a code page under global kernel mappings, each followed by TLBIALL
    alone, and TLBIALLs with nothing changed; it checks every read and
    every call.  With espt=off and with the
    kernel table under the checking mode: all pass, the same lines, and
    the unchanged TLBIALLs were survived.  Keeping the table unchecked
    (x-espt-test-break=kernel-keep) must fail the changed ones: the test
    can see the bug it is for."""
    elf = os.path.join(GUEST, "bare", "ktlb.elf")
    check(os.path.exists(elf), "%s missing: run make guest" % elf)
    outs = {}
    for name, acc in (("off", OFF[1]), ("on", KERNEL_CHECK[1]),
                      ("keep", KERNEL_CHECK[1] + ",x-espt-test-break=kernel-keep")):
        lf = log("kernel/tlbiall-bare-" + name)
        r = run([QEMU, "-M", "virt", "-m", "256", "-kernel", elf, "-nographic",
                 "-no-reboot", "-serial", "stdio", "-accel", acc], 120,
                hmp=["info espt"], done=b"KTLB-TEST end", log_path=lf)
        lines = [ln for ln in r.log.split("\n") if ln.startswith(("KTLB-TEST passed", "  "))
                 or ln.endswith(("PASS", "FAIL"))]
        summary = [ln for ln in lines if ln.startswith("KTLB-TEST passed")]
        check(not r.timed_out and len(summary) == 1, "espt %s: no summary\n%s"
              % (name, explain(r, lf)))
        outs[name] = lines
        if name == "keep":
            bad = [ln for ln in lines if ln.endswith("FAIL") and ln not in summary]
            check(bad and all(("moved" in ln or "other" in ln) for ln in bad),
                  "the kernel table kept unchecked across TLBIALL went unseen: %s"
                  % summary)
            # The code page's old TB, still in the kernel table's jump
            # cache: the calls return the old value, and the checking
            # mode sees the jumps enter code of another physical page.
            keep = parse_espt(r.hmp["info espt"])
            check(any(ln.startswith("code moved") for ln in bad) and
                  keep.get("check-jump-errors", 0) > 0,
                  "the kernel's jump cache kept across TLBIALL went unseen: %s, "
                  "check-jump-errors %s" % (summary[0], keep.get("check-jump-errors")))
            print("    kept unchecked: %s; check-jump-errors %d"
                  % (summary[0], keep["check-jump-errors"]), flush=True)
            continue
        check(summary[0] == "KTLB-TEST passed 104 failed 0 OK",
              "espt %s: %s\n%s" % (name, summary[0],
                                    "\n".join(ln for ln in lines if ln.endswith("FAIL"))))
        if name == "on":
            on = parse_espt(r.hmp["info espt"])
            # No user code: the kernel's jumps and the audits.
            check(on.get("check-pages", 0) > 0 and on.get("check-page-errors", -1) == 0 and
                  on.get("check-jumps", 0) > 0 and on.get("check-jump-errors", -1) == 0,
                  "the checking mode did not audit or check jumps, or found "
                  "mismatches: %r" % on)
            # The called code page, never read as data, went into the
            # table for its jump cache.
            check(on.get("kernel-jc-adds", 0) > 0 and on.get("kernel-code-maps", 0) > 0,
                  "the kernel table's jump cache was not used: %r" % on)
            kept = on.get("kernel-flushes-kept", 0)
            full = on.get("kernel-flushes-all", 0)
            check(on.get("kernel-maps", 0) > 0 and kept >= 8 and full - kept >= 8 * 4,
                  "the kernel table did not serve the reads, or kept the wrong "
                  "flushes: %r" % on)
            print("    full flushes %d, kept %d; kernel faults %d"
                  % (full, kept, on["kernel-faults"]), flush=True)
    check(outs["on"] == outs["off"], "espt-kernel=on differs from espt=off")


@test("kernel/guard-bare")
def guard_bare():
    """A kernel TB that met a page the kernel table must not hold keeps
    the table for its other accesses (docs/espt.md, guarded TBs).
    tests/bare/ktlb.c's guard mode has one copy routine read global
    sections, a non-global page, then sections it never read before,
    and checks every copy.  With espt=off, with the kernel table under
    the checking mode, and with x-espt-kernel-guard=off: the same lines,
    all passed.  Guarded, the routine's TBs were guarded and not
    avoided, and the fresh sections went into the kernel table (one
    large mapping each, 256 pages) where without the guard the routine
    read them through softmmu."""
    elf = os.path.join(GUEST, "bare", "ktlb.elf")
    check(os.path.exists(elf), "%s missing: run make guest" % elf)
    outs, espt = {}, {}
    for name, acc in (("off", OFF[1]), ("on", KERNEL_CHECK[1]),
                      ("noguard", KERNEL_CHECK[1] + ",x-espt-kernel-guard=off")):
        lf = log("kernel/guard-bare-" + name)
        r = run([QEMU, "-M", "virt", "-m", "256", "-kernel", elf, "-nographic",
                 "-no-reboot", "-serial", "stdio", "-accel", acc,
                 "-device", "loader,addr=0x40800000,data=2,data-len=4"], 120,
                hmp=["info espt"], done=b"KTLB-TEST end", log_path=lf)
        lines = [ln for ln in r.log.split("\n") if ln.startswith("KTLB-TEST passed")
                 or ln.endswith(("PASS", "FAIL"))]
        summary = [ln for ln in lines if ln.startswith("KTLB-TEST passed")]
        check(not r.timed_out and len(summary) == 1, "espt %s: no summary\n%s"
              % (name, explain(r, lf)))
        check(summary[0] == "KTLB-TEST passed 24 failed 0 OK",
              "espt %s: %s\n%s" % (name, summary[0],
                                    "\n".join(ln for ln in lines if ln.endswith("FAIL"))))
        outs[name] = lines
        if name != "off":
            espt[name] = parse_espt(r.hmp["info espt"])
            check_clean(espt[name], r.hmp["info espt"], name)
    check(outs["on"] == outs["off"] and outs["noguard"] == outs["off"],
          "espt-kernel=on differs from espt=off")
    on, off = espt["on"], espt["noguard"]
    check(on.get("kernel-tbs-guarded", 0) > 0 and on.get("kernel-tbs-avoided", -1) == 0,
          "guarded: the copy routine's TBs were not guarded, or were avoided: %r" % on)
    check(off.get("kernel-tbs-guarded", -1) == 0 and off.get("kernel-tbs-avoided", 0) > 0,
          "x-espt-kernel-guard=off: TBs were guarded, or none avoided: %r" % off)
    extra = on["kernel-maps"] - off["kernel-maps"]
    check(extra >= 256 * 4,
          "the guarded copies of the fresh sections did not go through the kernel "
          "table: %d kernel maps guarded, %d not" % (on["kernel-maps"], off["kernel-maps"]))
    print("    guarded %d TBs (avoided %d without the guard); kernel maps %d vs %d"
          % (on["kernel-tbs-guarded"], off["kernel-tbs-avoided"], on["kernel-maps"],
             off["kernel-maps"]), flush=True)


@test("kernel/check-catches-stale-pages")
def check_catches():
    """The checking mode is no rubber stamp for the kernel table either:
    keeping the kernel table's pages that page flushes hit
    (x-espt-test-break=kernel-page-flush) leaves kmap's fixmap slots
    mapped to the RAM they showed before, which the audits must report.
    The guest breaks down soon (without the flushes its own kmap pages
    show it old data), so the monitor is asked from its first console
    line on; -no-shutdown keeps QEMU for it after a panic."""
    lf = log("kernel/check-catches-stale-pages")
    cmd = boot_cmd("armmp", ["suite"], smp=1, mem=2048, test_args={"suite": ["kern"]}) + [
        "-accel", KERNEL_CHECK[1] + ",x-espt-test-break=kernel-page-flush"]

    def caught(text):
        return parse_espt(text).get("check-page-errors", 0) > 0

    r = run(cmd, 300, hmp=[("info espt", caught)], done=b"", log_path=lf)
    check(r.hmp is not None, "no monitor reply: %s" % explain(r, lf))
    text = r.hmp["info espt"]
    on = parse_espt(text)
    first = [ln.strip() for ln in text.split("\n") if "mismatch:" in ln]
    check(on.get("check-page-errors", 0) > 0 and first,
          "kept kernel pages went unreported: %r" % on)
    check(all("table asid 256" in ln for ln in first),
          "a mismatch outside the kernel table: %s" % first)
    print("    page errors %d, first: %s" % (on["check-page-errors"], first[0]), flush=True)
