#!/usr/bin/env python3
# qemu-espt benchmarks: the same Debian armhf binaries and inputs under
#   softmmu  qemu-system-arm (espt=off when the build has ESPT)
#   espt     qemu-system-arm -accel tcg,espt=on (when the build has it)
#   user     qemu-arm user mode, no software MMU at all: the ceiling
# interleaved (rep 1: softmmu, espt, user; rep 2: ...), repeated, and
# reported as medians of guest-measured time plus host CPU time.  With
# --bases (make bench: all of them) every mode runs on each upstream base
# (7.2, 10.0) side by side in the same run, interleaved too.
#
# The same workloads also run on the arm64 guest (--isa, default every ISA
# the bases under test have: arm64 on 10.0): Debian arm64 binaries under
# qemu-system-aarch64 -M virt -cpu cortex-a57 (Debian's arm64 kernel,
# 48-bit VA), softmmu and ESPT, and qemu-aarch64 -cpu cortex-a57, reported
# in a section of their own.
#
# A benchmark, not a test: it never fails on timing.  It does fail when a
# workload fails or when a workload's output checksum differs between
# runs or modes (a fast wrong answer is a failure).
#
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import guest  # noqa: E402
import workloads as wl  # noqa: E402

BENCH = os.path.join(guest.BUILD, "bench")
ROOTFS = os.path.join(BENCH, "rootfs")
IMAGE = os.path.join(BENCH, "bench.cpio")
# Per guest ISA: its image and rootfs (built by tests/bench/build.sh
# [--arch=arm64]), the kernel flavours it boots, the CPU of both modes.
ISAS = ("armhf", "arm64")
ISA = {
    "armhf": {"rootfs": ROOTFS, "image": IMAGE, "cpu": guest.CPU, "label": "armhf",
              "system": "qemu-system-arm", "user": "qemu-arm", "build": "tests/bench/build.sh"},
    "arm64": {"rootfs": os.path.join(BENCH, "arm64", "rootfs"),
              "image": os.path.join(BENCH, "arm64", "bench.cpio"), "cpu": guest.CPU_A64,
              "label": "arm64", "kernels": ["arm64", "arm64-va39"],
              "system": "qemu-system-aarch64", "user": "qemu-aarch64",
              "build": "tests/bench/build.sh --arch=arm64"},
}
# The arm64 kernels, each a table of its own: Debian's (48-bit VA) and
# ours from Debian's source (39-bit VA, Android's layout).
KERNEL_LABEL = {"arm64": "arm64, 48-bit VA kernel", "arm64-va39": "arm64, 39-bit VA kernel"}
KERNEL_DESC = {"arm64": "Debian's arm64 kernel, 4 KiB pages, 48-bit VA",
               "arm64-va39": "Debian's arm64 kernel source built with 39-bit VA "
                             "(tests/guest/kernel-va39.sh), 4 KiB pages"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
MODES = ("softmmu", "espt", "user")
# Only when asked for (-m): ESPT without chained jumps across pages, and
# kernel ESPT without the kernel table's jump cache (knojump) or without
# guarded kernel TBs (knoguard).  The
# default adds kespt, ESPT serving the guest kernel too (espt-kernel=on,
# armhf only).
EXTRA_MODES = ("nochain", "kespt", "knojump", "knoguard")
ESPT_MODES = ("espt", "nochain", "kespt", "knojump", "knoguard")
KERNEL_MODES = ("kespt", "knojump", "knoguard")
KNOWN_BASES = ("7.2", "10.0")


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return
    except ImportError:
        pass
    sysp = "/usr/bin/python3"
    if os.path.exists(sysp) and os.path.realpath(sys.executable) != os.path.realpath(sysp) \
            and not os.environ.get("ESPT_BENCH_REEXEC"):
        os.environ["ESPT_BENCH_REEXEC"] = "1"
        os.execv(sysp, [sysp] + sys.argv)
    sys.exit("error: matplotlib is missing (Debian package python3-matplotlib; "
             "scripts/install-deps.sh installs it)")


def has_espt(qemu):
    """Does this qemu-system-arm know -accel tcg,espt=?  An unknown
    property and a bad value for a known one fail differently."""
    p = subprocess.run([qemu, "-M", "none", "-display", "none",
                        "-accel", "tcg,espt=probe"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=60)
    return b"espt" in p.stdout and b"not found" not in p.stdout


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------------
# System mode: one boot runs every selected workload.
# ---------------------------------------------------------------------
def accel_args(b, mode, isa="armhf"):
    if mode == "espt":
        return ["-accel", "tcg,espt=on"]
    if mode == "nochain":
        return ["-accel", "tcg,espt=on,espt-chain=off"]
    if mode == "kespt":
        return ["-accel", "tcg,espt=on,espt-kernel=on"]
    if mode == "knojump":
        return ["-accel", "tcg,espt=on,espt-kernel=on,x-espt-kernel-jumps=off"]
    if mode == "knoguard":
        return ["-accel", "tcg,espt=on,espt-kernel=on,x-espt-kernel-guard=off"]
    return ["-accel", "tcg,espt=off"] if bins(b, isa)["espt"] else []


def run_system(b, mode, kernel, smp, names, scale, log, progress, isa="armhf"):
    extra = accel_args(b, mode, isa)
    tests = [n if scale == "full" else n + "-tiny" for n in names]
    cpu = {}

    def on_line(line, pid):
        m = re.match(r"ESPT-(BEGIN|RESULT) (\S+)", line)
        if m:
            cpu.setdefault(m.group(2), {})[m.group(1)] = cpu_seconds(pid)
            if m.group(1) == "RESULT":
                f = line.split()
                progress(m.group(2).replace("-tiny", ""),
                         ("ok %ss" % f[4][5:]) if f[2] == "PASS" else "FAIL")

    r = guest.boot(kernel, tests=tests, smp=smp, mem=1024, initrd=ISA[isa]["image"],
                   extra_qemu=extra, log_path=log, on_line=on_line, qemu=bins(b, isa)["qemu"],
                   cpu=ISA[isa]["cpu"],
                   timeout=120 + 90 * len(tests),
                   hmp=["info espt"] if mode in ESPT_MODES else ())
    out = {}
    for n, t in zip(names, tests):
        res = r.results.get(t)
        text = r.output(t)
        tm = re.search(r"^BENCH-TIME ([\d.]+)", text, re.M)
        cs = re.search(r"^BENCH-SUM ([0-9a-f]+)", text, re.M)
        # /proc/stat counts in USER_HZ (100 on Linux/arm and arm64) ticks
        sp = re.search(r"^BENCH-CPU user=(\d+) sys=(\d+)", text, re.M)
        ev = re.search(r"^BENCH-EVENTS irqs=(\d+) ctxsw=(\d+) pgfaults=(\d+)", text, re.M)
        c = cpu.get(t, {})
        host = (c["RESULT"] - c["BEGIN"]) if c.get("RESULT") is not None \
            and c.get("BEGIN") is not None else None
        ok = bool(res and res[0] == "PASS" and tm and cs)
        out[n] = {"ok": ok, "guest_s": float(tm.group(1)) if tm else None,
                  "host_cpu_s": host, "checksum": cs.group(1) if cs else None,
                  "guest_user_s": int(sp.group(1)) / 100 if sp else None,
                  "guest_sys_s": int(sp.group(2)) / 100 if sp else None,
                  "guest_events": {"irqs": int(ev.group(1)), "ctxsw": int(ev.group(2)),
                                   "pgfaults": int(ev.group(3))} if ev else None,
                  "error": None if ok else ("; ".join(r.problems) or "no result")}
    return out, r


def run_boot_time(b, mode, kernel, smp, log, isa="armhf"):
    extra = accel_args(b, mode, isa)
    seen = {}

    def on_line(line, pid):
        if line.startswith("ESPT-INIT") and "t" not in seen:
            seen["t"] = time.monotonic()
            seen["cpu"] = cpu_seconds(pid)

    t0 = time.monotonic()
    r = guest.boot(kernel, tests=(), smp=smp, mem=1024, extra_qemu=extra,
                   log_path=log, on_line=on_line, timeout=300, qemu=bins(b, isa)["qemu"],
                   cpu=ISA[isa]["cpu"])
    return {"ok": r.ok, "guest_s": r.init_uptime,
            "host_cpu_s": seen.get("cpu"), "wall_s": (seen["t"] - t0) if "t" in seen else None,
            "checksum": "boot", "error": None if r.ok else "; ".join(r.problems)}


# ---------------------------------------------------------------------
# User mode: the same steps, each one qemu-arm (qemu-aarch64) process.
# ---------------------------------------------------------------------
def drive(cmd, script, env, cwd, rootfs=ROOTFS):
    """Host-side twin of tests/bench/progs/drive.c."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    out = []
    with open(rootfs + script) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("send "):
                p.stdin.write(line[5:].encode() + b"\n")
                p.stdin.flush()
            elif line.startswith("wait "):
                want = line[5:].encode()
                while True:
                    ln = p.stdout.readline()
                    if not ln:
                        raise RuntimeError("program ended before %r" % want)
                    out.append(ln)
                    if want in ln:
                        break
    p.stdin.close()
    out.append(p.stdout.read())
    return p.wait(), b"".join(out)


def run_user(b, w, log, isa="armhf"):
    rootfs = ISA[isa]["rootfs"]
    qemu = [bins(b, isa)["user"], "-cpu", ISA[isa]["cpu"], "-L", rootfs]
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix="espt-bench-", dir=shm)
    env = {"HOME": d, "LANG": "C", "LC_ALL": "C", "PATH": "/usr/bin:/bin:/usr/games"}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    err = None
    try:
        for i, st in enumerate(w.steps, 1):
            cmd = qemu + [rootfs + st.argv[0]] + st.argv[1:]
            if st.drive:
                cmd = qemu + [rootfs + st.argv[2]] + st.argv[3:]
                rc, data = drive(cmd, st.drive, env, d, rootfs)
            else:
                stdin = open(rootfs + st.stdin, "rb") if st.stdin else subprocess.DEVNULL
                p = subprocess.run(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, cwd=d)
                rc, data = p.returncode, p.stdout
                if rc:
                    with open(log, "ab") as f:
                        f.write(b"%s\n%s\n" % (" ".join(cmd).encode(), p.stderr))
            if rc:
                err = "step %d exited %d" % (i, rc)
                break
            if st.stdout:
                if st.keep:
                    rx = re.compile(st.keep.encode())
                    data = b"".join(ln for ln in data.splitlines(True)
                                    if rx.search(ln.rstrip(b"\n")))
                with open(os.path.join(d, "out.%02d" % i), "wb") as f:
                    f.write(data)
        elapsed = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        h = hashlib.md5()
        for n in sorted(x for x in os.listdir(d) if x.startswith("out.")):
            with open(os.path.join(d, n), "rb") as f:
                h.update(f.read())
        if os.environ.get("ESPT_BENCH_INJECT_MISMATCH") == w.name:
            h.update(b"injected")        # test hook: prove mismatches are caught
    except Exception as e:  # a crashed step is a failed workload, not a crash of ours
        err, elapsed, r1, h = str(e), None, r0, None
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {"ok": err is None, "guest_s": elapsed,
            "host_cpu_s": (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime),
            "checksum": h.hexdigest() if h and err is None else None, "error": err}


# ---------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------
def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x, unit=""):
    return "-" if x is None else ("%.2f%s" % (x, unit))


def col(b, m, bases):
    """A column: the mode, named with its base when there are several."""
    return m if len(bases) == 1 else "%s %s" % (m, b)


def ratios(bases):
    """(key, label, numerator column, denominator column) of the ratio
    columns: per base ESPT's speedup and distance to user mode, and across
    bases each mode's time on the newer base over the older one."""
    out = []
    for b in bases:
        sfx = "" if len(bases) == 1 else "_" + b
        lab = "" if len(bases) == 1 else " (%s)" % b
        out += [("espt_speedup" + sfx, "ESPT speedup" + lab, col(b, "softmmu", bases),
                 col(b, "espt", bases)),
                ("espt_over_user" + sfx, "ESPT / user" + lab, col(b, "espt", bases),
                 col(b, "user", bases)),
                ("softmmu_over_user" + sfx, "softmmu / user" + lab, col(b, "softmmu", bases),
                 col(b, "user", bases)),
                ("chain_gain" + sfx, "chaining gain" + lab, col(b, "nochain", bases),
                 col(b, "espt", bases)),
                ("kernel_speedup" + sfx, "kernel ESPT speedup" + lab,
                 col(b, "softmmu", bases), col(b, "kespt", bases)),
                ("kernel_gain" + sfx, "kernel ESPT gain" + lab, col(b, "espt", bases),
                 col(b, "kespt", bases)),
                ("kernel_jump_gain" + sfx, "kernel jumps gain" + lab,
                 col(b, "knojump", bases), col(b, "kespt", bases)),
                ("kernel_guard_gain" + sfx, "guarded kernel TBs gain" + lab,
                 col(b, "knoguard", bases), col(b, "kespt", bases))]
    for old, new in zip(bases, bases[1:]):
        for m in MODES:
            out.append(("%s_%s_over_%s" % (m, new, old), "%s %s / %s" % (m, new, old),
                        col(new, m, bases), col(old, m, bases)))
    return out


def summarize(runs, names, cols, bases, isa="armhf", kernel=None):
    """Medians per workload and column; with @kernel, of the system-mode
    runs on that kernel only (user mode runs no kernel: shared)."""
    rows = []
    for n in names:
        row = {"workload": n, "group": GROUPS[n], "isa": isa}
        if kernel:
            row["kernel"] = kernel
        for c, b, m in cols:
            sel = [r for r in runs if r["workload"] == n and r["mode"] == m and
                   r["base"] == b and r["isa"] == isa and r["ok"] and
                   (kernel is None or m == "user" or r["kernel"] == kernel)]
            row[c] = median([r["guest_s"] for r in sel])
            row[c + "_cpu"] = median([r["host_cpu_s"] for r in sel])
        for key, _, num, den in ratios(bases):
            x, y = row.get(num), row.get(den)
            row[key] = x / y if x and y else None
        rows.append(row)
    return rows


def table(rows, cols, bases):
    names = [c for c, _, _ in cols]
    rat = [r for r in ratios(bases) if any(row.get(r[0]) for row in rows)]
    hdr = ["workload", "group"] + ["%s (s)" % c for c in names] + \
          [label for _, label, _, _ in rat] + ["%s CPU (s)" % c for c in names]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]

    def line(cells):
        lines.append("| " + " | ".join(cells) + " |")

    for r in rows:
        line([r["workload"], r["group"]] + [fmt(r.get(c)) for c in names] +
             [fmt(r[k], "x") for k, _, _, _ in rat] +
             [fmt(r.get(c + "_cpu")) for c in names])
    for g in ("compute", "wider", "kernel"):
        sel = [r for r in rows if r["group"] == g and r["workload"] != "boot"]
        if not sel:
            continue
        line(["**geomean %s**" % g, g] + [fmt(geomean([r.get(c) for r in sel])) for c in names] +
             [fmt(geomean([r[k] for r in sel]), "x") for k, _, _, _ in rat] +
             ["" for _ in names])
    return "\n".join(lines) + "\n"


def plot(rows, cols, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["workload"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(names) * max(1, len(cols) / 3) + 2), 4.8))
    width = 0.8 / len(cols)
    colors = {"softmmu": "#c0504d", "espt": "#4f81bd", "user": "#9bbb59",
              "nochain": "#8064a2", "kespt": "#f79646", "knojump": "#4bacc6",
              "knoguard": "#9bbb59"}
    ref = cols[0][0]           # the first base's softmmu (or first column)
    for i, (c, b, m) in enumerate(cols):
        ys = [(r.get(c) / r[ref]) if r.get(c) and r.get(ref) else 0 for r in rows]
        ax.bar([x + (i - (len(cols) - 1) / 2) * width for x in range(len(rows))], ys,
               width, label=c, color=colors.get(m),
               alpha=1.0 if b == cols[-1][1] else 0.55)
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("guest time relative to %s (lower is faster)" % ref)
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


