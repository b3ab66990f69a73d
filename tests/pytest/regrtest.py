# CPython's regrtest, unchanged, with one line per test case and per test
# module on the console as each module finishes, for tests/test_python.py:
#
#   PYTEST-CASE <module> <verdict> <seconds> <test id>
#   PYTEST-MODULE <module> <result> <seconds>
#
# verdict: ok, skipped, failure, error, expected-failure or
# unexpected-success, from the junit XML regrtest records for the module
# (so regrtest must run with --junit-xml); result: the class regrtest
# gave the module's result (Passed, Failed, Skipped, ResourceDenied,
# EnvChanged, ...).  Runs in the guest as /cpython/regrtest.py under
# python3.11; the arguments are regrtest's.
#
# SPDX-License-Identifier: GPL-2.0-or-later
import sys
import xml.etree.ElementTree as ET

from test.libregrtest.main import Regrtest, main

VERDICTS = (("failure", "failure"), ("error", "error"), ("skipped", "skipped"),
            ("output", "expected-failure"))


def case_lines(module, xml_data):
    for text in xml_data or ():
        for case in ET.fromstring(text).iter("testcase"):
            verdict = "ok"
            for tag, name in VERDICTS:
                if case.find(tag) is not None:
                    verdict = name
                    break
            if case.find("outcome") is not None:
                verdict = "unexpected-success"
            yield "PYTEST-CASE %s %s %s %s" % (module, verdict,
                                              case.get("time", "0"), case.get("name"))


_accumulate = Regrtest.accumulate_result


def accumulate_result(self, result, rerun=False):
    _accumulate(self, result, rerun)
    out = list(case_lines(result.name, result.xml_data))
    out.append("PYTEST-MODULE %s %s %.2f" % (result.name, type(result).__name__,
                                             result.duration_sec))
    sys.__stdout__.write("\n".join(out) + "\n")
    sys.__stdout__.flush()


Regrtest.accumulate_result = accumulate_result

if __name__ == "__main__":
    main()
