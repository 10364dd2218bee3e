#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""What the series changes, shown with ML-DSA-87: the run of the series'
qtest tpm-pqc-test (create an ML-DSA-87 key, sign, verify, refuse a
changed signature) through the PQC TPM (tests/lib/pqc-bridge.py in front
of fwtpm_server) on

  the unpatched build, tpm-crb and tpm-tis    must fail
  the patched build, tpm-crb cap-chunk=off    must fail
  the patched build, tpm-tis x-allow-ext-buffer=off   must fail
  the patched build with the properties on    must pass

and every failing run must stop at its first transfer larger than the
interface (3968 bytes for tpm-crb, 4096 for tpm-tis): the 4655-byte
response of TPM2_SignSequenceComplete.  The transfers check what a driver
can see (CapCRBChunk, the window, tpmSts, the FIFO's burstCount, a
response shorter than its header says) and say where it stopped.
Skips, naming what is missing, when the PQC TPM is not available.
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import mldsa87                                          # noqa: E402
import qemuvm as q                                      # noqa: E402

CRB_INTF_ID, CAP_CRB_CHUNK = 0x30, 1 << 10
MESSAGE = b"QEMU TPM post-quantum transfer"
FIRST_LARGE = "SignSequenceComplete"


class Stopped(Exception):
    """The run stopped: what a driver saw."""


def crb_transfer(m):
    chunking = bool(m.readl(CRB_INTF_ID) & CAP_CRB_CHUNK)
    window = m.chunk

    def transfer(cmd):
        if len(cmd) > window and not chunking:
            raise Stopped(f"the {len(cmd)}-byte command does not fit the "
                          f"{window}-byte window and the device does not "
                          "advertise CapCRBChunk")
        m.crb_send(cmd)
        if m.readl(q.CRB_CTRL_STS) & 1:
            raise Stopped("the device set CRB_CTRL_STS.tpmSts")
        size = struct.unpack(">I", m.read(q.CRB_WINDOW + 2, 4))[0]
        if size > window and not chunking:
            raise Stopped(f"the response header says {size} bytes, more "
                          f"than the {window}-byte window, and the device "
                          "does not advertise CapCRBChunk")
        return m.crb_receive()
    return transfer


def tis_transfer(m):
    def transfer(cmd):
        m.writel(q.TIS_STS, q.TIS_STS_READY)
        burst = m.readl(q.TIS_STS) >> 8 & 0xffff
        if len(cmd) > burst:
            raise Stopped(f"the {len(cmd)}-byte command exceeds the "
                          f"FIFO's burstCount of {burst}")
        m.tis_write(cmd, ready=False)
        m.tis_go()
        rsp = m.tis_read(10)
        size = struct.unpack(">I", rsp[2:6])[0]
        while len(rsp) < size:
            sts = m.readl(q.TIS_STS)
            n = min(sts >> 8 & 0xffff, size - len(rsp))
            if not sts & q.TIS_STS_AVAIL or not n:
                raise Stopped(f"the FIFO ran dry after {len(rsp)} of the "
                              f"{size} bytes the response header announces")
            rsp += m.tis_read(n)
        m.writel(q.TIS_STS, q.TIS_STS_READY)
        return rsp
    return transfer


def logged(transfer, steps):
    """transfer, noting each command's name in steps; a response of a
    TPM error stops the run with its code."""
    names = {mldsa87.TPM_CC_CREATE_PRIMARY: "CreatePrimary",
             mldsa87.TPM_CC_SIGN_SEQUENCE_START: "SignSequenceStart",
             mldsa87.TPM_CC_SIGN_SEQUENCE_COMPLETE: "SignSequenceComplete",
             mldsa87.TPM_CC_VERIFY_SEQUENCE_START: "VerifySequenceStart",
             mldsa87.TPM_CC_SEQUENCE_UPDATE: "SequenceUpdate",
             mldsa87.TPM_CC_VERIFY_SEQUENCE_COMPLETE:
             "VerifySequenceComplete"}

    def send(cmd):
        cc = struct.unpack(">I", cmd[6:10])[0]
        steps.append(names.get(cc, f"0x{cc:x}"))
        rsp = transfer(cmd)
        if (mldsa87.rc(rsp) and
                cc != mldsa87.TPM_CC_VERIFY_SEQUENCE_COMPLETE):
            raise Stopped(f"the TPM answered 0x{mldsa87.rc(rsp):x}")
        return rsp
    return send