GROUPS = {}
BINS = {}           # base -> its binaries and whether it has ESPT; "a64": its AArch64 ones


def bins(b, isa):
    """Base b's binaries (qemu, user, espt) for guest ISA isa."""
    return BINS[b] if isa == "armhf" else BINS[b]["a64"]


def base_bins(bases):
    """The binaries of each base: the base under test (QEMU_ESPT_BASE,
    else the selected one) as the tests see it, the others in build/B/obj.
    The AArch64 ones (qemu-system-aarch64, qemu-aarch64) only where the
    base builds them (10.0); BINS[b]["a64"] is None elsewhere."""
    for b in bases:
        here = b == (guest.tested_base())
        obj = os.path.join(guest.BUILD, b, "obj")
        BINS[b] = {"qemu": guest.QEMU if here else os.path.join(obj, "qemu-system-arm"),
                   "user": guest.QEMU_USER if here else os.path.join(obj, "qemu-arm")}
        for k in ("qemu", "user"):
            if not os.path.exists(BINS[b][k]):
                sys.exit("error: %s is missing: run 'make build-%s' first"
                         % (os.path.relpath(BINS[b][k], ROOT), b))
        BINS[b]["espt"] = has_espt(BINS[b]["qemu"])
        BINS[b]["version"] = subprocess.run([BINS[b]["qemu"], "--version"],
                                            stdout=subprocess.PIPE).stdout.decode().split("\n")[0]
        a64 = {"qemu": guest.QEMU_A64 if here else os.path.join(obj, "qemu-system-aarch64"),
               "user": guest.QEMU_USER_A64 if here else os.path.join(obj, "qemu-aarch64")}
        BINS[b]["a64"] = None
        if os.path.exists(a64["qemu"]):
            if not os.path.exists(a64["user"]):
                sys.exit("error: %s is missing: run 'make build-%s' first"
                         % (os.path.relpath(a64["user"], ROOT), b))
            a64["espt"] = has_espt(a64["qemu"])
            BINS[b]["a64"] = a64


