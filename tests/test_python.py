# A conformance suite we did not write: CPython's own regression tests
# (Debian's armhf python3.11 and libpython3.11-testsuite) in the guest,
# once with espt=off and once with ESPT serving everything it can; every
# test case must get the same verdict in both.
#
# The image is build/pytest/pytest.cpio (tests/pytest/build.sh, `make
# python-image`); tests/pytest/tests.txt lists the CPython test modules
# and why, tests/pytest/ignore.txt the cases left out and why.
#
# Environment:
#   QEMU_ESPT_TEST_ON_OPTS=A,B   more -accel options for the espt=on runs
#                                (guest.espt_on_opts()), as test_debug's
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re

from harness import test, check
from guest import ROOT, BUILD, boot, concurrent_map, parse_espt, espt_on_opts

IMAGE = os.path.join(BUILD, "pytest", "pytest.cpio")
LIST = os.path.join(ROOT, "tests", "pytest", "tests.txt")
LOGS = os.path.join(BUILD, "tests", "logs")
OFF = ["-accel", "tcg,espt=off"]
# ESPT for everything it can serve, as test_espt's ON_ALL, with the
# checking mode (x-espt-check=on); QEMU_ESPT_TEST_ON_OPTS adds options.
ON_OPTS = espt_on_opts(["x-espt-check=on"])
ON_ALL = ["-accel", "tcg," + ",".join(ON_OPTS)]
MODES = (("off", OFF), ("on", ON_ALL))
# The (kernel, vCPUs) pairs that run; cpython() says why these.
CONFIGS = (("armmp", 1), ("armmp-lpae", 4))
# Guest memory: the image unpacks into RAM (about 50 MiB) and /tmp is a
# tmpfs; 1 GiB leaves plenty.
MEM = 1024
# Seconds per boot: about 3 min with espt=off at 1 vCPU here, more at 4
# vCPUs on a host with fewer CPUs.
TIMEOUT = 1200

CASE_RE = re.compile(r"^PYTEST-CASE (\S+) (\S+) (\S+) (.+)$", re.M)
MODULE_RE = re.compile(r"^PYTEST-MODULE (\S+) (\S+) (\S+)$", re.M)
END_RE = re.compile(r"^PYTEST-END rc=(\d+)$", re.M)
PASS = ("ok", "expected-failure")
FAIL = ("failure", "error", "unexpected-success")


def log(name):
    return os.path.join(LOGS, name.replace("/", "_") + ".log")


def modules():
    """The test modules tests/pytest/tests.txt names, in order."""
    out = []
    with open(LIST) as f:
        for line in f:
            words = line.split("#")[0].split()
            if words:
                out.append(words[0])
    return out


class Run:
    """One boot's regrtest results: cases is a sorted list of (module,
    test id, verdict), modules maps each module to regrtest's result for
    it (Passed, Failed, Skipped, ...)."""

    def __init__(self, r):
        out = r.output("cpython")
        self.cases = sorted((m.group(1), m.group(4), m.group(2))
                            for m in CASE_RE.finditer(out))
        self.modules = {m.group(1): m.group(2) for m in MODULE_RE.finditer(out)}
        end = END_RE.search(out)
        self.rc = int(end.group(1)) if end else None
        self.wall = r.wall
        self.guest_s = r.results.get("cpython", (None, None, 0.0))[2]

    def count(self, verdicts):
        return sum(1 for c in self.cases if c[2] in verdicts)

    def failed(self):
        return ["%s %s" % (c[1], c[2]) for c in self.cases if c[2] in FAIL]

    def summary(self):
        mods = {}
        for res in self.modules.values():
            mods[res] = mods.get(res, 0) + 1
        return ("%d passed, %d failed, %d skipped (modules: %s), regrtest %.0f s, boot %.0f s"
                % (self.count(PASS), self.count(FAIL), self.count(("skipped",)),
                   ", ".join("%d %s" % (n, res) for res, n in sorted(mods.items())),
                   self.guest_s, self.wall))


def differences(a, b):
    """Cases whose verdict differs between Runs a and b, or that only one
    of them ran, as printable lines."""
    va, vb = {}, {}
    for runs, d in ((a, va), (b, vb)):
        for mod, tid, verdict in runs.cases:
            d.setdefault((mod, tid), []).append(verdict)
    out = []
    for key in sorted(set(va) | set(vb)):
        x, y = va.get(key, ["(not run)"]), vb.get(key, ["(not run)"])
        if sorted(x) != sorted(y):
            out.append("%s %s: off %s, on %s" % (key[0], key[1], "/".join(x), "/".join(y)))
    for mod in sorted(set(a.modules) | set(b.modules)):
        x, y = a.modules.get(mod, "(not run)"), b.modules.get(mod, "(not run)")
        if x != y:
            out.append("%s: off %s, on %s" % (mod, x, y))
    return out


