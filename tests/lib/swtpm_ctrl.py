# SPDX-License-Identifier: GPL-2.0-or-later
"""The server side of swtpm's control protocol, as QEMU's emulator backend
(backends/tpm/tpm_emulator.c) uses it, once for every TPM of the harness.

QEMU connects to a unix socket (the control channel) and sends requests:
a 4-byte big-endian command number, then a fixed request structure of
backends/tpm/tpm_ioctl.h; each answer starts with a 4-byte result.  With
CMD_SET_DATAFD it passes one end of a socketpair (SCM_RIGHTS): the data
channel, on which it writes each TPM command in one write and reads the
response.

CtrlServer implements the protocol and swtpm's rules (measured on swtpm
0.7.1): a TPM command while the TPM is not initialised is answered with
TPM_RC_FAILURE; SET_BUFFERSIZE other than a query needs a stopped TPM;
localities above 4 are refused; RESET_TPMESTABLISHED only from locality 3
or 4; a command not in the offered capabilities, or unknown, is answered
TPM_BAD_ORDINAL.  A subclass says which capabilities it offers (caps) and
what a TPM command does (tpm_command); it may override the hooks on_init(),
on_stop(), on_shutdown(), on_cancel(), get_stateblob() and set_stateblob().
Users: faketpm.FakeTpm (a fake TPM for transfers swtpm cannot hold) and
pqc-bridge.py (wolfTPM's fwtpm_server behind QEMU's emulator backend).
"""

import atexit
import os
import select
import shutil
import socket
import subprocess
import struct
import tempfile
import threading

CMD_GET_CAPABILITY, CMD_INIT, CMD_SHUTDOWN, CMD_GET_TPMESTABLISHED = 1, 2, 3, 4
CMD_SET_LOCALITY, CMD_HASH_START, CMD_HASH_DATA, CMD_HASH_END = 5, 6, 7, 8
CMD_CANCEL_TPM_CMD, CMD_STORE_VOLATILE, CMD_RESET_TPMESTABLISHED = 9, 10, 11
CMD_GET_STATEBLOB, CMD_SET_STATEBLOB, CMD_STOP, CMD_GET_CONFIG = 12, 13, 14, 15
CMD_SET_DATAFD, CMD_SET_BUFFERSIZE, CMD_GET_INFO, CMD_LOCK_STORAGE = 16, 17, 18, 19

CMD_NAMES = {v: k[4:] for k, v in list(globals().items())
             if k.startswith("CMD_") and isinstance(v, int)}

# PTM_CAP_* bits of tpm_ioctl.h, and the bit each command needs
CAP_INIT, CAP_SHUTDOWN, CAP_GET_TPMESTABLISHED, CAP_SET_LOCALITY = 1, 2, 4, 8
CAP_HASHING, CAP_CANCEL_TPM_CMD, CAP_STORE_VOLATILE = 0x10, 0x20, 0x40
CAP_RESET_TPMESTABLISHED, CAP_GET_STATEBLOB, CAP_SET_STATEBLOB = 0x80, 0x100, 0x200
CAP_STOP, CAP_GET_CONFIG, CAP_SET_DATAFD, CAP_SET_BUFFERSIZE = 0x400, 0x800, 0x1000, 0x2000
CAP_GET_INFO, CAP_LOCK_STORAGE = 0x4000, 0x8000
CMD_CAP = {
    CMD_INIT: CAP_INIT, CMD_SHUTDOWN: CAP_SHUTDOWN,
    CMD_GET_TPMESTABLISHED: CAP_GET_TPMESTABLISHED,
    CMD_SET_LOCALITY: CAP_SET_LOCALITY, CMD_HASH_START: CAP_HASHING,
    CMD_HASH_DATA: CAP_HASHING, CMD_HASH_END: CAP_HASHING,
    CMD_CANCEL_TPM_CMD: CAP_CANCEL_TPM_CMD,
    CMD_STORE_VOLATILE: CAP_STORE_VOLATILE,
    CMD_RESET_TPMESTABLISHED: CAP_RESET_TPMESTABLISHED,
    CMD_GET_STATEBLOB: CAP_GET_STATEBLOB, CMD_SET_STATEBLOB: CAP_SET_STATEBLOB,
    CMD_STOP: CAP_STOP, CMD_GET_CONFIG: CAP_GET_CONFIG,
    CMD_SET_DATAFD: CAP_SET_DATAFD, CMD_SET_BUFFERSIZE: CAP_SET_BUFFERSIZE,
    CMD_GET_INFO: CAP_GET_INFO, CMD_LOCK_STORAGE: CAP_LOCK_STORAGE,
}
# What QEMU requires of a TPM 2.0 (tpm_emulator_check_caps), and what it
# needs besides to migrate one (tpm_emulator_block_migration).
CAPS_QEMU_TPM2 = (CAP_INIT | CAP_SHUTDOWN | CAP_GET_TPMESTABLISHED
                  | CAP_SET_LOCALITY | CAP_RESET_TPMESTABLISHED
                  | CAP_SET_DATAFD | CAP_STOP | CAP_SET_BUFFERSIZE)
