#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Put wolfTPM's fwtpm_server behind QEMU's -tpmdev emulator.

  pqc-bridge.py --ctrl PATH --fwtpm FWTPM_SERVER --state DIR [--verbose]

QEMU's emulator backend speaks swtpm's control protocol; fwtpm_server
speaks the TCG simulator ("mssim") protocol on two loopback TCP ports.
This program serves the control protocol on the unix socket PATH (the
code shared with faketpm.py: swtpm_ctrl.CtrlServer), takes the data
channel QEMU passes with CMD_SET_DATAFD, and runs
"fwtpm_server --clear --port N --platform-port M" in DIR (its NV files
live there) on free ports, which it drives:

  CMD_INIT                 platform POWER_OFF, POWER_ON, NV_ON
  CMD_STOP, CMD_SHUTDOWN   platform POWER_OFF (after SHUTDOWN it exits)
  CMD_SET_LOCALITY         the locality byte of every later SEND_COMMAND
  CMD_SET_BUFFERSIZE       min(request, 8192), at least 128; 0 asks: 8192
  a TPM command            SEND_COMMAND(locality, size, command) on the
                           command port; its response goes back in one write
  a command > 8192 bytes   TPM_RC_COMMAND_SIZE, not forwarded
  a command while stopped  TPM_RC_FAILURE, not forwarded (as swtpm)

It offers neither CMD_CANCEL_TPM_CMD nor the state blob commands:
fwtpm_server cannot export its state, so QEMU must refuse to migrate
(it adds a migration blocker when a backend lacks them).

