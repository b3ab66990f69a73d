# Boot Debian's armhf kernels on our qemu-system-arm and run guest tests.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess

from harness import test, check
from guest import ROOT, BUILD, BASE_DIR, CPU, QEMU, QEMU_USER, GUEST, KERNELS, boot

LOGS = os.path.join(BUILD, "tests", "logs")


def log(name):
    return os.path.join(LOGS, name.replace("/", "_") + ".log")


def explain(r, logfile):
    tail = "\n".join(r.log.strip().split("\n")[-15:])
    return "; ".join(r.problems) + " (log: %s)\n%s" % (os.path.relpath(logfile, ROOT), tail)


@test("build/version")
def _():
    out = subprocess.run([QEMU, "--version"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    base = open(os.path.join(BASE_DIR, "base.txt")).read().strip()
    check("qemu-espt" in out and base in out,
          "--version does not name the base %r:\n%s" % (base, out))
    m = re.match(r"QEMU (\d+\.\d+)\.\d+ ", base)
    check(m and re.search(r"version %s\.\d+" % re.escape(m.group(1)), out),
          "--version %r is not the base %r" % (out.split("\n")[0], base))


def boot_test(flavour, smp):
    name = "boot/%s/smp%d" % (flavour, smp)

    def run():
        lf = log(name)
        r = boot(flavour, tests=["memtest"], smp=smp, log_path=lf, timeout=300)
        check(r.ok, explain(r, lf))
        out = r.output("memtest")
        for part in ("mmap", "fork-cow", "segv", "shared-file"):
            check("memtest: %s ok" % part in out, "memtest did not report %s ok" % part)
        m = re.search(r"ESPT-INIT uptime=\S+ cpus=(\d+)", r.log)
        check(m and int(m.group(1)) == smp, "guest sees %s CPUs, expected %d"
              % (m and m.group(1), smp))
        print("    kernel-to-init %.2fs guest, boot+test %.1fs wall"
              % (r.init_uptime, r.wall), flush=True)
    test(name)(run)


for _fl in KERNELS:
    for _smp in (1, 4):
        boot_test(_fl, _smp)


@test("boot/harness-catches-failure")
def _():
    """The harness must see a failing guest test, a missing test, and a
    kernel that cannot start init: otherwise the boot tests prove nothing."""
    lf = log("boot/harness-catches-failure")
    r = boot("armmp", tests=["workload", "no-such-test"],
             test_args={"workload": ["0"]}, log_path=lf, timeout=300)
    check(r.results.get("workload", ("?",))[0] == "FAIL",
          "workload with a bad argument did not fail: %r" % (r.results,))
    check(r.results.get("no-such-test", ("?",))[0] == "FAIL", "missing test not reported")
    check(not r.ok and r.done, "problems: %r" % r.problems)

    lf = log("boot/no-init")
    r = boot("armmp", tests=["memtest"], extra_append="rdinit=/does-not-exist",
             log_path=lf, timeout=300)
    check(any("panic" in p for p in r.problems), "no panic detected: %r" % r.problems)
    check(any("never reached /init" in p for p in r.problems),
          "missing init not detected: %r" % r.problems)


@test("user/memtest")
def _():
    """The same guest program under qemu-arm (user mode, the benchmarks'
    ceiling) passes too."""
    p = subprocess.run([QEMU_USER, "-cpu", CPU, os.path.join(GUEST, "progs", "memtest")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode()
    check(p.returncode == 0 and "memtest: PASS" in out, "qemu-arm memtest:\n" + out)
