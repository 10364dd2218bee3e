#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Migration between the unpatched and the patched build of the base.

1. With chunking off, tpm-crb and tpm-tis, idle after real swtpm traffic:
   unpatched -> patched and patched -> unpatched complete, the PCR
   extended before is read back on the destination, a new command works.
2. With chunking on, in the middle of a chunked command, patched ->
   unpatched fails cleanly (the destination refuses the tpm-crb state and
   exits with an error, no crash), the source keeps running and finishes
   the transfer: swtpm receives all 200 bytes.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import qemuvm as q                                      # noqa: E402

MACHINE = "pc-q35-10.0"
CHUNKED = q.CRB_CHUNKED_64
# with a return path the source learns that the destination failed
RETURN_PATH = ("-global", "migration.x-return-path=on")


def idle_migration(src_bin, dst_bin, device, tmp):
    src = q.Machine([src_bin], device, f"{tmp}/src", MACHINE)
    dst = q.Machine([dst_bin], device, f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig")
    try:
        src.open(device)
        assert q.rc(src.transfer(q.STARTUP)) == 0, "Startup failed"
        assert q.rc(src.transfer(q.PCR_EXTEND_16)) == 0, "PCR_Extend failed"
        before = src.transfer(q.PCR_READ_16)
        assert q.rc(before) == 0, "PCR_Read failed"
        assert "return" in src.migrate(f"unix:{tmp}/mig")
        status = dst.migration_status()
        assert status == "completed", f"migration {status}: {dst.stderr()}"
        dst.open(device)
        after = dst.transfer(q.PCR_READ_16)
        assert after == before, f"PCR 16 differs: {before.hex()} {after.hex()}"
        rsp = dst.transfer(q.get_random(32))
        assert q.rc(rsp) == 0 and len(rsp) == 44, f"GetRandom: {rsp.hex()}"
    finally:
        dst.close()
        src.close()


def chunked_to_unpatched(patched, unpatched, tmp):
    src = q.Machine([patched], CHUNKED, f"{tmp}/src", MACHINE,
                    extra=RETURN_PATH)
    dst = q.Machine([unpatched], "tpm-crb", f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig", extra=RETURN_PATH)
    try:
        src.open("tpm-crb")
        assert q.rc(src.transfer(q.STARTUP)) == 0, "Startup failed"
        req = q.padded(200)
        src.crb_send(req, 0, 1)                         # 1 of 4 chunks
        assert "return" in src.migrate(f"unix:{tmp}/mig")
        status = src.migration_status()
        assert status == "failed", f"migration to unpatched: {status}"
        dst.proc.wait(timeout=30)
        err = dst.stderr()
        assert dst.proc.returncode == 1, \
            f"destination exit status {dst.proc.returncode}: {err}"
        assert "device 'tpm-crb'" in err, f"destination said: {err}"
        assert src.run_state() == "running", src.run_state()
        src.crb_send(req, 1)
        rsp = src.crb_receive()
        assert q.rc(rsp) == 0x95, f"swtpm did not get 200 bytes: {rsp.hex()}"
        print(f"unpatched destination refused: {err.strip().splitlines()[-1]}")
    finally:
        dst.close()
        src.close()


def main():
    patched, unpatched = q.need_builds()
    names = {patched: "patched", unpatched: "unpatched"}
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for device in ("tpm-crb", "tpm-tis"):
            for src, dst in ((unpatched, patched), (patched, unpatched)):
                n += 1
                idle_migration(src, dst, device, f"{tmp}/{n}")
                print(f"ok: {device} idle {names[src]} -> {names[dst]}")
        chunked_to_unpatched(patched, unpatched, f"{tmp}/chunked")
        print("ok: tpm-crb mid-transfer patched -> unpatched fails cleanly,"
              " the source finishes the transfer")


if __name__ == "__main__":
    q.run(main)