The control socket appears (bound under a temporary name, listening,
then renamed) only once fwtpm_server listens on both ports; then
"ready" is printed on stdout.  The bridge serves one control
connection and exits when it closes, after CMD_SHUTDOWN, or on
SIGTERM/SIGINT, and stops fwtpm_server in every case.  Its messages and
fwtpm_server's output go to stderr.
"""

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swtpm_ctrl as c                                  # noqa: E402

MAX_COMMAND = 8192              # fwtpm_server's FWTPM_MAX_COMMAND_SIZE
SEND_COMMAND = 8                # TCG simulator protocol (fwtpm_io.h)
POWER_ON, POWER_OFF, NV_ON, SESSION_END = 1, 2, 11, 20
SIGNAL_NAMES = {POWER_ON: "POWER_ON", POWER_OFF: "POWER_OFF", NV_ON: "NV_ON"}
START_TIMEOUT = 20.0            # seconds for fwtpm_server to listen
PORT_ATTEMPTS = 5

verbose = False


def log(msg):
    print(f"pqc-bridge: {msg}", file=sys.stderr, flush=True)


def debug(msg):
    if verbose:
        log(msg)


class Stop(Exception):
    """SIGTERM or SIGINT."""


def free_ports(n):
    """n loopback ports free right now (fwtpm_server may still lose one
    to another process: the caller retries)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening_ports(pid):
    """The loopback TCP ports process pid listens on (from /proc)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        with open(f"/proc/{pid}/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return set()
    ports = set()
    for line in lines:
        field = line.split()
        addr, port = field[1].split(":")
        if field[3] == "0A" and field[9] in inodes and addr == "0100007F":
            ports.add(int(port, 16))
    return ports


class Fwtpm:
    """fwtpm_server, started in its state directory on free ports."""

    def __init__(self):
        self.proc = self.cmd = self.plat = None

    def start(self, binary, state):
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port, self.plat_port = free_ports(2)
            self.proc = subprocess.Popen(
                [binary, "--clear", "--port", str(self.port),
                 "--platform-port", str(self.plat_port)],
                cwd=state, stdin=subprocess.DEVNULL, stdout=sys.stderr,
                stderr=sys.stderr)
            if self.wait_listening():
                break
            log(f"{binary} exited with status {self.proc.returncode} on "
                f"ports {self.port}, {self.plat_port} (taken?); attempt "
                f"{attempt} of {PORT_ATTEMPTS}")
        else:
            raise RuntimeError(f"{binary} could not be started "
                               f"({PORT_ATTEMPTS} attempts)")
        debug(f"fwtpm_server pid {self.proc.pid}: command port {self.port}, "
              f"platform port {self.plat_port}")
        self.cmd = self.connect(self.port)
        self.plat = self.connect(self.plat_port)

    def wait_listening(self):
        """True once the child listens on both ports, False if it exits."""
        end = time.monotonic() + START_TIMEOUT
        want = {self.port, self.plat_port}
        while self.proc.poll() is None:
            if want <= listening_ports(self.proc.pid):
                return True
            if time.monotonic() > end:
                raise RuntimeError(f"fwtpm_server did not listen on ports "
                                   f"{self.port}, {self.plat_port} within "
                                   f"{START_TIMEOUT:.0f}s")
            time.sleep(0.01)
        return False

    # fwtpm_server writes its answers in pieces; acknowledge each at once
    # (no delayed ACK), or Nagle on its side costs ~40 ms.  (The benchmark
    # turns both off to measure that.)
    nodelay = quickack = True

    @classmethod
    def connect(cls, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        if cls.nodelay:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    @classmethod
    def recv_all(cls, sock, n):
        data = b""
        while len(data) < n:
            if cls.quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            piece = sock.recv(n - len(data))
            if not piece:
                raise EOFError("fwtpm_server closed the connection")
            data += piece
        return data

    def signal(self, sig):
        debug(f"platform {SIGNAL_NAMES.get(sig, sig)}")
        self.plat.sendall(struct.pack(">I", sig))
        (ack,) = struct.unpack(">I", self.recv_all(self.plat, 4))
        return ack

    def command(self, locality, cmd):
        self.cmd.sendall(struct.pack(">IBI", SEND_COMMAND, locality,
                                     len(cmd)) + cmd)
        (size,) = struct.unpack(">I", self.recv_all(self.cmd, 4))
        rsp = self.recv_all(self.cmd, size)
        self.recv_all(self.cmd, 4)                      # ack
        return rsp

    def close(self):
        for s in (self.cmd, self.plat):
            if s:
                try:
                    s.sendall(struct.pack(">I", SESSION_END))
                except OSError:
                    pass
                s.close()
        self.cmd = self.plat = None
        if self.proc:
            c.stop_process(self.proc, timeout=10)   # SIGTERM: saves NV, exits


class Bridge(c.CtrlServer):
    caps = c.CAPS_QEMU_TPM2     # no CANCEL, no state blobs: no migration
    buffer_min, buffer_max = 128, MAX_COMMAND
    max_command = MAX_COMMAND
    name = "fwtpm"

    def __init__(self, fwtpm):
        super().__init__()
        self.fwtpm = fwtpm
        self.failed = False

    def trace(self, msg):
        debug(msg)

    def signals(self, *sigs):
        try:
            for s in sigs:
                if self.fwtpm.signal(s):
                    return c.TPM_FAIL
        except (OSError, EOFError) as e:
            log(f"platform port: {e}")
            return c.TPM_FAIL
        return c.TPM_SUCCESS

    def on_init(self, flags):
        return self.signals(POWER_OFF, POWER_ON, NV_ON)

    def on_stop(self):
        return self.signals(POWER_OFF)

    def on_shutdown(self):
        return self.signals(POWER_OFF)

    def tpm_command(self, cmd, claimed):
        if claimed > MAX_COMMAND or len(cmd) < 10:
            debug(f"refused a command whose header says {claimed} bytes "
                  f"({len(cmd)} bytes kept)")
            return c.tpm_error(c.TPM_RC_COMMAND_SIZE)
        with self.lock:
            if not self.running or self.failed:
                return c.tpm_error(c.TPM_RC_FAILURE)
            try:
                t = time.monotonic()
                rsp = self.fwtpm.command(self.locality, cmd)
                debug(f"cc 0x{int.from_bytes(cmd[6:10], 'big'):x}, "
                      f"{len(cmd)} bytes, locality {self.locality}: "
                      f"{len(rsp)} bytes in "
                      f"{(time.monotonic() - t) * 1000:.1f} ms")
                return rsp
            except (OSError, EOFError) as e:
                log(f"command port: {e}; fwtpm_server status "
                    f"{self.fwtpm.proc.poll()}")
                self.failed = True
                return c.tpm_error(c.TPM_RC_FAILURE)


def listen_unix(path):
    """A listening unix socket that appears at path only now."""
    tmp = os.path.join(os.path.dirname(path) or ".",
                       f".pqc-bridge.{os.getpid()}.tmp")
    if len(os.fsencode(max(path, tmp, key=len))) > 107:
        raise RuntimeError(f"socket path too long (> 107 bytes): {path}")
    srv = socket.socket(socket.AF_UNIX)
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    srv.bind(tmp)
    srv.listen(1)
    os.rename(tmp, path)
    return srv


def main():
    global verbose
    ap = argparse.ArgumentParser(
        description="swtpm's control protocol in front of fwtpm_server")
    ap.add_argument("--ctrl", required=True, help="control socket to create")
    ap.add_argument("--fwtpm", required=True, help="the fwtpm_server binary")
    ap.add_argument("--state", required=True,
                    help="fwtpm_server's working directory (its NV files)")
    ap.add_argument("--verbose", action="store_true",
                    help="log every signal and command on stderr")
    args = ap.parse_args()
    verbose = args.verbose
    if not os.access(args.fwtpm, os.X_OK):
        log(f"no executable {args.fwtpm}")
        return 2
    os.makedirs(args.state, exist_ok=True)

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    fwtpm, srv, created = Fwtpm(), None, False
    try:
        fwtpm.start(args.fwtpm, args.state)
        srv = listen_unix(args.ctrl)
        created = True
        print("ready", flush=True)
        conn, _ = srv.accept()
        srv.close()
        srv = None
        debug("control connection accepted")
        Bridge(fwtpm).serve_ctrl(conn)
        debug("control connection closed")
        return 0
    except Stop as e:
        debug(f"{e}: stopping")
        return 0
    except RuntimeError as e:
        log(str(e))
        return 1
    finally:
        # no second signal may interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if srv:
            srv.close()
        if created:
            try:
                os.unlink(args.ctrl)
            except OSError:
                pass
        fwtpm.close()


if __name__ == "__main__":
    sys.exit(main())
