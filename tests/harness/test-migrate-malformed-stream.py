#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The tpm-crb/chunk subsection is untrusted input (spec R9).

A stream saved in the middle of a chunked response is loaded back with
each length or offset of the subsection corrupted.  Every load must be
refused with an error that names the field, by a QEMU that exits with
status 1 (not a crash); the stream as saved must load and complete the
response, and a command larger than max_xfer must load as one that the
device refuses (TPM_RC_COMMAND_SIZE), as it would have on the source;
and the chunk in the window comes from the device's state, also when the
stream's RAM holds other bytes there.
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import migstream                                        # noqa: E402
import qemuvm as q                                      # noqa: E402

DEVICE = q.CRB_CHUNKED_64


def be32(n):
    return struct.pack(">I", n)


def tpm_bytes(size, n=None, fill=0x5a):
    """n bytes (default: size) of a TPM message whose header says size."""
    n = size if n is None else n
    msg = bytearray([fill] * max(n, 10))
    msg[0:6] = b"\x80\x01" + be32(size)
    return bytes(msg[:n])


def save_stream(tmp):
    """A stream with the device RESPONDING: chunk 1 of 2 of 76 bytes."""
    with q.Machine([q.PATCHED], DEVICE, f"{tmp}/src") as m:
        m.open("tpm-crb")
        m.transfer(q.STARTUP)
        m.crb_send(q.get_random(64))
        first = m.read(q.CRB_WINDOW, 64)
        return m.save_stream(f"{tmp}/stream"), first


def split(stream):
    """stream = head + command, response, rsp_offset + tail, where the
    fields are those of the tpm-crb/chunk subsection (each byte array
    after its length)"""
    crb = migstream.section(stream, "tpm-crb")
    assert list(crb.subsections) == ["tpm-crb/chunk"], crb.subsections
    chunk = crb.subsections["tpm-crb/chunk"]
    fields = chunk.fields
    assert list(fields) == ["command", "response", "rsp_offset"], fields
    (offset,) = struct.unpack(">I", fields["rsp_offset"].value)
    return (stream[:chunk.start], fields["command"].value[4:],
            fields["response"].value[4:], offset, stream[chunk.end:])


def payload(command, response, offset):
    return (be32(len(command)) + command + be32(len(response)) + response
            + be32(offset))


def load(tmp, name, stream, device=DEVICE):
    return q.load_stream([q.PATCHED], device, f"{tmp}/{name}", stream)


def intact(tmp, head, tail, command, response, offset, first):
    """the stream as saved: the destination delivers the second chunk"""
    stream = head + payload(command, response, offset) + tail
    with load(tmp, "intact", stream) as m:
        assert m.is_running(), f"intact stream: {m.stderr()}"
        m.chunk = 64       # no crb_open(): its cmdReady drops state
        rest = m.crb_receive(first_chunk_done=True)
        assert first + rest == response, \
            f"response differs: {(first + rest).hex()} {response.hex()}"


def window_from_device(tmp, stream, first):
    """the window the stream's RAM holds is not trusted: the destination
    puts back the chunk of the device's own copy (here: RAM zeroed)"""
    crb = migstream.section(stream, "tpm-crb")
    at = stream.find(first)
    assert 0 < at < crb.header, "the window's chunk is not in the RAM"
    stream = stream[:at] + bytes(len(first)) + stream[at + len(first):]
    with load(tmp, "window", stream) as m:
        assert m.is_running(), f"stream with the window zeroed: {m.stderr()}"
        got = m.read(q.CRB_WINDOW, 64)
        assert got == first, f"the window holds {got.hex()}"


def oversize(tmp, head, tail):
    """a command larger than max_xfer loads as one that stays refused"""
    stream = head + payload(tpm_bytes(70000, 10), b"", 0) + tail
    with load(tmp, "oversize", stream) as m:
        assert m.is_running(), f"oversize command: {m.stderr()}"
        m.chunk = 64
        m.crb_start(q.START)
        rsp = m.read(q.CRB_WINDOW, 10)
        assert rsp == bytes.fromhex("8001" "0000000a" "00000142"), \
            f"oversize command answered {rsp.hex()}"


def main():
    q.need_builds()
    with tempfile.TemporaryDirectory() as tmp:
        stream, first = save_stream(tmp)
        head, command, response, offset, tail = split(stream)
        assert (command, len(response), offset) == (b"", 76, 64), \
            f"unexpected chunk state {command!r} {len(response)} {offset}"

        q.scenario("the intact stream loads and the response completes",
                   intact, tmp, head, tail, command, response, offset, first)
        q.scenario("the window comes from the device's state, not from RAM",
                   window_from_device, tmp, stream, first)
        q.scenario("a migrated command larger than max_xfer stays refused",
                   oversize, tmp, head, tail)
        cases = [
            ("command length beyond the field's limit",
             head + be32(0x100000) + tail,
             "command: 1048576 bytes exceed the field's limit"),
            ("response longer than max_xfer",
             payload(b"", tpm_bytes(4100), 64),
             "response: 4100 bytes exceed max_xfer (4096)"),
            ("offset beyond the response",
             payload(b"", response, 77),
             "rsp_offset: 77 is beyond the 76-byte response"),
            ("response header size != length",
             payload(b"", response[:2] + be32(75) + response[6:], 64),
             "response: its header size does not match its length of 76"),
            ("command too short for a header",
             payload(tpm_bytes(12, 5), b"", 0),
             "command: 5 bytes cannot hold a header"),
            ("command longer than its header",
             payload(tpm_bytes(12, 20), b"", 0),
             "command: 20 bytes received of a command of 12 bytes"),
            ("chunk state for a device without cap-chunk",
             payload(command, response, offset),
             "a chunked transfer arrived, but cap-chunk is off here"),
        ]
        for i, (what, body, error) in enumerate(cases):
            if not body.startswith(head):
                body = head + body + tail
            device = "tpm-crb" if "cap-chunk" in what else DEVICE
            q.scenario(f"{what} is refused", lambda: q.check_refused(
                load(tmp, f"bad{i}", body, device), what, error))


if __name__ == "__main__":
    q.run(main)
