#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration mid-transfer between this series and upstream QEMU 11.1.

Upstream QEMU (Debian unstable's qemu-system-x86, >= 11.1) runs in a
chroot made by scripts/make-sid-chroot.sh.  On machine pc-q35-10.0 with
-global tpm-crb.cap-chunk=on -global tpm-crb.x-allow-chunk-migration=on,
an 8192-byte command and response move through the 3968-byte window in
three chunks each; the guest is migrated after the first chunk of the
command (mid-send) or of the response (mid-receive), from our build to
11.1 and from 11.1 to our build, and finishes on the destination.  The TPM
is tests/lib/faketpm.py (swtpm's buffer stops at 4096 bytes): its answer
is derived from every command byte, so one comparison checks both ways.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import qemuvm as q                                      # noqa: E402

ROOT = os.path.join(q.WORK, "sid")
MACHINE = "pc-q35-10.0"
GLOBALS = ("-global", "tpm-crb.cap-chunk=on",
           "-global", "tpm-crb.x-allow-chunk-migration=on")
INTF_ID_CHUNK = 0x00025c11


def upstream():
    """The chroot's QEMU version; scripts/run-tests.sh makes the chroot
    (scripts/make-sid-chroot.sh) or says in QPQC_SID_MISSING why not."""
    if os.environ.get("QPQC_SID_MISSING"):
        raise q.SkipTest("no upstream QEMU 11.1 chroot: "
                         + os.environ["QPQC_SID_MISSING"])
    try:
        with open(os.path.join(ROOT, ".qpqc-qemu-version")) as v:
            return v.read().strip()
    except FileNotFoundError:
        raise AssertionError(f"no chroot in {ROOT}: run 'make interop'")


def machine(which, tmp, name, **kw):
    if which == "upstream":
        return q.Machine(["chroot", ROOT, "qemu-system-x86_64"], "tpm-crb",
                         f"{tmp}/{name}", MACHINE, root=ROOT, extra=GLOBALS,
                         tpm=f.FakeTpm, **kw)
    return q.Machine([q.PATCHED], "tpm-crb", f"{tmp}/{name}", MACHINE,
                     extra=GLOBALS, tpm=f.FakeTpm, **kw)


def migrate_mid_transfer(src_kind, dst_kind, phase, tmp):
    cmd = f.echo_command(8192, 8192)
    want = f.expected_response(cmd)
    with (machine(src_kind, tmp, "src") as src,
          machine(dst_kind, tmp, "dst", incoming=f"unix:{tmp}/mig") as dst):
        src.open("tpm-crb")
        for m in (src, dst):
            intf = m.readl(0x30)
            assert intf == INTF_ID_CHUNK, f"INTF_ID 0x{intf:08x}"
        assert src.chunk == 3968, src.chunk
        if phase == "send":
            src.crb_send(cmd, 0, 1)                     # 1 of 3 chunks
        else:
            src.crb_send(cmd)
            first = src.read(q.CRB_WINDOW, src.chunk)   # 1 of 3 chunks
        assert "return" in src.migrate(f"unix:{tmp}/mig")
        status = dst.migration_status()
        assert status == "completed", f"{status}: {dst.stderr()}"
        dst.chunk = dst.readl(q.CRB_CMD_SIZE)
        if phase == "send":
            dst.crb_send(cmd, 1)
            got = dst.crb_receive()
            assert dst.swtpm.commands[-1] == cmd, "the TPM got other bytes"
        else:
            got = first + dst.crb_receive(first_chunk_done=True)
            assert len(dst.swtpm.commands) == 1, "the command ran again"
        assert got == want, "the response differs"
        dst.crb_start(q.RETRY)
        assert dst.crb_receive() == want, "crbRspRetry replays other bytes"


def main():
    version = upstream()
    q.need_builds()
    os.makedirs(os.path.join(ROOT, "tmp"), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.join(ROOT, "tmp")) as tmp:
        n = 0
        for src, dst in (("ours", "upstream"), ("upstream", "ours")):
            for phase in ("send", "receive"):
                n += 1
                peers = (f"ours -> upstream {version}" if src == "ours"
                         else f"upstream {version} -> ours")
                q.scenario(f"{peers} mid-{phase}, 8192-byte command and"
                           " response byte-exact, retry replays",
                           migrate_mid_transfer, src, dst, phase,
                           f"{tmp}/{n}")


if __name__ == "__main__":
    q.run(main)
