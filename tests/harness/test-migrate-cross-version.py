#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Migration between the unpatched and the patched build of the base.

1. With chunking off, tpm-crb and tpm-tis, idle after real swtpm traffic:
   unpatched -> patched and patched -> unpatched complete, the PCR
   extended before is read back on the destination, a new command works.
2. With chunking on, in the middle of a chunked command, patched ->
   unpatched fails cleanly (the destination refuses the tpm-crb state and
   exits with an error, no crash), the source keeps running and finishes
   the transfer: the test TPM receives the 200 bytes, byte for byte.
3. tpm-tis with x-allow-ext-buffer off (the default) is the base's
   device: in the middle of receiving a command and in the middle of
   reading a response, the tpm-tis section that either build saves is
   byte for byte the same, and live migration in both directions
   finishes the transfer on the destination.
4. With x-allow-ext-buffer on, in the middle of an 8192-byte command,
   patched -> unpatched fails cleanly, and the source finishes the
   transfer (a test TPM with an 8192-byte buffer answers it).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import migstream                                        # noqa: E402
import qemuvm as q                                      # noqa: E402

MACHINE = "pc-q35-10.0"
CHUNKED = q.CRB_CHUNKED_64
# with a return path the source learns that the destination failed
RETURN_PATH = ("-global", "migration.x-return-path=on")


