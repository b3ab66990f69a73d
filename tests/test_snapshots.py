# Migration modes and snapshots with ESPT on: postcopy live migration,
# background snapshots, savevm/loadvm on a qcow2 disk.  Each guest must
# compute what an unmigrated espt=off guest computes.
#
# Userfaultfd (postcopy, background snapshots) watches QEMU's own
# mapping of guest RAM, not ESPT's shadow mappings of the same memfd:
# ESPT maps nothing while it runs ('info espt': inhibits).
#
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import shutil
import socket
import subprocess
import time

from harness import test, check, Skip
from guest import ROOT, BUILD, boot, boot_cmd, have_a64, parse_espt
from test_espt import OFF, ON_ALL, log, results as guest_results, results_of

WORK = os.path.join(BUILD, "tests", "snapshots")
TESTS = ["workload", "memtest"]


class Live:
    """A QEMU running in the background: console in a file, HMP on a
    unix socket."""

    def __init__(self, name, extra, tests=TESTS, reboot=False, flavour="armmp"):
        os.makedirs(WORK, exist_ok=True)
        self.name = name
        self.console = os.path.join(WORK, name + ".console")
        self.sock = os.path.join(WORK, name + ".hmp")
        for f in (self.console, self.sock):
            if os.path.exists(f):
                os.unlink(f)
        cmd = boot_cmd(flavour, tests, mem=512)
        cmd[cmd.index("stdio")] = "file:" + self.console
        if reboot:
            # Without -no-reboot, which turns system_reset into a shutdown.
            cmd.remove("-no-reboot")
        cmd += extra + ["-monitor", "unix:%s,server=on,wait=off" % self.sock,
                        "-no-shutdown"]
        self.errlog = open(os.path.join(WORK, name + ".stderr"), "w")
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.errlog,
                                  stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        while not os.path.exists(self.sock):
            check(self.p.poll() is None and time.monotonic() - t0 < 30,
                  "%s: QEMU did not start: %s" % (name, self.stderr()))
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(120)
        self.s.connect(self.sock)
        self._prompt()

    def stderr(self):
        self.errlog.flush()
        with open(self.errlog.name, errors="replace") as f:
            return f.read()[-2000:]

    def _prompt(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            d = self.s.recv(65536)
            if not d:
                break
            buf += d
        return buf.decode("utf-8", "replace")

    def hmp(self, cmd):
        self.s.sendall(cmd.encode() + b"\n")
        lines = self._prompt().replace("\r", "").split("\n")
        return "\n".join(ln for ln in lines[1:-1] if "\x1b" not in ln)

    def text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read().replace("\r\n", "\n")
        except OSError:
            return ""

    def wait(self, what, timeout=300, pred=None):
        """Until `what` is on the console (or pred() holds)."""
        t0 = time.monotonic()
        while not (pred() if pred else what in self.text()):
            check(self.p.poll() is None, "%s: QEMU exited (%s) waiting for %s: %s"
                  % (self.name, self.p.returncode, what, self.stderr()))
            check(time.monotonic() - t0 < timeout, "%s: timed out waiting for %s:\n%s"
                  % (self.name, what, self.text()[-1500:]))
            time.sleep(0.1)

    def espt(self):
        return parse_espt(self.hmp("info espt"))

    def migration_status(self):
        m = re.search(r"Migration status: (\S+)", self.hmp("info migrate"))
        return m.group(1) if m else "?"

    def quit(self):
        try:
            self.s.sendall(b"quit\n")
            self.p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        self.s.close()
        self.errlog.close()


def reference(flavour="armmp"):
    r = boot(flavour, tests=TESTS, mem=512, extra_qemu=OFF,
             log_path=log("snapshots-reference-" + flavour))
    check(r.ok, "reference run: %s" % "; ".join(r.problems))
    return guest_results(r)


def writing(q):
    """The guest runs its workload through the shadow tables."""
    q.wait("ESPT-BEGIN workload")
    q.wait("pages mapped", pred=lambda: q.espt().get("pages-mapped", 0) >= 3000)


def stop_and_cut(q):
    """Stop q's guest and return its console so far: everything the
    guest wrote to its UART is in the file once 'stop' returns, and a
    guest resumed from this point prints the rest, so the two join
    exactly, even within a line.  A cut taken while the guest runs is
    not the snapshot's point: what it prints before the snapshot stops
    it is in neither half (seen in CI: three workload lines lost to a
    slow background snapshot setup)."""
    out = q.hmp("stop")
    check(not out.strip(), "stop: %s" % out)
    check("paused" in q.hmp("info status"), "guest not paused after stop")
    return q.text()


def joined(*texts):
    """Console texts joined: a CR LF can be split between two."""
    return "".join(texts).replace("\r\n", "\n")


@test("espt/postcopy")
def _():
    """Postcopy live migration while the guest's workload writes through
    the shadow tables, into an espt=on destination: it completes, and the
    destination computes what an unmigrated espt=off guest does.  The
    destination maps nothing through ESPT until postcopy is over."""
    want = reference()
    # The resume check needs user work left on the destination after
    # postcopy: on a loaded host the guest can finish its tests while
    # postcopy still runs (seen once in a CI run on 7.2: maps 0, no
    # table switch).  Then the run proves nothing about resuming: try
    # again, up to three times.
    for attempt in range(1, 4):
        on, text, early = postcopy_once(attempt)
        if not early:
            break
        print("    attempt %d: the guest finished during postcopy, again" % attempt,
              flush=True)
    check(not early, "the guest finished during postcopy in all three attempts")
    got, r = results_of(text)
    check(r.ok, "migrated guest: %s\n%s" % ("; ".join(r.problems), text[-1500:]))
    check(got == want, "postcopy destination computed other results:\n  want %s\n  got  %s"
          % (want, got))
    check(on["on"] and on.get("inhibits", 0) >= 1,
          "the destination did not keep ESPT off during postcopy: %r" % on)
    check(on.get("maps", 0) > 100, "ESPT did not resume after postcopy: %r" % on)
    print("    postcopy done; destination: inhibits %d, maps %d after it"
          % (on["inhibits"], on["maps"]), flush=True)


def postcopy_once(attempt):
    """One postcopy migration of the writing guest; returns the
    destination's 'info espt' at the end, the joined console text, and
    whether the guest had finished its tests when postcopy completed."""
    mig = os.path.join(WORK, "postcopy.sock")
    dst = Live("postcopy-dst-%d" % attempt, ON_ALL + ["-incoming", "unix:" + mig])
    src = Live("postcopy-src-%d" % attempt, ON_ALL)
    try:
        for q in (src, dst):
            out = q.hmp("migrate_set_capability postcopy-ram on")
            if "not supported" in out.lower() or "error" in out.lower():
                raise Skip("postcopy unsupported on this host: %s" % out.strip())
        # Precopy alone must not be able to finish before the switch: on
        # a fast host it moved this guest's RAM in under a second.  The
        # cap is precopy's only (max-postcopy-bandwidth stays unlimited).
        out = src.hmp("migrate_set_parameter max-bandwidth 4M")
        check(not out.strip(), "max-bandwidth: %s" % out)
        writing(src)
        src.hmp("migrate -d unix:" + mig)
        time.sleep(1)
        check(src.migration_status() == "active",
              "precopy was not running when postcopy was asked for:\n%s"
              % src.hmp("info migrate"))
        out = src.hmp("migrate_start_postcopy")
        check(not out.strip(), "migrate_start_postcopy: %s" % out)
        t0 = time.monotonic()
        while src.migration_status() not in ("completed", "failed", "cancelled"):
            check(time.monotonic() - t0 < 300, "postcopy did not end: %s"
                  % src.hmp("info migrate"))
            time.sleep(0.2)
        early = "ESPT-DONE" in dst.text()
        info_src = src.hmp("info migrate")
        check(src.migration_status() == "completed", "postcopy failed:\n%s\n%s"
              % (info_src, dst.stderr()))
        check("postcopy" in info_src.lower(), "no postcopy in:\n%s" % info_src)
        dst.wait("reboot: Power down", timeout=300)
        on = dst.espt()
        # The source stopped at the switch: its console ends where the
        # destination's begins.
        text = joined(src.text(), dst.text())
    finally:
        src.quit()
        dst.quit()
    return on, text, early


@test("espt/background-snapshot")
def _():
    """A background snapshot taken while the guest writes through the
    shadow tables, then loaded into a new espt=on QEMU: the snapshot is the
    guest at one point in time, so the loaded guest computes what an
    unmigrated espt=off guest does; so does the source, which ran on."""
    want = reference()
    img = os.path.join(WORK, "background.snap")
    src = Live("bgsnap-src", ON_ALL)
    try:
        writing(src)
        out = src.hmp("migrate_set_capability background-snapshot on")
        if "not supported" in out.lower() or "error" in out.lower():
            raise Skip("background snapshots unsupported on this host: %s" % out.strip())
        # The snapshot is the guest at the point 'stop' paused it: the
        # migration thread saves the device state and starts write
        # tracking (ESPT's inhibit) with the guest still paused, and
        # resumes only what was running.  Resumed once tracking runs,
        # the guest writes through softmmu while RAM is saved (at the
        # default 128 MiB/s cap).
        inhibits0 = src.espt().get("inhibits", 0)
        cut = stop_and_cut(src)
        src.hmp('migrate -d "exec:cat > %s"' % img)
        t0 = time.monotonic()
        while (src.espt().get("inhibits", 0) == inhibits0 and
               src.migration_status() not in ("completed", "failed", "cancelled")):
            check(time.monotonic() - t0 < 120, "write tracking did not start: %s"
                  % src.hmp("info migrate"))
            time.sleep(0.05)
        out = src.hmp("cont")
        check(not out.strip(), "cont during the snapshot: %s" % out)
        ran_during = (src.migration_status() == "active" and
                      "running" in src.hmp("info status"))
        while src.migration_status() not in ("completed", "failed", "cancelled"):
            check(time.monotonic() - t0 < 300, "snapshot did not end")
            time.sleep(0.2)
        if src.migration_status() != "completed" and re.search(
                r"uffd|userfault|write.tracking", src.stderr(), re.I):
            raise Skip("this host cannot write-protect guest RAM with userfaultfd: %s"
                       % src.stderr()[-300:])
        check(src.migration_status() == "completed", "background snapshot failed:\n%s\n%s"
              % (src.hmp("info migrate"), src.stderr()))
        during = src.espt()
        src.wait("reboot: Power down", timeout=300)
        after = src.espt()
        src_text = src.text()
    finally:
        src.quit()
    got, r = results_of(src_text)
    check(r.ok and got == want, "source after the snapshot:\n  want %s\n  got  %s"
          % (want, got))
    dst = Live("bgsnap-dst", ON_ALL + ["-incoming", "exec:cat " + img])
    try:
        # The snapshot's guest was paused (stop_and_cut()): loaded, it
        # stays paused until told to go on.
        dst.wait("the snapshot loaded", timeout=120,
                 pred=lambda: dst.hmp("info status").strip() == "VM status: paused")
        out = dst.hmp("cont")
        check(not out.strip(), "cont after loading the snapshot: %s" % out)
        dst.wait("reboot: Power down", timeout=300)
        on = dst.espt()
        text = joined(cut, dst.text())
    finally:
        dst.quit()
        os.unlink(img)
    got, r = results_of(text)
    check(r.ok and got == want, "guest loaded from the snapshot:\n  want %s\n  got  %s\n%s"
          % (want, got, text[-1000:]))
    check(on["on"] and on.get("maps", 0) > 100, "loaded guest without ESPT: %r" % on)
    check(during.get("inhibits", 0) >= 1 and after.get("maps", 0) > during.get("maps", 0),
          "ESPT not paused during the snapshot, or not resumed: %r / %r" % (during, after))
    print("    snapshot inhibits %d; source maps %d -> %d, %s while RAM was saved;"
          " loaded guest maps %d"
          % (during["inhibits"], during["maps"], after["maps"],
             "ran" if ran_during else "did not run", on["maps"]),
          flush=True)


@test("espt/savevm-loadvm")
def _():
    savevm_loadvm("armmp")


@test("a64/savevm-loadvm")
def _():
    """The same with qemu-system-aarch64 and the arm64 guest."""
    if not have_a64():
        raise Skip("this base builds no qemu-system-aarch64 (AArch32 only)")
    savevm_loadvm("arm64")


def savevm_loadvm(flavour):
    """savevm to a qcow2 disk while the guest writes through the shadow
    tables, the guest runs to its end, loadvm takes it back: it runs the
    rest again and computes the same, both times, as espt=off."""
    if not shutil.which("qemu-img"):
        raise Skip("qemu-img not installed (scripts/install-deps.sh installs qemu-utils)")
    want = reference(flavour)
    disk = os.path.join(WORK, "vmstate.qcow2")
    os.makedirs(WORK, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    q = Live("savevm-" + flavour,
             ON_ALL + ["-drive", "if=none,id=d0,format=qcow2,file=" + disk],
             reboot=True, flavour=flavour)
    try:
        writing(q)
        cut = stop_and_cut(q)
        out = q.hmp("savevm s1")
        check(not out.strip(), "savevm: %s" % out)
        check("s1" in q.hmp("info snapshots"), "no snapshot s1")
        out = q.hmp("cont")
        check(not out.strip(), "cont after savevm: %s" % out)
        q.wait("reboot: Power down")
        first = q.text()
        before = q.espt()
        # The guest powered off (-no-shutdown): QEMU wants a reset before
        # it runs again; loadvm then replaces the reset state.
        q.hmp("system_reset")
        q.wait("reset", timeout=30, pred=lambda: "shutdown" not in q.hmp("info status"))
        out = q.hmp("loadvm s1")
        check(not out.strip(), "loadvm: %s" % out)
        out = q.hmp("cont")
        check(not out.strip(), "cont after loadvm: %s" % out)
        q.wait("second power-down", pred=lambda: q.text().count("reboot: Power down") >= 2)
        second = joined(cut, q.text()[len(first):])
        after = q.espt()
    finally:
        q.quit()
        os.unlink(disk)
    for name, text in (("first run", first), ("after loadvm", second)):
        got, r = results_of(text)
        check(r.ok and got == want, "%s:\n  want %s\n  got  %s\n%s"
              % (name, want, got, text[-800:]))
    check(after.get("maps", 0) > before.get("maps", 0) + 100,
          "ESPT unused after loadvm: %r -> %r" % (before, after))
    print("    savevm/loadvm: maps %d before loadvm, %d after" % (before["maps"], after["maps"]),
          flush=True)
