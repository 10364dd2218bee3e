#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Replay a qtest trace of a generic-fuzz finding on a normal build
(tests/lib/fuzztrace.py says how) and say whether QEMU survived it.

    replay-qtest-trace.py TARGET TRACE      exit status 0: QEMU survived
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fuzztrace                                        # noqa: E402


def main():
    target, trace = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        wrong = fuzztrace.replay(target, trace, tmp)
    print(f"{trace}: " + (wrong or "QEMU survived the trace"))
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
