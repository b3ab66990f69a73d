#!/usr/bin/env python3
# Run qemu-espt's tests; `make check` calls this.
#
#   tests/run.py [-k PATTERN]... [-x PATTERN]... [--list]
#
# Ends with a summary line "N passed, N failed[, N skipped]"; exits
# non-zero if anything failed.  Logs go to build/tests/.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import argparse
import fnmatch
import importlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

# Every tests/test_*.py registers its tests with @harness.test when
# imported; they run in this order (the configure checks first, whose
# failure explains most others), then the rest by name.
FIRST = ("test_configure", "test_boot", "test_bench", "test_espt")


def import_modules():
    here = os.path.dirname(os.path.abspath(__file__))
    names = sorted(f[:-3] for f in os.listdir(here)
                   if f.startswith("test_") and f.endswith(".py"))
    for name in sorted(names, key=lambda n: (FIRST.index(n) if n in FIRST
                                             else len(FIRST), n)):
        importlib.import_module(name)

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-k", action="append", default=[],
                    help="run only tests whose name matches this glob")
    ap.add_argument("-x", action="append", default=[],
                    help="leave out tests whose name matches this glob")
    ap.add_argument("--list", action="store_true", help="list the tests")
    args = ap.parse_args()
    import_modules()

    tests = [t for t in harness.TESTS
             if (not args.k or any(fnmatch.fnmatch(t[0], "*%s*" % k) for k in args.k))
             and not any(fnmatch.fnmatch(t[0], "*%s*" % x) for x in args.x)]
    if args.list:
        for name, _ in tests:
            print(name)
        return 0
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    failed = []
    t_all = time.monotonic()
    for i, (name, fn) in enumerate(tests, 1):
        print("[%d/%d] %s ..." % (i, len(tests), name), flush=True)
        t0 = time.monotonic()
        status, msg = harness.run_one(fn)
        counts[status] += 1
        line = "%s %s (%.1fs)" % (status, name, time.monotonic() - t0)
        if msg:
            line += ": " + msg.strip().replace("\n", "\n    ")
        print(line, flush=True)
        if status == "FAIL":
            failed.append(name)
    print()
    print("ran %d tests in %.0fs" % (len(tests), time.monotonic() - t_all))
    for name in failed:
        print("FAILED: " + name)
    summary = "%d passed, %d failed" % (counts["PASS"], counts["FAIL"])
    if counts["SKIP"]:
        summary += ", %d skipped" % counts["SKIP"]
    print(summary)
    return 1 if counts["FAIL"] or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
