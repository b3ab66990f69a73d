#!/usr/bin/env python3
# The main job: boot the default guest (Debian armmp kernel, our
# initramfs) on ./qemu-system-arm, once with ESPT off and once on, run a
# short workload, check that both computed the same, show both times.
#
#   scripts/demo.py [--kernel armmp|armmp-lpae] [--smp N] [--scale N]
#
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from guest import BUILD, ROOT, QEMU, KERNELS, CPU, boot, kernel_version, parse_espt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Boot the default guest and run a workload.")
    ap.add_argument("--kernel", choices=KERNELS, default="armmp")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--scale", type=int, default=1, help="workload size (default 1)")
    args = ap.parse_args()

    print("qemu-espt demo")
    print("  qemu:    %s" % os.popen(QEMU + " --version").readline().strip())
    print("  kernel:  Debian %s (%s)" % (args.kernel, kernel_version(args.kernel)))
    print("  guest:   -M virt -m 1024 -smp %d, initrd build/guest/initramfs.cpio.gz" % args.smp)
    print("  running: memtest (MMU checks) and workload %d (pointer chase, hash table,"
          " sort, match), once with -accel tcg,espt=off and once with espt=on" % args.scale)
    runs = {}
    for mode in ("off", "on"):
        log = os.path.join(BUILD, "demo", "console-espt-%s.log" % mode)
        sys.stdout.flush()
        r = boot(args.kernel, tests=["memtest", "workload"], smp=args.smp,
                 test_args={"workload": [args.scale]}, log_path=log, timeout=600,
                 extra_qemu=["-accel", "tcg,espt=%s" % mode], hmp=["info espt"])
        runs[mode] = r
        print()
        print("  espt=%s (console log: %s)" % (mode, os.path.relpath(log)))
        if r.init_uptime is not None:
            print("    kernel start to /init: %.2f s (guest clock)" % r.init_uptime)
        for t in ("memtest", "workload"):
            for line in r.output(t).split("\n"):
                if line.startswith(t + ":") and ("digest" in line or "PASS" in line
                                                  or "checksum" in line or "total" in line):
                    print("    " + line)
        if not r.ok:
            print("demo FAILED (espt=%s): %s" % (mode, "; ".join(r.problems)))
            return 1
        if mode == "on" and r.hmp:
            c = parse_espt(r.hmp["info espt"])
            print("    info espt: %d pages mapped, %d faults, %d flushes kept, %d fallbacks"
                  % (c.get("maps", 0), c.get("faults-read", 0) + c.get("faults-write", 0),
                     c.get("flushes-kept", 0), c.get("fallbacks-io", 0)))

    def computed(r):
        """What the guest programs computed, without their timings."""
        out = [ln for ln in r.output("memtest").split("\n") if ln.startswith("memtest:")]
        for ln in r.output("workload").split("\n"):
            m = re.match(r"workload: \S+ +checksum \S+", ln)
            if m:
                out.append(m.group(0))
        return out

    a, b = computed(runs["off"]), computed(runs["on"])
    print()
    if a != b:
        print("demo FAILED: espt=on computed something else than espt=off")
        return 1
    t_off, t_on = runs["off"].results["workload"][2], runs["on"].results["workload"][2]
    print("  same results with espt=off and espt=on")
    print("  workload: %.2f s with espt=off, %.2f s with espt=on: %.2fx"
          % (t_off, t_on, t_off / t_on if t_on else 0))
    # For scale: the same program under qemu-arm user mode (no softmmu).
    prog = os.path.join(ROOT, "build", "guest", "progs", "workload")
    user = os.path.join(ROOT, "qemu-arm")
    if os.path.exists(prog) and os.path.exists(user):
        p = subprocess.run([user, "-cpu", CPU, prog, str(args.scale)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        out = p.stdout.decode(errors="replace")
        m = re.search(r"workload: total time ([\d.]+)", out)
        uc = [m2.group(0) for m2 in re.finditer(r"^workload: \S+ +checksum \S+", out, re.M)]
        if p.returncode == 0 and m and uc == b[-len(uc):]:
            t_user = float(m.group(1))
            print("  qemu-arm -cpu %s user mode (no softmmu, for scale): %.2f s; "
                  "espt=on is %.2fx of it, espt=off %.2fx"
                  % (CPU, t_user, t_on / t_user, t_off / t_user))
        else:
            print("  qemu-arm user mode: could not run the workload for scale "
                  "(rc %d)" % p.returncode)
    print("demo OK")
    return 0

if __name__ == "__main__":
    sys.exit(main())