def main():
    all_w = wl.workloads("full")
    ap = argparse.ArgumentParser(
        description="Run the benchmark suite: softmmu vs ESPT vs qemu-arm user mode "
                    "(and on arm64: qemu-system-aarch64 vs qemu-aarch64).")
    ap.add_argument("-w", "--workloads", default="all",
                    help="comma-separated workloads, 'compute', 'wider', 'kernel' or 'all' "
                         "(known: %s, boot)" % ",".join(w.name for w in all_w))
    ap.add_argument("-r", "--repeats", type=int, default=3)
    ap.add_argument("-k", "--kernels", default="armmp",
                    help="armhf kernels: armmp,armmp-lpae")
    ap.add_argument("--a64-kernels", default="auto",
                    help="arm64 kernels, each in its own table: arm64 (48-bit VA), "
                         "arm64-va39 (39-bit VA; 'make guest-va39'); default: those built")
    ap.add_argument("--isa", default="all", choices=ISAS + ("all",),
                    help="guest ISA(s): armhf, arm64 or all (default: all, every ISA the "
                         "bases run: arm64 on those with qemu-system-aarch64, 10.0)")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("-m", "--modes", default="auto",
                    help="comma-separated modes among softmmu,espt,kespt,user (default: all "
                         "available; kespt is ESPT with espt-kernel=on, armhf only), "
                         "and nochain: ESPT with espt-chain=off, for what chaining adds, "
                         "and knojump: kespt with x-espt-kernel-jumps=off, for what "
                         "the kernel table's jump cache adds, and knoguard: kespt with "
                         "x-espt-kernel-guard=off, for what guarded kernel TBs add")
    ap.add_argument("--tiny", action="store_true",
                    help="tiny inputs (the make check configuration)")
    ap.add_argument("-b", "--bases", default="",
                    help="comma-separated upstream bases (7.2,10.0) or 'all', each built "
                         "(make build-B); default: the base under test only")
    ap.add_argument("-o", "--out", default=BENCH, help="report directory (default build/bench)")
    args = ap.parse_args()
    need_matplotlib()

    scale = "tiny" if args.tiny else "full"
    for w in all_w:
        GROUPS[w.name] = w.group
    GROUPS["boot"] = "kernel"
    if args.workloads == "all":
        names = [w.name for w in all_w] + ["boot"]
    elif args.workloads in ("compute", "wider", "kernel"):
        names = [w.name for w in all_w if w.group == args.workloads]
        if args.workloads == "kernel":
            names.append("boot")
    else:
        names = args.workloads.split(",")
    bad = [n for n in names if n not in GROUPS]
    if bad:
        ap.error("unknown workload(s): %s" % ",".join(bad))
    kernels = args.kernels.split(",")
    for k in kernels:
        if k not in guest.KERNELS:
            ap.error("unknown kernel %s (armmp, armmp-lpae)" % k)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    if not args.bases:
        bases = [guest.tested_base()]
    elif args.bases == "all":
        bases = list(KNOWN_BASES)
    else:
        bases = args.bases.split(",")
        for b in bases:
            if b not in KNOWN_BASES:
                ap.error("unknown base %s (%s)" % (b, ", ".join(KNOWN_BASES)))
    if args.isa != "arm64" and not os.path.exists(IMAGE):
        sys.exit("error: %s is missing: run 'make bench-image' first" % os.path.relpath(IMAGE, ROOT))
    base_bins(bases)
    # The ISAs of this run, each with the bases that run it.
    isa_bases = {}
    if args.isa in ("armhf", "all"):
        isa_bases["armhf"] = bases
    no_a64 = [b for b in bases if not BINS[b]["a64"]]
    if args.isa in ("arm64", "all") and len(no_a64) < len(bases):
        isa_bases["arm64"] = [b for b in bases if BINS[b]["a64"]]
    elif args.isa == "arm64":
        sys.exit("error: no base of this run (%s) builds qemu-system-aarch64 (10.0 does)"
                 % ", ".join(bases))
    isas = list(isa_bases)
    if args.a64_kernels == "auto":
        a64_kernels = [k for k in ISA["arm64"]["kernels"]
                       if os.path.exists(guest.kernel_path(k))]
    else:
        a64_kernels = args.a64_kernels.split(",")
        for k in a64_kernels:
            if k not in ISA["arm64"]["kernels"]:
                ap.error("unknown arm64 kernel %s (%s)" % (k, ", ".join(ISA["arm64"]["kernels"])))
            if not os.path.exists(guest.kernel_path(k)):
                sys.exit("error: no %s kernel: run 'make guest%s'"
                         % (k, "-va39" if k == "arm64-va39" else ""))
    isa_kernels = {"armhf": kernels, "arm64": a64_kernels or ["arm64"]}
    # The tables: armhf's kernels together (as before), arm64's each alone.
    tables = [(isa, None) if isa == "armhf" else (isa, k)
              for isa in isas for k in (isa_kernels[isa] if isa != "armhf" else [None])]
    avail = {isa: {w.name: w for w in wl.workloads(scale, isa)} for isa in isas}
    for isa in isas:
        image = ISA[isa]["image"]
        if not os.path.exists(image):
            sys.exit("error: %s is missing: run 'make bench-image' (or %s) first%s"
                     % (os.path.relpath(image, ROOT), ISA[isa]["build"],
                        "" if args.isa != "all" else ", or pass --isa=armhf"))
        # The guest runs the scripts baked into the image; user mode runs
        # the definitions directly.  They must agree.
        for w in wl.workloads(scale, isa):
            script = os.path.join(ISA[isa]["rootfs"], "tests",
                                  w.name if scale == "full" else w.name + "-tiny")
            try:
                same = open(script).read() == wl.guest_script(w)
            except OSError:
                same = False
            if not same:
                sys.exit("error: the %s benchmark image is older than tests/bench/workloads.py "
                         "(%s): run 'make bench-image'" % (isa, w.name))
    espt_of = {isa: any(bins(b, isa)["espt"] for b in bs) for isa, bs in isa_bases.items()}
    espt_any = any(espt_of.values())
    if args.modes == "auto":
        # kespt too, so that one run gives the guest kernel's figures
        # with kernel ESPT on and off (armhf only).
        modes = [m for m in MODES + ("kespt",) if m not in ESPT_MODES or espt_any]
    else:
        modes = args.modes.split(",")
        for m in modes:
            if m not in MODES + EXTRA_MODES:
                ap.error("unknown mode %s" % m)
        for isa, bs in isa_bases.items():
            for b in bs:
                if set(modes) & set(ESPT_MODES) and not bins(b, isa)["espt"]:
                    sys.exit("error: %s has no ESPT (-accel tcg,espt=on)"
                             % os.path.relpath(bins(b, isa)["qemu"], ROOT))
    # Columns of each ISA: (name, base, mode), the modes of each base in
    # turn; named with the base when that ISA runs on several.
    isa_cols = {isa: [(col(b, m, bs), b, m) for b in bs for m in modes
                      if (m not in ESPT_MODES or bins(b, isa)["espt"])
                      and (m not in KERNEL_MODES or isa == "armhf")]
                for isa, bs in isa_bases.items()}

    os.makedirs(args.out, exist_ok=True)
    logs = os.path.join(args.out, "logs")
    os.makedirs(logs, exist_ok=True)
    version = "; ".join(BINS[b]["version"] for b in bases)
    sys_names = [n for n in names if n != "boot"]
    user_names = {isa: [n for n in sys_names if avail[isa][n].user] for isa in isas}
    print("qemu-espt benchmarks: %s" % version)
    print("  workloads: %s" % ", ".join(names))
    if "armhf" in isa_cols:
        print("  modes: %s%s; kernels: %s; -smp %d; %d repeat(s), interleaved"
              % (", ".join(c for c, _, _ in isa_cols["armhf"]),
                 "" if espt_of["armhf"] else " (this build has no ESPT)",
                 ", ".join(kernels), args.smp, args.repeats))
    if "arm64" in isa_cols:
        print("  %s: modes: %s%s; kernels: %s; -cpu %s%s%s"
              % (ISA["arm64"]["label"], ", ".join(c for c, _, _ in isa_cols["arm64"]),
                 "" if espt_of["arm64"] else " (this build has no ESPT)",
                 ", ".join(isa_kernels["arm64"]), ISA["arm64"]["cpu"],
                 "" if "armhf" in isa_cols else "; -smp %d; %d repeat(s), interleaved"
                 % (args.smp, args.repeats),
                 "; not on %s (no qemu-system-aarch64)" % ", ".join(no_a64) if no_a64 else ""))
    sys.stdout.flush()

    runs = []
    counters = []       # 'info espt' after each ESPT boot
    t_start = time.monotonic()
    for rep in range(1, args.repeats + 1):
        for isa in isas:
            for cname, b, mode in isa_cols[isa]:
                for kernel in (isa_kernels[isa] if mode != "user" else ["-"]):
                    # arm64's first kernel is named arm64: it names the ISA too
                    tag = "rep %d/%d %s%s" % (rep, args.repeats, cname,
                                              (" " + kernel) if mode != "user" else
                                              ("" if isa == "armhf" else " " + isa))

                    def progress(n, status, tag=tag):
                        print("  [%5.0fs] %-28s %-10s %s" % (time.monotonic() - t_start, tag, n,
                                                            status), flush=True)

                    base = {"rep": rep, "mode": mode, "base": b, "kernel": kernel,
                            "smp": args.smp, "isa": isa}
                    if mode == "user":
                        for n in user_names[isa]:
                            res = run_user(b, avail[isa][n],
                                           os.path.join(logs, "user-%s-%s.log" % (
                                               b if isa == "armhf" else b + "-" + isa, n)), isa)
                            progress(n, "ok %.2fs" % res["guest_s"] if res["ok"]
                                     else "FAIL " + res["error"])
                            runs.append(dict(base, workload=n, group=GROUPS[n], **res))
                        continue
                    if "boot" in names:
                        res = run_boot_time(b, mode, kernel, args.smp,
                                            os.path.join(logs, "boot-%s-%s-%s-%d.log"
                                                         % (b, mode, kernel, rep)), isa)
                        progress("boot", "ok %.2fs to init" % res["guest_s"] if res["ok"]
                                 else "FAIL")
                        runs.append(dict(base, workload="boot", group="kernel", **res))
                    if sys_names:
                        out, r = run_system(b, mode, kernel, args.smp, sys_names, scale,
                                            os.path.join(logs, "%s-%s-%s-%d.log"
                                                         % (b, mode, kernel, rep)),
                                            progress, isa)
                        for n in sys_names:
                            runs.append(dict(base, workload=n, group=GROUPS[n], **out[n]))
                        if r.hmp:
                            counters.append(dict(base, workloads=sys_names,
                                                 **guest.parse_espt(r.hmp["info espt"])))

    # Verify: every run passed, and each workload's checksum is the same
    # in every run and mode of an ISA (the ISAs' outputs may differ: gcc
    # writes assembly for its own ISA).
    problems = []
    for isa in isas:
        for n in names:
            what = n if isa == "armhf" else "%s (%s)" % (n, isa)
            sel = [r for r in runs if r["workload"] == n and r["isa"] == isa]
            for r in sel:
                if not r["ok"]:
                    problems.append("%s failed in %s %s rep %d: %s"
                                    % (what, r["mode"], r["base"], r["rep"], r["error"]))
            sums = {r["checksum"] for r in sel if r["ok"]}
            if len(sums) > 1:
                detail = ", ".join("%s %s/%d=%s" % (r["mode"], r["base"], r["rep"],
                                                    (r["checksum"] or "")[:8]) for r in sel)
                problems.append("%s: output checksum differs between runs: %s" % (what, detail))

    rows = {(isa, k): summarize(runs, names, isa_cols[isa], isa_bases[isa], isa, k)
            for isa, k in tables}
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "qemu": version,
        "kernels": {k: guest.kernel_version(k) for isa in isas for k in isa_kernels[isa]},
        "host": {"cpu": _cpu_model(), "cores": os.cpu_count(), "kernel": platform.release()},
        "repeats": args.repeats, "smp": args.smp, "modes": modes, "scale": scale,
        "bases": bases, "columns": [c for c, _, _ in isa_cols[isas[0]]],
        "isas": isas, "isa_bases": isa_bases,
        "isa_columns": {isa: [c for c, _, _ in cs] for isa, cs in isa_cols.items()},
        "isa_cpus": {isa: ISA[isa]["cpu"] for isa in isas},
        "isa_kernels": {isa: isa_kernels[isa] for isa in isas},
        "espt_available": espt_any, "seconds": round(time.monotonic() - t_start, 1),
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs, "summary": [r for t in tables for r in rows[t]],
                   "problems": problems, "espt_counters": counters}, f, indent=1)
    md = "# qemu-espt benchmarks\n\n%s  \nHost: %s, %d cores. Kernels: %s.\n" \
         "Guest-measured seconds (median of %d, interleaved); CPU columns are host CPU seconds.\n\n" \
         % (version, meta["host"]["cpu"], meta["host"]["cores"],
            "; ".join("%s (%s)" % kv for kv in meta["kernels"].items()), args.repeats)
    pngs = []
    text = ""
    for isa, kernel in tables:
        cols, bs = isa_cols[isa], isa_bases[isa]
        label = KERNEL_LABEL.get(kernel, ISA[isa]["label"])
        if isa != "armhf":
            md += "## %s\n\n%s -M virt -cpu %s (%s), %s -cpu %s -L %s; the same " \
                  "workloads on Debian arm64 binaries; bases: %s.\n\n" % (
                      label, ISA[isa]["system"], ISA[isa]["cpu"], KERNEL_DESC[kernel],
                      ISA[isa]["user"], ISA[isa]["cpu"],
                      os.path.relpath(ISA[isa]["rootfs"], ROOT), ", ".join(bs))
        elif len(isas) > 1:
            md += "## %s\n\n%s -M virt -cpu %s, %s -cpu %s -L %s.\n\n" % (
                ISA[isa]["label"], ISA[isa]["system"], ISA[isa]["cpu"], ISA[isa]["user"],
                ISA[isa]["cpu"], os.path.relpath(ISA[isa]["rootfs"], ROOT))
        md += table(rows[isa, kernel], cols, bs)
        if not espt_of[isa]:
            md += "\nThis build has no ESPT yet: the espt column is absent.\n"
        mine = [c for c in counters if c["isa"] == isa and (kernel is None or
                                                            c["kernel"] == kernel)]
        if mine:
            c = mine[-1]
            md += "\n`info espt` after the last ESPT boot (all its workloads): " + ", ".join(
                "%s %s" % (k, v) for k, v in c.items()
                if k not in ("rep", "mode", "base", "kernel", "smp", "isa", "workloads", "on")) \
                + "\n"
        if len(tables) > 1:
            md += "\n"
        png = "bench.png" if isa == "armhf" else "bench-%s.png" % kernel
        title = "%s, %s, -smp %d, median of %d, %s" % (
            version.split("(")[0].strip(),
            ",".join(kernels) if isa == "armhf" else "%s, -cpu %s" % (label, ISA[isa]["cpu"]),
            args.smp, args.repeats, meta["date"][:10])
        plot(rows[isa, kernel], cols, os.path.join(args.out, png), title)
        pngs.append(png)
        text += "\n"
        if isa != "armhf" or len(tables) > 1:
            text += "%s:\n" % label
        text += table(rows[isa, kernel], cols, bs)
    if problems:
        md += "\n**Problems:**\n\n" + "".join("- %s\n" % p for p in problems)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(md)

    print(text)
    print("wrote %s/{results.json,table.md,%s} in %.0fs"
          % (os.path.relpath(args.out, ROOT), ",".join(pngs), meta["seconds"]))
    if problems:
        for p in problems:
            print("error: " + p)
        return 1
    return 0


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
