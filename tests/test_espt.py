# ESPT: the same guest work with espt=off and espt=on gives the same
# output, and ESPT really served it (its counters moved).
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import sys

from harness import test, check
from guest import ROOT, BUILD, QEMU, KERNELS, boot, parse_espt

LOGS = os.path.join(BUILD, "tests", "logs")
ON = ["-accel", "tcg,espt=on"]
OFF = ["-accel", "tcg,espt=off"]


def log(name):
    return os.path.join(LOGS, name.replace("/", "_") + ".log")


def explain(r, logfile):
    tail = "\n".join(r.log.strip().split("\n")[-12:])
    return "; ".join(r.problems) + " (log: %s)\n%s" % (os.path.relpath(logfile, ROOT), tail)


def results(r):
    """What the guest programs computed, without timings."""
    out = []
    for t in ("memtest", "workload"):
        for line in r.output(t).split("\n"):
            if line.startswith(t + ":") and " time " not in line:
                out.append(line)
            m = re.match(r"workload: (\S+) +checksum (\S+)", line)
            if m:
                out.append("%s %s" % m.groups())
    return out


def differential(flavour, smp):
    name = "espt/diff/%s/smp%d" % (flavour, smp)

    def run():
        runs = {}
        for mode, extra in (("off", OFF), ("on", ON)):
            lf = log("%s-%s" % (name, mode))
            r = boot(flavour, tests=["memtest", "workload"], smp=smp,
                     extra_qemu=extra, log_path=lf, timeout=300, hmp=["info espt"])
            check(r.ok, "espt=%s: %s" % (mode, explain(r, lf)))
            check(r.hmp is not None, "espt=%s: no monitor reply" % mode)
            runs[mode] = (r, parse_espt(r.hmp["info espt"]))
        a, b = results(runs["off"][0]), results(runs["on"][0])
        check(a and a == b, "outputs differ:\n  off: %s\n  on:  %s" % (a, b))
        off, on = runs["off"][1], runs["on"][1]
        check(not off["on"], "espt=off but 'info espt' says it is on")
        check(on["on"], "espt=on but 'info espt' says it is off")
        check(on.get("maps", 0) > 1000 and on.get("faults-read", 0) + on.get("faults-write", 0) > 1000,
              "ESPT barely used: %r" % on)
        check(on.get("fallbacks-io", -1) == 0, "unexpected softmmu fallbacks: %r" % on)
        check(on.get("flushes-page", 0) > 0 and on.get("flushes-all", 0) > 0,
              "guest TLB maintenance did not reach the shadow tables: %r" % on)
        if flavour == "armmp":
            # Software PAN rewrites DACR on every kernel entry and exit.
            check(on.get("flushes-kept", 0) > 1000, "DACR flushes not kept: %r" % on)
        print("    maps %d, faults %d/%d, flushes all/page %d/%d, kept %d; "
              "workload %s s (off) vs %s s (on)"
              % (on["maps"], on["faults-read"], on["faults-write"], on["flushes-all"],
                 on["flushes-page"], on["flushes-kept"],
                 runs["off"][0].results["workload"][2], runs["on"][0].results["workload"][2]),
              flush=True)
    test(name)(run)


for _fl in KERNELS:
    for _smp in (1, 4):
        differential(_fl, _smp)


def qemu_error(args):
    p = subprocess.run([QEMU, "-M", "virt", "-m", "256", "-display", "none",
                        "-monitor", "none", "-serial", "none", "-S"] + args,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode()


@test("espt/bad-value")
def _():
    rc, out = qemu_error(["-accel", "tcg,espt=maybe"])
    check(rc != 0 and "espt" in out, "espt=maybe accepted (rc %d): %s" % (rc, out))


@test("espt/needs-shared-ram")
def _():
    rc, out = qemu_error(["-object", "memory-backend-ram,id=m,size=256M",
                          "-machine", "memory-backend=m"] + ON)
    check(rc != 0 and "needs guest RAM in a shared file descriptor" in out,
          "a private RAM backend was accepted with espt=on (rc %d): %s" % (rc, out))
    # A shared memfd given by the user is fine.
    p = subprocess.Popen([QEMU, "-M", "virt", "-m", "256", "-display", "none",
                          "-monitor", "none", "-serial", "none", "-S",
                          "-object", "memory-backend-memfd,id=m,size=256M,share=on",
                          "-machine", "memory-backend=m"] + ON,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=3)
        check(False, "QEMU with a shared memfd backend exited: %s" % out.decode())
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


@test("demo/main-job")
def _():
    """The README's main job boots with espt=off and espt=on, finds the
    same results and prints both times."""
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo.py")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=900)
    out = p.stdout.decode()
    check(p.returncode == 0 and "demo OK" in out, "demo failed:\n" + out[-3000:])
    check("same results with espt=off and espt=on" in out, "no comparison:\n" + out[-2000:])
    check(re.search(r"workload: [\d.]+ s with espt=off, [\d.]+ s with espt=on", out),
          "no times:\n" + out[-2000:])
