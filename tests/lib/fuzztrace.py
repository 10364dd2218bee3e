# SPDX-License-Identifier: GPL-2.0-or-later
"""Replay the qtest trace of a generic-fuzz finding on a normal build.

scripts/fuzz-guest.sh turns each crash or hang of a generic-fuzz target
into a qtest trace (QTEST_LOG, then scripts/oss-fuzz/
reorder_fuzzer_qtest_trace.py of the base tree).  replay() sends that
trace, command by command, to the patched qemu-system-x86_64
(QPQC_QEMU_PATCHED; scripts/sanitized.sh gives the sanitizer build) with
the target's device and the harness's fake TPM, which answers as the
fuzzer's TPM does (bytes 10-13 ask for the size; where they ask for more
than 8192 bytes, the fuzzer's TPM sends 8192 and the fake TPM the size
asked, which the backend refuses), then resets the machine as
generic-fuzz does after each input.
"""

import faketpm as f
import qemuvm as q

# the devices of the configs in tests/qtest/fuzz/generic_fuzz_configs.h
TARGETS = {
    "tpm-crb-chunk": "tpm-crb,cap-chunk=on,ppi=off",
    "tpm-crb-chunk64": "tpm-crb,cap-chunk=on,x-chunk-size=64,ppi=off",
    "tpm-tis-ext": "tpm-tis,x-allow-ext-buffer=on,ppi=off",
}
# seconds for QEMU to answer a command of the trace or the reset, which
# take milliseconds: a QEMU that does not is hung (IO_TIMEOUT waits for
# slow guests, and would make each hang cost minutes)
HUNG = 30


def replay(target, trace, tmp):
    """None if QEMU survived the trace, else what happened."""
    with open(trace) as fp:
        commands = [line.strip() for line in fp if line.strip()]
    m = q.Machine([q.PATCHED], TARGETS[target], tmp, tpm=f.FakeTpm)
    m.set_io_timeout(HUNG)
    wrong, n, cmd = None, 0, "clock_step"
    try:
        for n, cmd in enumerate(commands, 1):
            m.qtest(cmd)
        # generic-fuzz resets the machine after each input
        n, cmd = n + 1, "system_reset, then clock_step"
        m.cmd("system_reset")
        m.qtest("clock_step")
    except TimeoutError:
        wrong = f"command {n} of {len(commands)} ({cmd[:60]}): " \
                f"no answer in {HUNG} s"
    except Exception as e:
        wrong = f"command {n} of {len(commands)} ({cmd[:60]}): " \
                f"{type(e).__name__}: {e}"
    if wrong and m.is_running():        # hung: it would not quit either
        m.kill()
        m.swtpm.stop()
        return wrong
    try:
        m.close()
    except (RuntimeError, q.AbnormalShutdown) as e:    # a signal, a hang
        wrong = wrong or f"{type(e).__name__}: {e}"
    return wrong