def espt_used(text):
    """'info espt' of the espt=on boot: ESPT was on and served the run."""
    info = parse_espt(text)
    check(info["on"], "espt=on but 'info espt' says it is off: %r" % info)
    check(info.get("maps", 0) > 1000 and info.get("faults-read", 0) > 1000,
          "ESPT barely used: %r" % info)
    check(info.get("lookup-mismatch", -1) == 0,
          "inline lookups computed another state than the helper: %r" % info)
    if "x-espt-check=on" in ON_OPTS:
        check(info.get("check-jumps", 0) > 0 and info.get("check-jump-errors", -1) == 0
              and info.get("check-page-errors", -1) == 0,
              "the checking mode did not run, or found mismatches: %r\n%s"
              % (info, "\n".join(ln for ln in text.split("\n")
                                 if not re.match(r"^\s*[\w-]+\s+\d+$", ln))))


def cpython(flavour, smp):
    """Register python/FLAVOUR/smpN.  CONFIGS is a CI-sized diagonal of
    {armmp, armmp-lpae} x {1, 4 vCPUs}: each test is two boots of about
    3 min, and CI runs the tests on two bases.  Both kernels run, since
    their page tables (short descriptors with software PAN, LPAE) reach
    ESPT through different code; armmp at 1 vCPU gives the per-module
    times README quotes, armmp-lpae at 4 vCPUs runs the threaded and
    forking tests on vCPUs that really run in parallel (TLB flushes
    across vCPUs, copy-on-write between them).  The other two pairs would
    add little that these and espt/diff/*, espt/suite/* do not cover."""
    name = "python/%s/smp%d" % (flavour, smp)

    def run():
        """Boot pytest.cpio with espt=off and, at the same time, with
        espt=on, espt-adaptive=off, and run the CPython test modules of tests.txt
        in each.  Asserted: both boots ran regrtest to its end and every
        module in tests.txt reported a result; the two boots gave every
        test case (and every module) the same verdict; the espt=on boot
        was served by ESPT (maps and read faults in the thousands, no
        inline lookup mismatch; with x-espt-check=on, the checking mode
        ran and found nothing).  Cases that fail with espt=off too are
        printed, not failed."""
        check(os.path.exists(IMAGE), "%s missing: run make python-image"
              % os.path.relpath(IMAGE, ROOT))
        want = modules()
        runs, infos, texts = {}, {}, {}
        # Both boots at once (guest.concurrently()), checked in order.
        boots = concurrent_map(lambda mode, accel: boot(
            flavour, tests=["cpython"], smp=smp, mem=MEM, extra_qemu=accel,
            initrd=IMAGE, timeout=TIMEOUT, log_path=log("%s-%s" % (name, mode)),
            hmp=["info espt"]), MODES)
        for (mode, accel), r in zip(MODES, boots):
            lf = log("%s-%s" % (name, mode))
            where = "(log: %s)" % os.path.relpath(lf, ROOT)
            tail = "\n".join(r.log.strip().split("\n")[-15:])
            check(r.ok, "espt=%s: %s %s\n%s" % (mode, "; ".join(r.problems), where, tail))
            check(r.hmp is not None, "espt=%s: no monitor reply %s" % (mode, where))
            runs[mode] = res = Run(r)
            texts[mode] = r.hmp["info espt"]
            with open(lf, "a") as f:
                f.write("# info espt\n%s\n" % texts[mode])
            infos[mode] = parse_espt(texts[mode])
            check(res.rc is not None, "espt=%s: regrtest did not finish %s" % (mode, where))
            missing = [m for m in want if m not in res.modules]
            check(not missing, "espt=%s: no result from %s %s (tests.txt changed? make "
                  "python-image)" % (mode, " ".join(missing), where))
            check(len(res.cases) > 1000, "espt=%s: only %d test cases ran %s"
                  % (mode, len(res.cases), where))
            print("    espt=%s: %s" % (mode, res.summary()), flush=True)
        off, on = runs["off"], runs["on"]
        check(not infos["off"]["on"], "espt=off but 'info espt' says it is on")
        diff = differences(off, on)
        check(not diff, "%d test cases or modules got another verdict with espt=on "
              "than with espt=off:\n%s" % (len(diff), "\n".join(diff[:40])))
        espt_used(texts["on"])
        both = off.failed()
        print("    same verdicts for %d cases in %d modules; failing in both modes: %s"
              % (len(off.cases), len(off.modules), ", ".join(both) if both else "none"),
              flush=True)
        on_info = infos["on"]
        checked = ""
        if "check-jumps" in on_info:
            checked = "; checked %d jumps, %d pages (%d transient)" % (
                on_info["check-jumps"], on_info.get("check-pages", 0),
                on_info.get("check-page-transients", 0))
        print("    espt=on: maps %d, faults %d/%d%s; regrtest %.0f s (off) vs %.0f s (on), "
              "%.2fx" % (on_info["maps"], on_info["faults-read"],
                         on_info.get("faults-write", 0), checked, off.guest_s, on.guest_s,
                         off.guest_s / on.guest_s if on.guest_s else 0), flush=True)
    test(name)(run)


for _fl, _smp in CONFIGS:
    cpython(_fl, _smp)
