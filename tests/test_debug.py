# Breakpoints through chained code (issue 21, bug 1): a breakpoint armed
# after ESPT linked a jump (or cached the target of an inline lookup)
# must still stop the guest there, as it does with espt=off, whichever
# way it was armed: the guest's own debug registers (bare metal), gdb on
# a running guest, the guest kernel's ptrace and perf breakpoints.
#
# Environment:
#   QEMU_ESPT_TEST_QEMU=PATH     test this qemu-system-arm instead of the
#                                build's (e.g. a copy of an older binary)
#   QEMU_ESPT_TEST_ON_OPTS=A,B   more -accel options for the espt=on runs
#                                (e.g. x-espt-check=on)
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import shutil
import socket
import subprocess
import time

from harness import test, check, Skip
from guest import (ROOT, BUILD, GUEST, KERNELS, QEMU as BUILD_QEMU, boot, concurrent_map,
                   run, parse_espt, espt_on_opts, _monitor)

QEMU = os.environ.get("QEMU_ESPT_TEST_QEMU") or BUILD_QEMU
LOGS = os.path.join(BUILD, "tests", "logs")
OFF = ["-accel", "tcg,espt=off"]
# ESPT for everything it can serve, as test_espt's ON_ALL, with the
# checking mode (x-espt-check=on); QEMU_ESPT_TEST_ON_OPTS adds options.
ON_OPTS = espt_on_opts(["x-espt-check=on"])
ON_ALL = ["-accel", "tcg," + ",".join(ON_OPTS)]
MODES = (("off", OFF), ("on", ON_ALL))
# No NIC: none is needed, and a binary copied out of the build tree
# finds no option ROM for the default one.
NO_NIC = ["-nic", "none"]
BRK_ELF = os.path.join(GUEST, "bare", "brk.elf")
# tests/bare/brk.c reads its mode word here (see its header).
BRK_MODE_PA = 0x40800000


def log(name):
    return os.path.join(LOGS, name.replace("/", "_") + ".log")


def rel(path):
    return os.path.relpath(path, ROOT)


def chained(info, mode):
    """'info espt' of an espt=on run: ESPT was on and really chained."""
    check(info["on"], "espt=%s: ESPT is not on: %r" % (mode, info))
    check(info.get("chain-links", 0) > 0,
          "espt=%s: no jump was chained, so the test proves nothing: %r" % (mode, info))
    if "x-espt-check=on" in ON_OPTS:
        check(info.get("check-jumps", 0) > 0 and info.get("check-jump-errors", -1) == 0
              and info.get("check-page-errors", -1) == 0,
              "espt=%s: the checking mode did not run, or found mismatches: %r"
              % (mode, info))


@test("espt/brk-bare")
def _():
    """tests/bare/brk.c: user code calls f on another page until the call
    is linked (or its return looked up inline), then an SVC arms DBGBVR0/
    DBGBCR0 at f or at a return site, for PL0 only; the next call must
    take a prefetch abort with a debug-event IFSR there.  Direct `bl`,
    `blx rN`, returns by `bx lr` and `pop {pc}`, re-armed for 100 calls,
    and disarmed again.  espt=off and espt=on print the same lines, all
    passed."""
    check(os.path.exists(BRK_ELF), "%s missing: run make guest" % BRK_ELF)
    outs = {}
    for mode, acc in MODES:
        lf = log("espt/brk-bare-%s" % mode)
        r = run([QEMU, "-M", "virt", "-m", "256", "-kernel", BRK_ELF, "-nographic",
                 "-no-reboot", "-serial", "stdio"] + NO_NIC + acc, 120,
                hmp=["info espt"], done=b"BRK-TEST end", log_path=lf)
        lines = [ln for ln in r.log.split("\n") if ln.startswith(("  ", "BRK-TEST"))]
        summary = [ln for ln in lines if ln.startswith("BRK-TEST passed")]
        check(not r.timed_out and summary and r.hmp is not None,
              "espt=%s: no summary (log: %s)\n%s" % (mode, rel(lf), r.log[-1500:]))
        check(summary[0].endswith("failed 0 OK"), "espt=%s: %s (log: %s)\n%s" % (
            mode, summary[0], rel(lf), "\n".join(ln for ln in lines
                                             if ln.startswith("  ") and ln.endswith("FAIL"))))
        check(summary[0].startswith("BRK-TEST passed 12 "),
              "espt=%s ran %s checks, not 12" % (mode, summary[0]))
        info = parse_espt(r.hmp["info espt"])
        if mode == "off":
            check(not info["on"], "espt=off: %s" % r.hmp["info espt"])
        else:
            chained(info, mode)
            check(info.get("lookup-misses", 0) > 0 and info.get("lookup-mismatch", -1) == 0,
                  "espt=%s: inline lookups unused or wrong: %r" % (mode, info))
            print("    chain links %d, inline lookup misses %d"
                  % (info["chain-links"], info["lookup-misses"]), flush=True)
        outs[mode] = lines
    check(outs["on"] == outs["off"], "espt=on differs from espt=off:\n%s" % "\n".join(
        a + "  |  " + b for a, b in zip(outs["off"], outs["on"]) if a != b))


