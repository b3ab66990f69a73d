# A tiny test harness: tests register with @test, run.py runs them and
# prints "N passed, N failed".
#
# SPDX-License-Identifier: GPL-2.0-or-later
import traceback

TESTS = []


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def test(name=None):
    def wrap(fn):
        TESTS.append((name or fn.__name__, fn))
        return fn
    return wrap


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run_one(fn):
    """Returns (status, message): status is PASS, FAIL or SKIP."""
    try:
        fn()
        return "PASS", ""
    except Skip as e:
        return "SKIP", str(e)
    except Failure as e:
        return "FAIL", str(e)
    except Exception:
        return "FAIL", traceback.format_exc()