def qemu_messages(m):
    """What QEMU printed, without the qtest log."""
    return " / ".join(line for line in m.stderr().splitlines()
                      if line and not line.startswith("["))


def run(qemu, device, tmp):
    """The ML-DSA-87 run: None when it passed, else (step, what, what
    QEMU printed).  The unpatched build may then die of an assertion
    (tpm_tis_request_completed() on a response that did not fit): said,
    not failed; a patched build that dies fails."""
    bridge = q.PqcBridge(os.path.join(tmp, "tpm"))
    m = None
    steps = []
    try:
        m = q.Machine([qemu], device, tmp, tpm=lambda d: bridge)
        m.open(device)
        if q.rc(m.transfer(q.STARTUP)):
            raise AssertionError(f"{device}: TPM2_Startup failed")
        send = logged((tis_transfer if device.startswith("tpm-tis")
                       else crb_transfer)(m), steps)
        try:
            key = mldsa87.create_primary(send)
            sig = mldsa87.sign(send, key, MESSAGE)
            mldsa87.verify(send, key, MESSAGE, sig)
            bad = bytearray(sig)
            bad[100] ^= 1
            mldsa87.verify(send, key, MESSAGE, bytes(bad), tampered=True)
        except Stopped as e:
            return steps[-1], str(e), qemu_messages(m)
        except (RuntimeError, OSError) as e:    # QEMU died, or a timeout
            try:
                q.wait_for(lambda: not m.is_running(), "QEMU's exit", 5)
            except TimeoutError:
                pass
            return (steps[-1], f"QEMU went away ({str(e)[:60]}; exit "
                    f"status {m.exitcode()})", qemu_messages(m))
        return None
    finally:
        try:
            if m:
                m.close()
        except RuntimeError as e:
            if qemu != q.UNPATCHED or "QEMU died of signal" not in str(e):
                raise
            print(f"    then the unpatched QEMU died: {assertion(e)}")
        finally:
            bridge.proc.terminate()
            bridge.stop()


def assertion(e):
    """The assertion message of a QEMU that died, or its first line."""
    lines = [line for line in str(e).splitlines() if "Assertion" in line]
    return (lines or str(e).splitlines())[0]


def check(qemu, device, works, tmp):
    result = run(qemu, device, tmp)
    if works:
        assert result is None, " ".join(result[:2])
        return
    assert result is not None, "it passed"
    print(f"stopped at {result[0]}: {result[1]}"
          + (f"\n    QEMU: {result[2]}" if result[2] else ""))
    assert result[0] == FIRST_LARGE, f"stopped at {result[0]}: {result[1]}"


def test():
    q.pqc_bridge_command()                      # SkipTest when missing
    patched, unpatched = q.need_builds()
    runs = [
        (unpatched, "unpatched", "tpm-crb", False),
        (unpatched, "unpatched", "tpm-tis", False),
        (patched, "patched", "tpm-crb,cap-chunk=off", False),
        (patched, "patched", "tpm-tis,x-allow-ext-buffer=off", False),
        (patched, "patched", "tpm-crb,cap-chunk=on", True),
        (patched, "patched", "tpm-tis,x-allow-ext-buffer=on", True),
    ]
    print(f"TPM: {os.environ['QPQC_FWTPM']} (wolfTPM fwTPM) through "
          "tests/lib/pqc-bridge.py")
    with tempfile.TemporaryDirectory(prefix="pqc-unpatched-") as tmp:
        for i, (qemu, build, device, works) in enumerate(runs):
            what = (f"{build} {device} signs, verifies, refuses a changed"
                    " signature" if works else f"{build} {device} stops at"
                    f" {FIRST_LARGE} (4655-byte response)")
            q.scenario(what, check, qemu, device, works,
                       os.path.join(tmp, str(i)))


if __name__ == "__main__":
    q.run(test)
