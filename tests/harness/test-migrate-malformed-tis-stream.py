#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The tpm-tis state in a migration stream is untrusted input.

Streams saved by tpm-tis in the middle of receiving a command (2000 of
3000 bytes with x-allow-ext-buffer off, 6000 of 8192 with it on) are loaded back with one
field corrupted or the tpm-tis/ext_buffer subsection cut out.  Every load
must be refused with an error that names the field, by a QEMU that exits
with status 1; the streams as saved must load, and the destination must
finish the command.
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import migstream                                        # noqa: E402
import qemuvm as q                                      # noqa: E402

EXT = "tpm-tis,x-allow-ext-buffer=on"


def save_stream(tmp, device, cmd, received):
    """A stream with the first received bytes of cmd received."""
    with q.Machine([q.PATCHED], device, f"{tmp}/src", tpm=f.FakeTpm) as m:
        m.open("tpm-tis")
        m.tis_write(cmd[:received])
        return m.save_stream(f"{tmp}/stream")


def fields(stream):
    """Offsets of rw_offset, active_locty, next_locty, loc[0].state and
    loc[4].access in stream."""
    tis = migstream.section(stream, "tpm-tis").fields
    loc = tis["state.loc"].items
    return (tis["state.rw_offset"].start, tis["state.active_locty"].start,
            tis["state.next_locty"].start, loc[0].items["state"].start,
            loc[4].items["access"].start)


def patch(stream, at, data):
    return stream[:at] + data + stream[at + len(data):]


def load(tmp, name, stream, device):
    return q.load_stream([q.PATCHED], device, f"{tmp}/{name}", stream,
                         tpm=f.FakeTpm)


def completes(tmp, name, stream, device, cmd, received):
    with load(tmp, name, stream, device) as m:
        assert m.is_running(), f"{name}: {m.stderr()}"
        m.tis_write(cmd[received:], ready=False)
        m.tis_go()
        assert m.tis_read(64) == f.expected_response(cmd), \
            f"{name}: the response differs"
        assert m.swtpm.commands[-1] == cmd, \
            f"{name}: the TPM got another command"


def main():
    q.need_builds()
    with tempfile.TemporaryDirectory() as tmp:
        small_cmd = f.echo_command(3000, 64)
        large_cmd = f.echo_command(8192, 64)
        small = save_stream(f"{tmp}/small", "tpm-tis", small_cmd, 2000)
        large = save_stream(f"{tmp}/large", EXT, large_cmd, 6000)
        assert not migstream.section(small, "tpm-tis").subsections, \
            "a subsection in a 2000-byte transfer"
        ext = migstream.section(large, "tpm-tis").subsections.get(
            "tpm-tis/ext_buffer")
        assert ext, "no ext_buffer subsection in a 6000-byte transfer"
        cut = large[:ext.header] + large[ext.end:]

        for name, stream, device, cmd, received in (
                ("small", small, "tpm-tis", small_cmd, 2000),
                ("large", large, EXT, large_cmd, 6000)):
            q.scenario(f"the {name} stream loads and the command completes",
                       completes, tmp, name, stream, device, cmd, received)

        rw_offset, active, next_locty, state, access4 = fields(small)
        cases = [
            ("rw_offset beyond the buffer",
             patch(small, rw_offset, struct.pack(">H", 4097)), "tpm-tis",
             "rw_offset: 4097 is beyond the 4096-byte buffer"),
            ("active locality out of range",
             patch(small, active, b"\x05"), "tpm-tis",
             "active_locty 5: not a locality"),
            ("locality 4 active, which no guest can use",
             patch(small, active, b"\x04"), "tpm-tis",
             "locality 4: active_locty 4, access 0x80: a locality that no"
             " guest can use"),
            ("locality 4 requested, which no guest can do",
             patch(small, access4, b"\x82"), "tpm-tis",
             "locality 4: active_locty 0, access 0x82"),
            ("an abort in progress, which pre_save never saves",
             patch(small, next_locty, b"\x01"), "tpm-tis",
             "aborting_locty 255, next_locty 1: an abort in progress"),
            ("locality state out of range",
             patch(small, state, struct.pack(">I", 7)), "tpm-tis",
             "state of locality 0: 7 is not a state"),
            ("locality state EXECUTION, which pre_save never saves",
             patch(small, state, struct.pack(">I", 3)), "tpm-tis",
             "state of locality 0: EXECUTION, which is never saved"),
            ("upper half cut out of the stream", cut, EXT,
             "ext_buffer: missing from the stream, which holds a 6000-byte"
             " transfer"),
            ("upper half for a device without the 8192-byte buffer", large,
             "tpm-tis",
             "the stream holds a transfer larger than 4096 bytes, but"
             " x-allow-ext-buffer is off"),
        ]
        for i, (what, stream, device, error) in enumerate(cases):
            q.scenario(f"{what} is refused", lambda: q.check_refused(
                load(tmp, f"bad{i}", stream, device), what, error))


if __name__ == "__main__":
    q.run(main)