CAPS_MIGRATION = CAP_GET_STATEBLOB | CAP_SET_STATEBLOB | CAP_STOP

# control results (TPM 1.2 codes, as swtpm uses them)
TPM_SUCCESS, TPM_FAIL, TPM_BAD_ORDINAL, TPM_BAD_LOCALITY = 0, 9, 10, 0x3d
# TPM 2.0 response codes the harness' TPMs answer themselves
TPM_RC_FAILURE, TPM_RC_COMMAND_SIZE = 0x101, 0x142


UNIX_PATH_MAX = 107            # sun_path holds 108 bytes with the NUL
_short_dirs = {}


def stop_process(proc, timeout=20):
    """SIGTERM proc if it still runs, and reap it; SIGKILL it when it has
    not exited after timeout seconds.  Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def unix_path(path):
    """path, or an alias of it short enough for a unix socket: a symlink
    to its directory in a private directory under /tmp (a deep checkout
    puts sockets beyond the limit).  The socket itself is in path's
    directory either way."""
    if len(path) <= UNIX_PATH_MAX:
        return path
    d = os.path.dirname(os.path.abspath(path))
    if d not in _short_dirs:
        top = tempfile.mkdtemp(prefix="qpqc-", dir="/tmp")
        os.symlink(d, os.path.join(top, "d"))
        atexit.register(shutil.rmtree, top, ignore_errors=True)
        _short_dirs[d] = os.path.join(top, "d")
    return os.path.join(_short_dirs[d], os.path.basename(path))


def tpm_error(rc):
    """A TPM 2.0 error response (tag TPM_ST_NO_SESSIONS, 10 bytes)."""
    return struct.pack(">HII", 0x8001, 10, rc)


def recv_all(sock, n):
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise EOFError
        data += piece
    return data


def read_command(sock, limit, idle=0.5):
    """Read one TPM command from the data channel.

    Returns (command, claimed size), or None at the end of the stream.
    The first bytes are awaited without a bound; the rest of what the
    header claims is read while it keeps arriving (idle seconds at most
    between pieces), so a header that claims more than was sent does not
    hang the channel.  At most limit bytes are kept; the rest of a
    command larger than that is read and dropped.
    """
    first = sock.recv(6)
    if not first:
        return None
    cmd = bytearray(first)

    def more(n):
        r, _, _ = select.select([sock], [], [], idle)
        return sock.recv(n) if r else b""
    while len(cmd) < 6:
        piece = more(6 - len(cmd))
        if not piece:
            return bytes(cmd), len(cmd)
        cmd += piece
    (claimed,) = struct.unpack(">I", cmd[2:6])
    got = len(cmd)
    while got < claimed:
        piece = more(min(claimed - got, 65536))
        if not piece:
            break
        got += len(piece)
        if len(cmd) < limit:
            cmd += piece[:limit - len(cmd)]
    return bytes(cmd), claimed


class CtrlServer:
    """swtpm's control protocol for one control connection."""

    caps = CAPS_QEMU_TPM2
    buffer_min, buffer_max = 128, 8192
    max_command = 8192          # larger commands are cut to this many bytes
    name = "tpm"

    def __init__(self):
        self.running = False            # after INIT, until STOP/SHUTDOWN
        self.locality = 0
        self.buffer_size = self.buffer_max
        self.established = False
        self.data = None
        self.lock = threading.Lock()

    def trace(self, msg):
        """Called with each request and its result (for logs)."""

    # hooks (on_init, on_stop and on_shutdown run with self.lock held)
    def on_init(self, flags):
        return TPM_SUCCESS

    def on_stop(self):
        return TPM_SUCCESS

    def on_shutdown(self):
        return TPM_SUCCESS

    def on_cancel(self):
        return TPM_SUCCESS

    def get_stateblob(self, blobtype):
        return b""

    def set_stateblob(self, blobtype, blob):
        return TPM_SUCCESS

    def tpm_command(self, cmd, claimed):
        """The response to cmd (claimed: the size its header says).

        Runs in the data channel's thread, without self.lock."""
        raise NotImplementedError

    # the control channel
    def serve_ctrl(self, conn):
        """Answer requests until the connection closes or SHUTDOWN."""
        try:
            while True:
                msg, anc, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(4 * 4))
                fds = []
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        n = len(data) // 4
                        fds += list(struct.unpack(f"{n}i", data[:4 * n]))
                if not msg:
                    break
                msg += recv_all(conn, 4 - len(msg))
                (cmd,) = struct.unpack(">I", msg)
                reply = self.control(conn, cmd, fds)
                self.trace(f"control {CMD_NAMES.get(cmd, cmd)}: "
                           f"{reply[:4].hex()}")
                conn.sendall(reply)
                if cmd == CMD_SHUTDOWN and reply == struct.pack(">I", 0):
                    break
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def control(self, conn, cmd, fds):
        def res(code):
            return struct.pack(">I", code)
        if cmd != CMD_SET_DATAFD:
            for fd in fds:
                socket.close(fd)
        if cmd == CMD_GET_CAPABILITY:
            return struct.pack(">II", 0, self.caps)
        if not self.caps & CMD_CAP.get(cmd, 0):
            # unknown or not offered: the request's size is not known,
            # drop what came with it
            conn.setblocking(False)
            try:
                while conn.recv(4096):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            finally:
                conn.setblocking(True)
            return res(TPM_BAD_ORDINAL)
        if cmd == CMD_SET_DATAFD:
            if not fds:
                return res(TPM_FAIL)
            for fd in fds[1:]:
                socket.close(fd)
            self.data = socket.socket(fileno=fds[0])
            threading.Thread(target=self.serve_data, args=(self.data,),
                             daemon=True).start()
            return res(TPM_SUCCESS)
        if cmd == CMD_INIT:
            (flags,) = struct.unpack(">I", recv_all(conn, 4))
            with self.lock:
                rc = self.on_init(flags)
                self.running = rc == TPM_SUCCESS
            return res(rc)
        if cmd == CMD_STOP:
            with self.lock:
                self.running = False
                return res(self.on_stop())
        if cmd == CMD_SHUTDOWN:
            with self.lock:
                self.running = False
                return res(self.on_shutdown())
        if cmd == CMD_SET_LOCALITY:
            loc = recv_all(conn, 4)[0]
            if loc > 4:
                return res(TPM_BAD_LOCALITY)
            with self.lock:
                self.locality = loc
            return res(TPM_SUCCESS)
        if cmd == CMD_GET_TPMESTABLISHED:
            return struct.pack(">IB3x", 0, int(self.established))
        if cmd == CMD_RESET_TPMESTABLISHED:
            loc = recv_all(conn, 4)[0]
            if loc not in (3, 4):
                return res(TPM_BAD_LOCALITY)
            self.established = False
            return res(TPM_SUCCESS)
        if cmd == CMD_CANCEL_TPM_CMD:
            return res(self.on_cancel())
        if cmd == CMD_SET_BUFFERSIZE:
            (want,) = struct.unpack(">I", recv_all(conn, 4))
            if want:
                if self.running:
                    return res(TPM_BAD_ORDINAL)     # as swtpm: stop first
                self.buffer_size = max(self.buffer_min,
                                       min(want, self.buffer_max))
            return struct.pack(">IIII", 0, self.buffer_size,
                               self.buffer_min, self.buffer_max)
        if cmd == CMD_GET_STATEBLOB:
            _, blobtype, _ = struct.unpack(">III", recv_all(conn, 12))
            blob = self.get_stateblob(blobtype)
            return struct.pack(">IIII", 0, 0, len(blob), len(blob)) + blob
        if cmd == CMD_SET_STATEBLOB:
            _, blobtype, length = struct.unpack(">III", recv_all(conn, 12))
            return res(self.set_stateblob(blobtype, recv_all(conn, length)))
        # offered by a subclass without an implementation here
        return res(TPM_BAD_ORDINAL)

    # the data channel
    def serve_data(self, data):
        try:
            while True:
                got = read_command(data, self.max_command)
                if got is None:
                    break
                data.sendall(self.tpm_command(*got))    # in one write
        except (EOFError, OSError, struct.error):
            pass
        finally:
            data.close()
