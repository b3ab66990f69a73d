#!/usr/bin/env python3
# The main job: boot the default guest (Debian armmp kernel, our
# initramfs) on ./qemu-system-arm, run a short workload, show the result.
#
#   scripts/demo.py [--kernel armmp|armmp-lpae] [--smp N] [--scale N]
#
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from guest import BUILD, QEMU, KERNELS, boot, kernel_version  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Boot the default guest and run a workload.")
    ap.add_argument("--kernel", choices=KERNELS, default="armmp")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--scale", type=int, default=1, help="workload size (default 1)")
    args = ap.parse_args()

    log = os.path.join(BUILD, "demo", "console.log")
    print("qemu-espt demo")
    print("  qemu:    %s" % os.popen(QEMU + " --version").readline().strip())
    print("  kernel:  Debian %s (%s)" % (args.kernel, kernel_version(args.kernel)))
    print("  guest:   -M virt -m 1024 -smp %d, initramfs build/guest/initramfs.cpio.gz" % args.smp)
    print("  running: memtest (MMU checks), workload %d (pointer chase, hash table, sort, match)"
          % args.scale)
    sys.stdout.flush()
    r = boot(args.kernel, tests=["memtest", "workload"], smp=args.smp,
             test_args={"workload": [args.scale]}, log_path=log, timeout=600)
    print()
    if r.init_uptime is not None:
        print("  kernel start to /init: %.2f s (guest clock)" % r.init_uptime)
    for t in ("memtest", "workload"):
        for line in r.output(t).split("\n"):
            if line.startswith(t + ":"):
                print("  " + line)
        if t in r.results:
            print("  -> %s %s in %.2f s (guest clock)" % (t, r.results[t][0], r.results[t][2]))
    print("  whole boot + run: %.1f s wall; console log: %s" % (r.wall, os.path.relpath(log)))
    if not r.ok:
        print("demo FAILED: " + "; ".join(r.problems))
        return 1
    print("demo OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
