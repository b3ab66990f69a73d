# Boot a qemu-espt guest and read what its /init reports.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import selectors
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
GUEST = os.path.join(BUILD, "guest")
# The base under test: QEMU_ESPT_BASE=B (make check-B) tests build/B's
# binaries, else the selected base's (./qemu-system-arm, make check).
TEST_BASE = os.environ.get("QEMU_ESPT_BASE", "")
if TEST_BASE:
    BASE_DIR = os.path.join(BUILD, TEST_BASE)
    QEMU = os.path.join(BASE_DIR, "obj", "qemu-system-arm")
    QEMU_USER = os.path.join(BASE_DIR, "obj", "qemu-arm")
    QEMU_A64 = os.path.join(BASE_DIR, "obj", "qemu-system-aarch64")
    QEMU_USER_A64 = os.path.join(BASE_DIR, "obj", "qemu-aarch64")
else:
    BASE_DIR = BUILD
    QEMU = os.path.join(ROOT, "qemu-system-arm")
    QEMU_USER = os.path.join(ROOT, "qemu-arm")
    QEMU_A64 = os.path.join(ROOT, "qemu-system-aarch64")
    QEMU_USER_A64 = os.path.join(ROOT, "qemu-aarch64")
KERNELS = ("armmp", "armmp-lpae")
# The arm64 guest (bases with qemu-system-aarch64): Debian's arm64 kernel
# (48-bit VA) and the initramfs built for AArch64, in build/guest/arm64.
GUEST_A64 = os.path.join(GUEST, "arm64")
CPU_A64 = "cortex-a57"
# The CPU of every system guest: -M virt's default for qemu-system-arm,
# named so that user mode (qemu-arm, the benchmarks' ceiling) runs the
# same model and so the same instructions (its default is "max").
CPU = "cortex-a15"


def selected_base():
    """The base build/config.mk records (./configure picked it last), else
    the one a plain ./configure picks (DEFAULT_BASE in scripts/lib)."""
    for path, pat in ((os.path.join(BUILD, "config.mk"), r"(?m)^BASE := (\S+)"),
                      (os.path.join(ROOT, "scripts", "lib", "common.sh"),
                       r"(?m)^DEFAULT_BASE=(\S+)")):
        try:
            with open(path) as f:
                m = re.search(pat, f.read())
        except OSError:
            continue
        if m:
            return m.group(1)
    raise RuntimeError("scripts/lib/common.sh names no DEFAULT_BASE")


def tested_base():
    """The base under test: QEMU_ESPT_BASE, else the selected one."""
    return TEST_BASE or selected_base()


def espt_on_opts(extra=()):
    """The -accel options (after "tcg,") of an espt=on run in which ESPT
    serves everything it can (no adaptive softmmu periods), plus @extra
    and the environment's QEMU_ESPT_TEST_ON_OPTS (comma-separated, e.g.
    to run a test module against another setting by hand)."""
    return (["espt=on", "espt-adaptive=off"] + list(extra)
            + [o for o in os.environ.get("QEMU_ESPT_TEST_ON_OPTS", "").split(",") if o])


# Its kernels: Debian's (48-bit VA) and ours built from Debian's source
# with 39-bit VA (tests/guest/kernel-va39.sh), both in build/guest/arm64.
A64_KERNELS = ("arm64", "arm64-va39")


def is_a64(flavour):
    return flavour in A64_KERNELS


def guest_dir(flavour):
    return GUEST_A64 if is_a64(flavour) else GUEST


def have_a64():
    """Whether this base builds qemu-system-aarch64 (10.0 on)."""
    return os.path.exists(QEMU_A64)


def kernel_path(flavour):
    return os.path.join(guest_dir(flavour), "vmlinuz-" + flavour)


def kernel_version(flavour):
    try:
        with open(os.path.join(guest_dir(flavour), "kernel-%s.txt" % flavour)) as f:
            return f.read().strip()
    except OSError:
        return "?"


class BootResult:
    """What one boot did: per-test results and the whole console log."""

    def __init__(self):
        self.log = ""
        self.rc = None
        self.timed_out = False
        self.wall = 0.0
        self.init_uptime = None      # guest seconds from kernel start to /init
        self.results = {}            # name -> (PASS|FAIL, rc, guest seconds)
        self.outputs = {}            # name -> output lines of that test
        self.done = False
        self.problems = []
        self.hmp = None              # monitor command -> reply

    @property
    def ok(self):
        return not self.problems

    def output(self, name):
        return "\n".join(self.outputs.get(name, []))