def hmp(path, command):
    """One HMP command on a unix socket monitor (QEMU keeps running)."""
    return _monitor(path, [command], quit=False)[command]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def gdb_running(mode, acc, loop, timeout=30, elf=BRK_ELF, ready="BRK-LOOP",
                tag=None):
    """Boot `elf` (brk.elf, or ktlb.elf for kernel code) in loop mode
    `loop` (brk.elf: 1 quiet, 2 timer) with a gdbstub and no -S; once it
    says it is warmed up ("`ready` ready f ADDR"), attach gdb, `break *f`,
    `continue`.  Returns (f, gdb's output or None on timeout, seconds to
    the stop, 'info espt' before attaching, console)."""
    tag = tag or "espt/brk-gdb-running-%s-%s" % ({1: "quiet", 2: "timer"}[loop], mode)
    d = os.path.join(BUILD, "tests")
    os.makedirs(LOGS, exist_ok=True)
    console = os.path.join(d, tag.replace("/", "_") + ".console")
    mon = os.path.join(d, tag.replace("/", "_") + ".mon")
    for p in (console, mon):
        if os.path.exists(p):
            os.unlink(p)
    port = free_port()
    q = subprocess.Popen([QEMU, "-M", "virt", "-m", "256", "-kernel", elf,
                          "-display", "none", "-no-reboot", "-serial", "file:" + console,
                          "-monitor", "unix:%s,server=on,wait=off" % mon,
                          "-gdb", "tcp:127.0.0.1:%d" % port,
                          "-device", "loader,addr=0x%x,data=%d,data-len=4" % (BRK_MODE_PA, loop)]
                         + NO_NIC + acc,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.STDOUT)
    try:
        text, t0 = "", time.monotonic()
        while ready + " ready" not in text and time.monotonic() - t0 < 60:
            check(q.poll() is None, "espt=%s: QEMU exited with %s" % (mode, q.returncode))
            time.sleep(0.1)
            if os.path.exists(console):
                with open(console, errors="replace") as f:
                    text = f.read()
        m = re.search(ready + r" ready f (0x[0-9a-f]+)", text)
        check(m, "espt=%s: the loop never said it was ready:\n%s" % (mode, text[-1500:]))
        f_addr = int(m.group(1), 16)
        # Let the loop run a while: every jump in it is linked by now.
        time.sleep(0.5)
        info = parse_espt(hmp(mon, "info espt"))
        t1 = time.monotonic()
        g = subprocess.Popen(["gdb-multiarch", "-nx", "-batch",
                              "-ex", "set architecture arm",
                              "-ex", "target remote 127.0.0.1:%d" % port,
                              "-ex", "break *0x%x" % f_addr,
                              "-ex", "continue",
                              "-ex", "print/x $pc", "-ex", "print $cpsr & 0x1f"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        try:
            out = g.communicate(timeout=timeout)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            g.kill()
            g.communicate()
            out = None
        took = time.monotonic() - t1
        with open(console, errors="replace") as f:
            text = f.read()
        with open(log(tag), "w") as f:
            f.write("# %s loop %d, gdb: %s after %.1f s\n%s\n# console\n%s"
                    % (mode, loop, "stopped" if out is not None else "no stop",
                       took, out, text))
        return f_addr, out, took, info, text
    finally:
        q.kill()
        q.wait()


def stop_problem(name, f_addr, out, took, mode, what):
    """Why gdb's output `out` (gdb_running()'s) is not a stop at f_addr
    in CPSR mode `mode` (16 user, 19 Supervisor), or None if it is; `what`
    is a counter for the message."""
    if out is None:
        return "%s: no stop at 0x%x within %.0f s (%s)" % (name, f_addr, took, what)
    pc = re.search(r"\$1 = (0x[0-9a-f]+)", out)
    el = re.search(r"\$2 = (\d+)", out)
    if not (pc and int(pc.group(1), 16) == f_addr and el and el.group(1) == str(mode)):
        return "%s: stopped, but not at f 0x%x in %s mode:\n%s" % (
            name, f_addr, {16: "user", 19: "Supervisor"}[mode], out[-1000:])
    return None


@test("espt/brk-gdb-running")
def _():
    """gdb attached to a running guest: tests/bare/brk.c's loop mode calls
    f on another page from user mode forever (chained under ESPT); gdb
    attaches without -S, `break *f`, `continue`: the stop must come at f,
    in user mode, within 30 s.  Two loops: 'quiet', with IRQs masked and
    a thousand TBs of spinning between calls, so that nothing but the
    breakpoint can stop the vCPU at f; and 'timer', f called back to back
    under a 1 kHz timer interrupt, as in a Linux guest.  Today's ESPT
    stops in 'timer' but not in 'quiet': an interrupt is taken at a TB
    start, and the return from it looks the next TB up in cpu_exec(),
    which checks breakpoints; with a third of the TB starts at f, a tick
    soon lands there.  Attaching gdb stops and resumes the VM without
    flushing or rekeying anything (the vCPU resumes where it stopped)."""
    if not shutil.which("gdb-multiarch"):
        raise Skip("gdb-multiarch not installed (scripts/install-deps.sh installs it)")
    check(os.path.exists(BRK_ELF), "%s missing: run make guest" % BRK_ELF)
    bad = []
    for loop in (1, 2):
        for mode, acc in MODES:
            name = "%s loop, espt=%s" % ({1: "quiet", 2: "timer"}[loop], mode)
            f_addr, out, took, info, text = gdb_running(mode, acc, loop)
            if mode == "on":
                chained(info, mode)
            why = stop_problem(name, f_addr, out, took, 16,
                               "chain-links %s" % info.get("chain-links"))
            if why:
                bad.append(why)
                continue
            print("    %s: stopped at 0x%x after %.1f s (chain-links %s)"
                  % (name, f_addr, took, info.get("chain-links", "-")), flush=True)
    check(not bad, "\n".join(bad))


KTLB_ELF = os.path.join(GUEST, "bare", "ktlb.elf")


@test("kernel/brk-gdb-running")
def _():
    """The same for kernel code with espt-kernel=on (invariant 19): ktlb.elf
    in its loop mode calls a function on another global page at PL1
    forever, IRQs masked, with a spin loop between calls, its calls and
    returns looked up inline through the kernel table's jump cache; gdb
    attaches to the running guest, `break *f`, `continue`: the stop must
    come at f in Supervisor mode within 30 s, as with espt=off.  With
    the breakpoint rule broken on purpose (x-espt-test-break=breakpoints)
    no stop comes in 10 s: what this test stops in is that rule."""
    if not shutil.which("gdb-multiarch"):
        raise Skip("gdb-multiarch not installed (scripts/install-deps.sh installs it)")
    check(os.path.exists(KTLB_ELF), "%s missing: run make guest" % KTLB_ELF)
    kern = ["-accel", ON_ALL[1] + ",espt-kernel=on"]
    broken = ["-accel", kern[1].replace("x-espt-check=on", "x-espt-check=off")
              + ",x-espt-test-break=breakpoints"]
    bad = []
    for mode, acc, timeout in (("off", OFF, 30), ("on", kern, 30), ("broken", broken, 10)):
        name = "kernel code, espt=%s" % mode
        f_addr, out, took, info, text = gdb_running(
            mode, acc, 1, timeout=timeout, elf=KTLB_ELF, ready="KTLB-LOOP",
            tag="kernel/brk-gdb-running-%s" % mode)
        if mode != "off":
            check(info["on"] and info.get("kernel-jc-adds", 0) > 0 and
                  info.get("kernel-code-maps", 0) > 0,
                  "%s: the kernel table's jump cache was not used: %r" % (name, info))
        if mode == "on" and "x-espt-check=on" in ON_OPTS:
            check(info.get("check-jumps", 0) > 0 and info.get("check-jump-errors", -1) == 0,
                  "%s: the checking mode did not check jumps, or found mismatches: %r"
                  % (name, info))
        if mode == "broken":
            check(out is None, "%s: gdb stopped with the rule broken, so the test does "
                  "not reach the kernel's jump cache:\n%s" % (name, (out or "")[-1000:]))
            print("    %s: no stop in %.0f s (as it must)" % (name, took), flush=True)
            continue
        why = stop_problem(name, f_addr, out, took, 19,
                           "kernel-jc-adds %s" % info.get("kernel-jc-adds"))
        if why:
            bad.append(why)
            continue
        print("    %s: stopped at 0x%x after %.1f s (kernel-jc-adds %s)"
              % (name, f_addr, took, info.get("kernel-jc-adds", "-")), flush=True)
    check(not bad, "\n".join(bad))


def hwbreak_lines(r):
    """hwbreak's result lines, without the kernel's (timestamped) ones."""
    return [ln for ln in r.output("hwbreak").split("\n")
            if ln.startswith("hwbreak:") and not ln.startswith("hwbreak: kernel:")]


def brk_linux(flavour):
    name = "espt/brk-linux/%s" % flavour

    def run_():
        """tests/guest/progs/hwbreak.c: the guest kernel arms hardware
        breakpoints on user code whose calls ESPT has chained (1000 warm-up
        calls first).  ptrace (PTRACE_SETHBPREGS) moves breakpoint 0
        between f and the call's return address at every stop: 1000 stops
        at each, in both modes.  perf_event_open(PERF_TYPE_BREAKPOINT)
        counts executions of f, and of a function never called before;
        Linux steps over a perf breakpoint with a mismatch breakpoint,
        which QEMU does not implement, so espt=off counts 1, not 1000:
        espt=on must count what espt=off counts."""
        runs = {}
        boots = concurrent_map(lambda mode, acc: boot(
            flavour, tests=["hwbreak"], extra_qemu=acc + NO_NIC,
            log_path=log("%s-%s" % (name, mode)), timeout=300, hmp=["info espt"],
            qemu=QEMU), MODES)
        for (mode, acc), r in zip(MODES, boots):
            runs[mode] = (r, log("%s-%s" % (name, mode)))
        r, lf = runs["off"]
        out = r.output("hwbreak")
        check(r.ok and r.hmp is not None, "espt=off: %s (log: %s)\n%s"
              % ("; ".join(r.problems), rel(lf), out[-2000:]))
        kernel = [ln for ln in out.split("\n") if ln.startswith("hwbreak: kernel:")
                  and re.search(r"found|unsupported|powered|failed", ln)]
        m = re.search(r"hwbreak: debug architecture \S+, (\d+) breakpoints", out)
        check(m and int(m.group(1)) > 0,
              "espt=off: the guest kernel has no hardware breakpoints on this CPU:\n%s"
              % out[-2000:])
        want = hwbreak_lines(r)
        r, lf = runs["on"]
        got = hwbreak_lines(r)
        check(r.hmp is not None and not r.timed_out, "espt=on: %s (log: %s)\n%s"
              % ("; ".join(r.problems), rel(lf), r.log[-1500:]))
        check(r.ok and got == want, "espt=on differs from espt=off (log: %s)%s\n"
              "  off:\n    %s\n  on:\n    %s"
              % (rel(lf), "".join("; " + p for p in r.problems),
                 "\n    ".join(want), "\n    ".join(got)))
        chained(parse_espt(r.hmp["info espt"]), "on")
        counts = [ln.split(": ", 1)[1] for ln in want if re.match(r"hwbreak: (ptrace|perf)", ln)]
        print("    %s; %s" % ("; ".join(counts), "; ".join(
            ln.split("] ", 1)[-1] for ln in kernel)), flush=True)
    test(name)(run_)


for _fl in KERNELS:
    brk_linux(_fl)


@test("espt/check-catches-breakpoints")
def _():
    """The checking mode would have caught bug 1: with the breakpoint
    rule broken on purpose (x-espt-test-break=breakpoints: chained jumps
    and inline lookups stay on while breakpoints are set), brk.elf's
    calls skip the breakpoints again, and the checking mode must count
    jumps into TBs that a full lookup (which sees the breakpoint) would
    not have returned."""
    check(os.path.exists(BRK_ELF), "%s missing: run make guest" % BRK_ELF)
    lf = log("espt/check-catches-breakpoints")
    r = run([QEMU, "-M", "virt", "-m", "256", "-kernel", BRK_ELF, "-nographic",
             "-no-reboot", "-serial", "stdio"] + NO_NIC +
            ["-accel", "tcg,espt=on,espt-adaptive=off,x-espt-check=on,"
             "x-espt-test-break=breakpoints"], 120,
            hmp=["info espt"], done=b"BRK-TEST end", log_path=lf)
    check(r.hmp is not None, "no monitor reply (log: %s)\n%s" % (rel(lf), r.log[-1500:]))
    info = parse_espt(r.hmp["info espt"])
    summary = [ln for ln in r.log.split("\n") if ln.startswith("BRK-TEST passed")]
    first = [ln.strip() for ln in r.hmp["info espt"].split("\n") if "mismatch:" in ln]
    check(summary and not summary[0].endswith("failed 0 OK"),
          "breaking the rule did not break the test image: %s" % summary)
    check(info.get("check-jump-errors", 0) > 0 and any("breakpoint" in f for f in first),
          "the checking mode missed jumps past breakpoints: %r\n%s" % (info, first))
    print("    %s; check-jump-errors %d, first: %s"
          % (summary[0], info["check-jump-errors"], first[0]), flush=True)
