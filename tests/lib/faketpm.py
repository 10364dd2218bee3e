# SPDX-License-Identifier: GPL-2.0-or-later
"""A TPM for QEMU's emulator backend that answers with checkable bytes.

It speaks swtpm's control protocol (the subset QEMU uses, state blobs
empty) on a unix socket and takes the data channel QEMU passes with
CMD_SET_DATAFD.  Its buffer is buffer_size bytes (swtpm's is 4096), so
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

CMD_GET_CAPABILITY, CMD_INIT, CMD_SHUTDOWN, CMD_GET_TPMESTABLISHED = 1, 2, 3, 4
CMD_SET_LOCALITY, CMD_CANCEL_TPM_CMD, CMD_RESET_TPMESTABLISHED = 5, 9, 11
CMD_GET_STATEBLOB, CMD_SET_STATEBLOB, CMD_STOP = 12, 13, 14
CMD_SET_DATAFD, CMD_SET_BUFFERSIZE = 16, 17
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


def recv_all(sock, n):
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise EOFError
        data += piece
    return data


class FakeTpm:
    def __init__(self, tmp, buffer_size=8192):
        os.makedirs(tmp, exist_ok=True)
        self.ctrl = os.path.join(tmp, "faketpm.sock")
        self.buffer_size = buffer_size
        self.commands = []              # every TPM command, as received
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.ctrl)
        self.srv.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        try:
            while True:
                # CMD_SET_DATAFD comes with the data channel's descriptor
                msg, anc, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(4))
                if not msg:
                    break
                msg += recv_all(conn, 4 - len(msg))
                self.fd = struct.unpack("i", anc[0][2][:4])[0] if anc else None
                conn.sendall(self.control(conn, struct.unpack(">I", msg)[0]))
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def control(self, conn, cmd):
        ok = struct.pack(">I", 0)
        if cmd == CMD_GET_CAPABILITY:
            return struct.pack(">II", 0, CAPS)
        if cmd == CMD_SET_DATAFD:
            data = socket.socket(fileno=self.fd)
            threading.Thread(target=self.serve_data, args=(data,),
                             daemon=True).start()
            return ok
        if cmd in (CMD_INIT, CMD_SET_LOCALITY, CMD_RESET_TPMESTABLISHED):
            recv_all(conn, 4)               # a 4-byte request
            return ok
        if cmd in (CMD_SHUTDOWN, CMD_STOP, CMD_CANCEL_TPM_CMD):
            return ok
        if cmd == CMD_GET_TPMESTABLISHED:
            return struct.pack(">IB3x", 0, 0)
        if cmd == CMD_SET_BUFFERSIZE:
            (want,) = struct.unpack(">I", recv_all(conn, 4))
            size = min(want, self.buffer_size) if want else self.buffer_size
            return struct.pack(">IIII", 0, size, 128, self.buffer_size)
        if cmd == CMD_GET_STATEBLOB:
            recv_all(conn, 12)
            return struct.pack(">IIII", 0, 0, 0, 0)
        if cmd == CMD_SET_STATEBLOB:
            _, _, length = struct.unpack(">III", recv_all(conn, 12))
            recv_all(conn, length)
            return ok
        raise OSError(f"faketpm: unsupported control command {cmd}")

    def serve_data(self, data):
        try:
            while True:
                hdr = recv_all(data, 6)
                (size,) = struct.unpack(">I", hdr[2:6])
                cmd = hdr + recv_all(data, size - 6)
                self.commands.append(cmd)
                data.sendall(expected_response(cmd))
        except (EOFError, OSError, struct.error):
            pass
        finally:
            data.close()

    def stop(self):
        self.srv.close()
