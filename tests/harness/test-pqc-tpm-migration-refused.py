#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A vTPM backed by the PQC TPM (fwtpm_server) works and cannot migrate.

QEMU (the patched build, or $QEMU) runs under qtest with tpm-crb on
-tpmdev emulator, whose control socket is tests/lib/pqc-bridge.py in
front of wolfTPM's fwtpm_server (QPQC_FWTPM, set by scripts/run-tests.sh
from scripts/build-pqc-tpm.sh).  Through the device: TPM2_Startup,
GetRandom twice (two different answers), GetCapability(TPM_CAP_ALGS)
listing TPM_ALG_MLDSA (0x00A1).  Then "migrate" must be refused with
QEMU's migration-blocker error for a TPM emulator without state blobs,
nothing may be written, and the TPM must still answer.
Skips, naming what is missing, when the PQC TPM is not available.
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import qemuvm as q                                      # noqa: E402

QEMU = os.environ.get("QEMU", q.PATCHED)
BLOCKER = "TPM emulator does not support migration"
TPM_CAP_ALGS, TPM_ALG_MLDSA = 0, 0x00A1

failures = []


def check(ok, what, detail=""):
    if ok:
        print(f"ok - {what}")
    else:
        print(f"not ok - {what}{': ' + detail if detail else ''}")
        failures.append(what)
    sys.stdout.flush()
    return ok


def get_capability(cap, prop, count):
    return q.tpm_cmd(0x8001, 0x17a, struct.pack(">III", cap, prop, count))


def algorithms(rsp):
    """The algorithm IDs of a GetCapability(TPM_CAP_ALGS) response."""
    # header, moreData, capability, count, then (alg, attributes) pairs
    (count,) = struct.unpack(">I", rsp[15:19])
    return [struct.unpack(">H", rsp[19 + 6 * i:21 + 6 * i])[0]
            for i in range(count)]


def test():
    cmd = q.pqc_bridge_command()                # SkipTest when missing
    if not os.access(QEMU, os.X_OK):
        raise AssertionError(f"no {QEMU}: run 'make build' (or set QEMU)")
    print(f"TPM: {os.environ['QPQC_FWTPM']} (wolfTPM fwTPM) through "
          f"{' '.join(cmd[:2])}; QEMU: {QEMU}")
    with tempfile.TemporaryDirectory(prefix="pqc-mig-") as tmp:
        bridge = q.PqcBridge(os.path.join(tmp, "tpm"))
        m = None
        try:
            m = q.Machine([QEMU], "tpm-crb", tmp, tpm=lambda d: bridge)
            m.open("tpm-crb")
            rsp = m.transfer(q.STARTUP)
            check(q.rc(rsp) == 0, "TPM2_Startup(CLEAR) through tpm-crb",
                  rsp.hex())
            r1 = m.transfer(q.get_random(32))
            r2 = m.transfer(q.get_random(32))
            check(q.rc(r1) == 0 and len(r1) == 44 and q.rc(r2) == 0
                  and r1[12:] != r2[12:],
                  "TPM2_GetRandom(32) twice: 32 bytes each, different",
                  f"{r1.hex()} {r2.hex()}")
            rsp = m.transfer(get_capability(TPM_CAP_ALGS, 0, 128))
            algs = algorithms(rsp) if q.rc(rsp) == 0 else []
            check(TPM_ALG_MLDSA in algs,
                  "GetCapability(TPM_CAP_ALGS) lists TPM_ALG_MLDSA (0x00A1)",
                  " ".join(f"{a:#06x}" for a in algs) or rsp.hex())

            stream = os.path.join(tmp, "stream")
            res = m.migrate(f"file:{stream}")
            desc = res.get("error", {}).get("desc", "")
            check("error" in res and BLOCKER in desc,
                  f"migrate is refused: '{BLOCKER}'", str(res))
            status = m.qmp("query-migrate")["return"].get("status")
            check(status != "completed" and not (
                os.path.exists(stream) and os.path.getsize(stream)),
                "nothing migrated, no stream written", f"status {status}")
            check(m.run_state() == "running",
                  "the VM keeps running", m.run_state())
            rsp = m.transfer(q.get_random(16))
            check(q.rc(rsp) == 0 and len(rsp) == 28,
                  "the TPM still answers after the refusal", rsp.hex())
        finally:
            if m:
                m.close()
            else:
                bridge.proc.terminate()
                bridge.stop()
        check(bridge.proc.returncode == 0,
              "the bridge exits cleanly when QEMU goes",
              f"status {bridge.proc.returncode}")
    print(f"{len(failures)} failed" if failures else "all passed")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    q.run(test)
