#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""TPM_GO on a TIS locality whose received command another locality's
seize threw away must not send an empty command to the TPM (found by
generic-fuzz-tpm-tis-ext): an empty command gets no answer from swtpm or
the in-test emulator, the backend thread waits for it forever, and the
next reset of the machine hangs QEMU.  The GO must be ignored, and the
locality must work again after commandReady.  (The unpatched build
fails it: the next command times out.)
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import qemuvm as q                                      # noqa: E402

LOC1 = q.LOCALITY


def go_after_seize(tmp):
    with q.Machine([q.PATCHED], "tpm-tis", tmp, tpm=f.FakeTpm) as m:
        m.tis_open()
        m.tis_write(f.echo_command(14, 10))     # received, EXPECT clear
        m.writeb(LOC1 + q.TIS_ACCESS, q.TIS_ACCESS_SEIZE)  # locality 1 seizes
        q.wait_for(lambda: m.readb(LOC1 + q.TIS_ACCESS)
                   & q.TIS_ACCESS_ACTIVE, "locality 1 active")
        m.writeb(LOC1 + q.TIS_ACCESS, q.TIS_ACCESS_ACTIVE)  # and relinquishes
        m.tis_open()
        before = len(m.swtpm.commands)          # QEMU's probe at startup
        m.writel(q.TIS_STS, q.TIS_STS_GO)
        m.qtest("clock_step")
        sts = m.readl(q.TIS_STS)
        assert len(m.swtpm.commands) == before and not sts & q.TIS_STS_AVAIL, \
            f"GO sent {[c.hex() for c in m.swtpm.commands[before:]]}, " \
            f"STS {sts:#x}"
        cmd = f.echo_command(20, 30)
        assert m.tis_transfer(cmd) == f.expected_response(cmd)
        m.cmd("system_reset")                   # hangs behind a lost command


def main():
    q.need_builds()
    with tempfile.TemporaryDirectory() as tmp:
        q.scenario("GO after a seize threw the command away is ignored",
                   go_after_seize, tmp)


if __name__ == "__main__":
    q.run(main)