PANIC_RE = re.compile(r"Kernel panic|Internal error: Oops|BUG: |Unable to handle kernel")


def boot_cmd(flavour="armmp", tests=(), smp=1, mem=1024, extra_qemu=(),
             extra_append="", test_args=None, qemu=None, initrd=None,
             cpu=None):
    """The QEMU command line that boot() runs.  Flavour "arm64" boots the
    arm64 guest with qemu-system-aarch64 and CPU_A64."""
    a64 = is_a64(flavour)
    qemu = qemu or (QEMU_A64 if a64 else QEMU)
    cpu = cpu or (CPU_A64 if a64 else CPU)
    initrd = initrd or os.path.join(guest_dir(flavour), "initramfs.cpio.gz")
    append = "console=ttyAMA0 panic=-1 norandmaps quiet loglevel=3"
    if tests:
        append += " espt.tests=" + ",".join(tests)
    for name, args in (test_args or {}).items():
        append += " espt.args.%s=%s" % (name, ":".join(str(a) for a in args))
    if extra_append:
        append += " " + extra_append
    return [qemu, "-M", "virt", "-cpu", cpu, "-m", str(mem), "-smp", str(smp),
            "-kernel", kernel_path(flavour), "-initrd", initrd,
            "-append", append, "-nographic", "-no-reboot",
            "-serial", "stdio"] + list(extra_qemu)


def boot(flavour="armmp", tests=(), smp=1, mem=1024, timeout=300,
         extra_qemu=(), extra_append="", test_args=None, log_path=None,
         qemu=None, initrd=None, on_line=None, hmp=(), cpu=None):
    """Boot a Debian armhf kernel with our initramfs, run `tests`, and
    return a BootResult.  A timeout, a panic, a missing result or a
    non-zero QEMU exit all end up in BootResult.problems.  on_line(line,
    pid) is called for every console line as it arrives.  The monitor
    commands in `hmp` are run once the guest has powered off (QEMU is
    kept alive with -no-shutdown for that); replies in BootResult.hmp."""
    cmd = boot_cmd(flavour, tests, smp, mem, extra_qemu, extra_append,
                   test_args, qemu, initrd, cpu)
    r = run(cmd, timeout, hmp, b"reboot: Power down", log_path, on_line)
    parse(r, tests)
    return r


