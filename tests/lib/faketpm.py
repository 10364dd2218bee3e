# SPDX-License-Identifier: GPL-2.0-or-later
"""A TPM for QEMU's emulator backend that answers with checkable bytes.

It speaks swtpm's control protocol (swtpm_ctrl.CtrlServer; every
capability up to SET_BUFFERSIZE offered, state blobs empty) on a unix
socket and takes the data channel QEMU passes with CMD_SET_DATAFD.  Its buffer is buffer_size bytes (swtpm's is 4096), so
transfers larger than anything stock swtpm allows can be checked.

Every command is answered with a TPM 2.0 success response of the size
that the command's first four body bytes ask for (at least 10); its body
is derived from a SHA-256 of the whole command (expected_response()), so
one comparison checks every byte sent and every byte received.
"""

import hashlib
import os
import socket
import struct
import threading

import swtpm_ctrl as c
from swtpm_ctrl import (                                # noqa: F401
    CMD_GET_CAPABILITY, CMD_INIT, CMD_SHUTDOWN, CMD_GET_TPMESTABLISHED,
    CMD_SET_LOCALITY, CMD_CANCEL_TPM_CMD, CMD_RESET_TPMESTABLISHED,
    CMD_GET_STATEBLOB, CMD_SET_STATEBLOB, CMD_STOP, CMD_SET_DATAFD,
    CMD_SET_BUFFERSIZE, recv_all)

CAPS = 0x3fff           # INIT .. SET_BUFFERSIZE, as QEMU's own test emulator
ECHO_CC = 0x20000001    # a vendor command code


def echo_command(size, rsp_size, fill=0x3c):
    """A command of size bytes asking for a response of rsp_size bytes."""
    body = struct.pack(">I", rsp_size)
    body += bytes((fill + i) & 0xff for i in range(size - 14))
    return struct.pack(">HII", 0x8001, size, ECHO_CC) + body


def expected_response(cmd):
    (rsp_size,) = struct.unpack(">I", cmd[10:14]) if len(cmd) >= 14 else (10,)
    rsp_size = max(rsp_size, 10)
    seed = hashlib.sha256(cmd).digest()
    body = bytes(seed[i % 32] ^ (i & 0xff) for i in range(rsp_size - 10))
    return struct.pack(">HII", 0x8001, rsp_size, 0) + body


class FakeTpm(c.CtrlServer):
    caps = CAPS
    max_command = 1 << 20

    def __init__(self, tmp, buffer_size=8192):
        super().__init__()
        os.makedirs(tmp, exist_ok=True)
        self.ctrl = os.path.join(tmp, "faketpm.sock")
        self.buffer_max = self.buffer_size = buffer_size
        self.commands = []              # every TPM command, as received
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(c.unix_path(self.ctrl))
        self.srv.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        self.serve_ctrl(conn)

    def tpm_command(self, cmd, claimed):
        self.commands.append(cmd)
        return expected_response(cmd)

    def stop(self):
        self.srv.close()
