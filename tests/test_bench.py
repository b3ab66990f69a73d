# The benchmark suite still works (tiny configuration), and it refuses a
# fast wrong answer.  Timings are never checked.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import subprocess
import sys

from harness import test, check
from guest import ROOT, BUILD, have_a64, kernel_path

OUT = os.path.join(BUILD, "tests", "bench-tiny")


def bench(args, env=None):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bench.py"), "--tiny",
                        "-r", "1", "-o", OUT] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, **(env or {})), timeout=1200)
    return p.returncode, p.stdout.decode()


@test("bench/tiny")
def _():
    """One short workload per group (+ boot time), every available mode
    and guest ISA (arm64 where the base has qemu-system-aarch64): JSON,
    table and PNG are written, and the compute workload's output is
    identical in the guest and under user mode, per ISA."""
    rc, out = bench(["-w", "bzip2,pipe,boot"])
    check(rc == 0, "bench failed:\n" + out[-3000:])
    with open(os.path.join(OUT, "results.json")) as f:
        res = json.load(f)
    modes = res["meta"]["modes"]
    check("softmmu" in modes and "user" in modes, "modes %r" % modes)
    check(("espt" in modes) == ("kespt" in modes),
          "the kernel table's mode (kespt) is not run beside espt: %r" % modes)
    runs = res["runs"]
    for n in ("bzip2", "pipe", "boot"):
        sel = [r for r in runs if r["workload"] == n and r["mode"] != "user"]
        check(sel and all(r["ok"] and r["guest_s"] for r in sel), "%s: %r" % (n, sel))
    isas = ["armhf"] + (["arm64"] if have_a64() else [])
    check(sorted({r.get("isa", "armhf") for r in runs}) == sorted(isas),
          "guest ISAs run: %r, expected %r" % ({r.get("isa") for r in runs}, isas))
    for isa in isas:
        bz = [r for r in runs if r["workload"] == "bzip2" and r.get("isa", "armhf") == isa]
        # kespt (espt-kernel=on) is AArch32 only: it runs on armhf.
        want = set(modes) - ({"kespt"} if isa != "armhf" else set())
        check({r["mode"] for r in bz} == want,
              "%s: bzip2 did not run in every mode: %r" % (isa, bz))
        check(len({r["checksum"] for r in bz}) == 1 and bz[0]["checksum"],
              "%s: bzip2 checksums differ: %r" % (isa, [(r["mode"], r["checksum"]) for r in bz]))
    # Each arm64 kernel built ran, in its own table.
    a64_kernels = [k for k in ("arm64", "arm64-va39")
                   if have_a64() and os.path.exists(kernel_path(k))]
    for k in a64_kernels:
        bz = [r for r in runs if r["workload"] == "bzip2" and r.get("kernel") == k]
        check(bz and all(r["ok"] for r in bz), "bzip2 on the %s kernel: %r" % (k, bz))
    check(sorted({r.get("kernel") for r in res["summary"] if r["isa"] == "arm64"})
          == sorted(a64_kernels), "arm64 tables: %r" % res["summary"])
    check(not [r for r in runs if r["workload"] == "pipe" and r["mode"] == "user"],
          "the two-process pipe workload ran in user mode")
    md = open(os.path.join(OUT, "table.md")).read()
    check("| bzip2 | compute |" in md and "geomean compute" in md, "table.md:\n" + md)
    for png in ["bench.png"] + ["bench-%s.png" % k for k in a64_kernels]:
        with open(os.path.join(OUT, png), "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % png)


@test("bench/catches-mismatch")
def _():
    """A workload whose output differs between modes fails the run."""
    rc, out = bench(["-w", "bzip2", "-m", "softmmu,user"],
                    env={"ESPT_BENCH_INJECT_MISMATCH": "bzip2"})
    check(rc != 0, "bench accepted differing checksums:\n" + out[-2000:])
    check("bzip2: output checksum differs" in out, "no mismatch reported:\n" + out[-2000:])