def concurrently(*calls):
    """Call the zero-argument callables in @calls at the same time, each
    in a thread of its own, and return their results in order.  Meant
    for the boots a differential test compares (espt=off and espt=on):
    each is a QEMU process that keeps about one host CPU busy, so on the
    two cores of a CI machine a pair takes about the time of its longer
    boot.  The checks
    stay with the caller, made in the order the boots are given, so a
    failure reads as before.  If a call raised, the first such exception
    is raised once every call has returned.  QEMU_ESPT_TEST_SEQUENTIAL=1
    (or a host with one CPU) makes the calls one after the other."""
    if os.environ.get("QEMU_ESPT_TEST_SEQUENTIAL") == "1" or (os.cpu_count() or 1) < 2:
        return [c() for c in calls]
    out = [None] * len(calls)
    errors = [None] * len(calls)

    def one(i):
        try:
            out[i] = calls[i]()
        except BaseException as e:          # re-raised below
            errors[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return out


def concurrent_map(fn, items):
    """[fn(*item) for item in items], the calls made concurrently()."""
    return concurrently(*(lambda item=item: fn(*item) for item in items))


def run(cmd, timeout, hmp=(), done=b"", log_path=None, on_line=None, env=None,
        preexec_fn=None):
    """Run QEMU command line `cmd` (serial on stdio) until it exits, and
    return a BootResult with its console log.  With `hmp`, QEMU gets a
    monitor and -no-shutdown, and the commands run once `done` has been
    printed; their replies go in BootResult.hmp.  A (command, predicate)
    pair repeats the command until its reply satisfies the predicate, for
    up to 60 s.  `env` and `preexec_fn` go to subprocess.Popen."""
    sock = None
    cmd = list(cmd)
    if hmp:
        sock = tempfile.mktemp(prefix="espt-hmp-", suffix=".sock")
        cmd += ["-monitor", "unix:%s,server=on,wait=off" % sock, "-no-shutdown"]
    else:
        cmd += ["-monitor", "none"]
    r = BootResult()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
    chunks, pending, tail = [], b"", b""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    try:
        while True:
            left = t0 + timeout - time.monotonic()
            if left <= 0:
                r.timed_out = True
                break
            if not sel.select(timeout=min(left, 1.0)):
                continue
            data = os.read(p.stdout.fileno(), 65536)
            if not data:
                break
            chunks.append(data)
            tail = (tail + data)[-256:]
            if sock and done in tail:
                r.hmp = _monitor(sock, hmp)
                sock = None
            if on_line:
                pending += data
                *lines, pending = pending.split(b"\n")
                for ln in lines:
                    on_line(ln.decode("utf-8", "replace").rstrip("\r"), p.pid)
    finally:
        if r.timed_out or (hmp and r.hmp is None):
            p.kill()
        r.rc = p.wait()
        sel.close()
        p.stdout.close()
    r.log = b"".join(chunks).decode("utf-8", "replace")
    r.wall = time.monotonic() - t0
    r.log = r.log.replace("\r\n", "\n")
    if log_path:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        with open(log_path, "w") as f:
            f.write("# %s\n" % " ".join(cmd))
            f.write(r.log)
    return r


def _monitor(path, commands, quit=True):
    """Run HMP commands on a unix socket monitor, then quit QEMU (with
    quit=False, leave it running and the socket in place)."""
    out = {}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)

    def until_prompt():
        buf = b""
        while not buf.endswith(b"(qemu) "):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        return buf.decode("utf-8", "replace")

    def command(c):
        s.sendall(c.encode() + b"\n")
        reply = until_prompt()
        # Drop the echoed command line and the prompt.
        lines = reply.replace("\r", "").split("\n")
        return "\n".join(ln for ln in lines[1:-1] if "\x1b" not in ln)

    until_prompt()
    for c in commands:
        if isinstance(c, tuple):
            # (command, predicate): repeat it until its reply satisfies
            # the predicate, for up to 60 s.
            c, pred = c
            t0 = time.monotonic()
            out[c] = command(c)
            while not pred(out[c]) and time.monotonic() - t0 < 60:
                time.sleep(0.05)
                out[c] = command(c)
        else:
            out[c] = command(c)
    if not quit:
        s.close()
        return out
    s.sendall(b"quit\n")
    try:
        while s.recv(65536):      # QEMU closes the monitor as it quits
            pass
    except OSError:
        pass
    s.close()
    try:
        os.unlink(path)
    except OSError:
        pass
    return out


def parse_espt(text):
    """'info espt' output -> {"on": bool, counter: int, ...}."""
    d = {"on": text.startswith("ESPT is on")}
    for line in text.split("\n")[1:]:
        f = line.split()
        if len(f) == 2 and f[1].isdigit():
            d[f[0]] = int(f[1])
    return d


def parse(r, tests):
    """Fill BootResult r's results and problems from its console log."""
    current = None
    for line in r.log.split("\n"):
        line = line.rstrip()
        m = re.match(r"ESPT-INIT uptime=([\d.]+)", line)
        if m:
            r.init_uptime = float(m.group(1))
            continue
        m = re.match(r"ESPT-BEGIN (\S+)", line)
        if m:
            current = m.group(1)
            r.outputs[current] = []
            continue
        m = re.match(r"ESPT-RESULT (\S+) (PASS|FAIL) rc=(\d+) time=([\d.]+)", line)
        if m:
            r.results[m.group(1)] = (m.group(2), int(m.group(3)), float(m.group(4)))
            current = None
            continue
        if line == "ESPT-DONE":
            r.done = True
            continue
        if current is not None:
            r.outputs[current].append(line)
    if r.timed_out:
        r.problems.append("timed out")
    if PANIC_RE.search(r.log):
        r.problems.append("kernel panic/oops on the console")
    if r.init_uptime is None:
        r.problems.append("never reached /init")
    for t in tests:
        if t not in r.results:
            r.problems.append("no result from test %s" % t)
        elif r.results[t][0] != "PASS":
            r.problems.append("test %s failed (rc=%d)" % (t, r.results[t][1]))
    if r.init_uptime is not None and not r.done and not r.timed_out:
        r.problems.append("init did not finish")
    if not r.timed_out and r.rc != 0 and r.rc is not None:
        r.problems.append("qemu exited with status %s" % r.rc)