def idle_migration(src_bin, dst_bin, device, tmp):
    with (q.Machine([src_bin], device, f"{tmp}/src", MACHINE) as src,
          q.Machine([dst_bin], device, f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig") as dst):
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


def fails_cleanly(src, dst, uri, section):
    """Migrating src to dst fails: dst exits 1 naming section, src runs."""
    assert "return" in src.migrate(uri)
    status = src.migration_status()
    assert status == "failed", f"migration to unpatched: {status}"
    status = dst.exit_status()
    err = dst.stderr()
    assert status == 1, f"destination exit status {status}: {err}"
    assert f"device '{section}'" in err, f"destination said: {err}"
    assert src.run_state() == "running", src.run_state()
    return err


def chunked_to_unpatched(patched, unpatched, tmp):
    with (q.Machine([patched], CHUNKED, f"{tmp}/src", MACHINE,
                    extra=RETURN_PATH, tpm=f.FakeTpm) as src,
          q.Machine([unpatched], "tpm-crb", f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig", extra=RETURN_PATH,
                    tpm=f.FakeTpm) as dst):
        src.open("tpm-crb")
        req = f.echo_command(200, 100)
        src.crb_send(req, 0, 1)                         # 1 of 4 chunks
        err = fails_cleanly(src, dst, f"unix:{tmp}/mig", "tpm-crb")
        src.crb_send(req, 1)
        rsp = src.crb_receive()
        assert src.swtpm.commands[-1] == req, \
            f"the TPM got other bytes: {src.swtpm.commands[-1].hex()}"
        assert rsp == f.expected_response(req), f"response: {rsp.hex()}"
        print(f"unpatched destination refused: {err.strip().splitlines()[-1]}")


def tis_section(stream):
    """The tpm-tis section's version and fields, as saved: the base's
    fields only, no subsection."""
    tis = migstream.section(stream, "tpm-tis")
    assert not tis.subsections, f"tpm-tis saved {list(tis.subsections)}"
    return tis.version, stream[tis.start:tis.end]


def tis_mid_transfer(machine, phase, req):
    """Bring a tpm-tis to the middle of a transfer; return its response."""
    machine.open("tpm-tis")
    assert q.rc(machine.transfer(q.STARTUP)) == 0, "Startup failed"
    if phase == "reception":
        machine.tis_write(req[:2000])
        return None
    rsp = machine.transfer(req)
    machine.tis_write(req)
    machine.tis_go()
    assert machine.tis_read(10) == rsp[:10]
    return rsp


def tis_finish(machine, phase, req, rsp):
    if phase == "reception":
        machine.tis_write(req[2000:], ready=False)
        machine.tis_go()
        rsp = machine.tis_read(10)
        assert q.rc(rsp) == 0x95, f"swtpm did not get 3000 bytes: {rsp.hex()}"
    else:
        rest = machine.tis_read(len(rsp) - 10)
        assert rest == rsp[10:], "the rest of the response differs"


def tis_saved_sections(patched, unpatched, tmp):
    for phase, req in (("reception", q.padded(3000)),
                       ("completion", q.PCR_READ_16)):
        sections = []
        for n, binary in enumerate((unpatched, patched)):
            with q.Machine([binary], "tpm-tis", f"{tmp}/{phase}{n}",
                           MACHINE) as m:
                tis_mid_transfer(m, phase, req)
                stream = m.save_stream(f"{tmp}/{phase}{n}.vm")
            sections.append(tis_section(stream))
        assert sections[0] == sections[1], \
            f"mid-{phase}: the tpm-tis sections differ"


def tis_live(src_bin, dst_bin, phase, tmp):
    req = q.padded(3000) if phase == "reception" else q.PCR_READ_16
    with (q.Machine([src_bin], "tpm-tis", f"{tmp}/src", MACHINE) as src,
          q.Machine([dst_bin], "tpm-tis", f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig") as dst):
        rsp = tis_mid_transfer(src, phase, req)
        assert "return" in src.migrate(f"unix:{tmp}/mig")
        status = dst.migration_status()
        assert status == "completed", f"migration {status}: {dst.stderr()}"
        tis_finish(dst, phase, req, rsp)


def ext_buffer_to_unpatched(patched, unpatched, tmp):
    with (q.Machine([patched], "tpm-tis,x-allow-ext-buffer=on", f"{tmp}/src",
                    MACHINE, extra=RETURN_PATH, tpm=f.FakeTpm) as src,
          q.Machine([unpatched], "tpm-tis", f"{tmp}/dst", MACHINE,
                    incoming=f"unix:{tmp}/mig", extra=RETURN_PATH,
                    tpm=f.FakeTpm) as dst):
        src.open("tpm-tis")
        req = f.echo_command(8192, 8192)
        src.tis_write(req[:5000])
        err = fails_cleanly(src, dst, f"unix:{tmp}/mig", "tpm-tis")
        src.tis_write(req[5000:], ready=False)
        src.tis_go()
        rsp = src.tis_read(8192)
        assert rsp == f.expected_response(req), "response differs"
        print(f"unpatched destination refused: {err.strip().splitlines()[-1]}")


def main():
    patched, unpatched = q.need_builds()
    names = {patched: "patched", unpatched: "unpatched"}
    both_ways = [(idle_migration, "tpm-crb", "tpm-crb idle"),
                 (idle_migration, "tpm-tis", "tpm-tis idle"),
                 (tis_live, "reception", "tpm-tis mid-reception"),
                 (tis_live, "completion", "tpm-tis mid-completion")]
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for migration, arg, what in both_ways:
            for src, dst in ((unpatched, patched), (patched, unpatched)):
                n += 1
                q.scenario(f"{what} {names[src]} -> {names[dst]}",
                           migration, src, dst, arg, f"{tmp}/{n}")
        q.scenario("tpm-crb mid-transfer patched -> unpatched fails cleanly,"
                   " the source finishes the transfer",
                   chunked_to_unpatched, patched, unpatched, f"{tmp}/chunked")
        q.scenario("tpm-tis mid-reception and mid-completion, the sections"
                   " saved by both builds are identical",
                   tis_saved_sections, patched, unpatched, f"{tmp}/sections")
        q.scenario("tpm-tis 8192-byte command patched -> unpatched fails"
                   " cleanly, the source finishes the transfer",
                   ext_buffer_to_unpatched, patched, unpatched, f"{tmp}/ext")


if __name__ == "__main__":
    q.run(main)
