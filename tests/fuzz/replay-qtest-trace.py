#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Replay a qtest trace of a generic-fuzz finding on a normal build.

scripts/fuzz-guest.sh turns each crash of a generic-fuzz target into a
qtest trace (QTEST_LOG, then scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py
of the base tree).  This sends that trace, command by command, to the
patched qemu-system-x86_64 (QPQC_QEMU_PATCHED; scripts/sanitized.sh gives
the sanitizer build) with the target's device and the harness's fake TPM,
which answers as the fuzzer's TPM does (bytes 10-13 ask for the size;
where they ask for more than 8192 bytes, the fuzzer's TPM sends 8192 and
the fake TPM the size asked, which the backend refuses), resets the
machine as generic-fuzz does after each input, and says whether QEMU
survived it.

    replay-qtest-trace.py TARGET TRACE      exit status 0: QEMU survived
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import qemuvm as q                                      # noqa: E402

# the devices of the configs in tests/qtest/fuzz/generic_fuzz_configs.h
TARGETS = {
    "tpm-crb-chunk": "tpm-crb,cap-chunk=on,ppi=off",
    "tpm-crb-chunk64": "tpm-crb,cap-chunk=on,x-chunk-size=64,ppi=off",
    "tpm-tis-ext": "tpm-tis,x-allow-ext-buffer=on,ppi=off",
}


def replay(target, trace, tmp):
    """None if QEMU survived the trace, else what happened."""
    with open(trace) as fp:
        commands = [line.strip() for line in fp if line.strip()]
    m = q.Machine([q.PATCHED], TARGETS[target], tmp, tpm=f.FakeTpm)
    wrong, n, cmd = None, 0, "clock_step"
    try:
        for n, cmd in enumerate(commands, 1):
            m.qtest(cmd)
        # generic-fuzz resets the machine after each input
        n, cmd = n + 1, "system_reset, then clock_step"
        m.cmd("system_reset")
        m.qtest("clock_step")
    except Exception as e:
        wrong = f"command {n} of {len(commands)} ({cmd[:60]}): " \
                f"{type(e).__name__}: {e}"
    try:
        m.close()
    except (RuntimeError, q.AbnormalShutdown) as e:    # a signal, a hang
        wrong = wrong or f"{type(e).__name__}: {e}"
    return wrong


def main():
    target, trace = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        wrong = replay(target, trace, tmp)
    print(f"{trace}: " + (wrong or "QEMU survived the trace"))
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
