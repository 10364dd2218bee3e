#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every finding that generic-fuzz made and tests/fuzz/findings keeps
must stay fixed: its qtest trace is replayed on the patched build, one
scenario per finding, and QEMU must survive the trace and the reset
after it.  (On a build without the fix of a finding its replay fails: a
hang shows as a timeout of the reset.)  CI runs it on the sanitizer
build too.
"""

import glob
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fuzztrace                                        # noqa: E402
import qemuvm as q                                      # noqa: E402

FINDINGS = os.path.join(os.path.dirname(__file__), "..", "fuzz", "findings")


def target_of(trace):
    """tpm-tis-ext-hang-11d5121e.qtest -> tpm-tis-ext"""
    name = os.path.basename(trace)
    for target in sorted(fuzztrace.TARGETS, key=len, reverse=True):
        if name.startswith(target + "-"):
            return target
    raise AssertionError(f"{name}: no generic-fuzz target of that name")


def survives(trace, tmp):
    wrong = fuzztrace.replay(target_of(trace), trace, tmp)
    assert wrong is None, wrong


def main():
    q.need_builds()
    traces = sorted(glob.glob(os.path.join(FINDINGS, "*.qtest")))
    assert traces, f"no qtest trace in {FINDINGS}"
    for trace in traces:
        with tempfile.TemporaryDirectory() as tmp:
            q.scenario(f"{os.path.basename(trace)} is survived",
                       survives, trace, tmp)


if __name__ == "__main__":
    q.run(main)
