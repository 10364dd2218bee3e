#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Unit test of tests/lib/pqc-bridge.py against a fake fwtpm_server.

The fake (written by this test, run by the bridge as its --fwtpm binary)
is a pair of TCP servers speaking the TCG simulator protocol as wolfTPM's
fwtpm_server does: it records its arguments, its working directory, every
platform signal and each command with its locality in a log, and answers
a command with an echo (the locality byte, then the command) written in
pieces.  The test drives the bridge as QEMU's emulator backend would and
checks every row of the mapping: the capabilities (no CANCEL, no state
blobs), commands before INIT, SET_BUFFERSIZE clamping and its rule
(stopped TPM only), INIT/STOP/SHUTDOWN as platform signals, the locality,
the refusal of a command above 8192 bytes (not forwarded), a short
command that does not hang, the control socket appearing only once the
TPM listens, a retry when the TPM cannot listen, and the exit (control
connection closed, SHUTDOWN, SIGTERM, SIGINT) that stops the child.
One line per scenario, "ok - ..." or "not ok - ..."; exit 1 if any failed.
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import swtpm_ctrl as c                                  # noqa: E402

BRIDGE = os.path.join(HERE, "..", "lib", "pqc-bridge.py")
PYTHON = "/usr/bin/python3"
POWER_ON, POWER_OFF, NV_ON = 1, 2, 11

FAKE = r'''#!/usr/bin/python3
# A fake fwtpm_server: the TCG simulator protocol, recorded.
import json, os, signal, socket, struct, sys, threading, time
log = os.environ["FAKE_FWTPM_LOG"]
lock = threading.Lock()

def record(**ev):
    with lock, open(log, "a") as f:
        f.write(json.dumps(ev) + "\n")

args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
plat = int(args[args.index("--platform-port") + 1])
record(event="start", argv=args, cwd=os.getcwd(), pid=os.getpid())
marker = os.environ.get("FAKE_FWTPM_FAIL_FIRST")
if marker and not os.path.exists(marker):
    open(marker, "w").close()
    record(event="cannot-listen")
    sys.exit(1)                 # as fwtpm_server when a port is taken

def term(signum, frame):
    record(event="exit", signal=signal.Signals(signum).name)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
signal.signal(signal.SIGINT, term)
time.sleep(float(os.environ.get("FAKE_FWTPM_DELAY", "0")))

def recv_all(s, n):
    d = b""
    while len(d) < n:
        p = s.recv(n - len(d))
        if not p:
            raise EOFError
        d += p
    return d

def platform(conn):
    try:
        while True:
            (sig,) = struct.unpack(">I", recv_all(conn, 4))
            record(event="signal", sig=sig)
            if sig != 20:
                conn.sendall(struct.pack(">I", 0))
    except (EOFError, OSError):
        pass

def command(conn):
    try:
        while True:
            (code,) = struct.unpack(">I", recv_all(conn, 4))
            if code == 20:
                continue
            assert code == 8, code
            loc, size = struct.unpack(">BI", recv_all(conn, 5))
            cmd = recv_all(conn, size)
            record(event="command", locality=loc, size=size, cmd=cmd[:64].hex())
            rsp = struct.pack(">HII", 0x8001, 11 + size, 0) + bytes([loc]) + cmd
            # in pieces, as fwtpm_server writes them
            for piece in (struct.pack(">I", len(rsp)), rsp[:5], rsp[5:],
                          struct.pack(">I", 0)):
                conn.sendall(piece)
                time.sleep(0.005)
    except (EOFError, OSError):
        pass

def serve(srv, handler):
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()

socks = []
for p, h in ((port, command), (plat, platform)):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p))
    s.listen(1)
    socks.append((s, h))
record(event="listening")
for s, h in socks:
    threading.Thread(target=serve, args=(s, h), daemon=True).start()
while True:
    time.sleep(3600)
'''

failures = []


def check(ok, what, detail=""):
    if ok:
        print(f"ok - {what}")
    else:
        detail = detail if len(detail) < 300 else detail[:300] + "..."
        print(f"not ok - {what}{': ' + detail if detail else ''}")
        failures.append(what)
    sys.stdout.flush()
    return ok


def cmd_bytes(cc, body=b"", size=None):
    size = 10 + len(body) if size is None else size
    return struct.pack(">HII", 0x8001, size, cc) + body


class Run:
    """A bridge on the fake, and a QEMU-like client of it."""

    def __init__(self, tmp, name, env=(), connect=True):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.fake = os.path.join(tmp, "fake_fwtpm")
        if not os.path.exists(self.fake):
            with open(self.fake, "w") as f:
                f.write(FAKE)
            os.chmod(self.fake, 0o755)
        self.log = os.path.join(self.dir, "fake.log")
        self.ctrl = os.path.join(self.dir, "ctrl.sock")
        self.state = os.path.join(self.dir, "state")
        e = dict(os.environ, FAKE_FWTPM_LOG=self.log, **dict(env))
        self.err = open(os.path.join(self.dir, "bridge.err"), "w")
        self.proc = subprocess.Popen(
            [PYTHON, BRIDGE, "--ctrl", self.ctrl, "--fwtpm", self.fake,
             "--state", self.state, "--verbose"],
            stdout=subprocess.PIPE, stderr=self.err, env=e, text=True)
        self.seen = 0
        self.ctl = self.data = None
        if connect:
            self.wait_ready()
            self.connect()

    def wait_ready(self, limit=20):
        r, _, _ = select.select([self.proc.stdout], [], [], limit)
        self.ready = self.proc.stdout.readline().strip() if r else ""
        return self.ready

    def connect(self):
        self.ctl = socket.socket(socket.AF_UNIX)
        self.ctl.settimeout(10)
        self.ctl.connect(self.ctrl)

    def events(self, kind=None):
        try:
            with open(self.log) as f:
                ev = [json.loads(line) for line in f]
        except FileNotFoundError:
            ev = []
        return [e for e in ev if kind is None or e["event"] == kind]

    def new(self, kind):
        """Events of kind since the last call."""
        ev = self.events(kind)
        got, self.seen_k = ev[getattr(self, "seen_" + kind, 0):], len(ev)
        setattr(self, "seen_" + kind, len(ev))
        return got

    def request(self, cmd, payload=b"", n=4, fd=None):
        msg = struct.pack(">I", cmd) + payload
        if fd is None:
            self.ctl.sendall(msg)
        else:
            self.ctl.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      struct.pack("i", fd))])
        return c.recv_all(self.ctl, n)

    def res(self, cmd, payload=b""):
        return struct.unpack(">I", self.request(cmd, payload))[0]

    def set_datafd(self):
        self.data, theirs = socket.socketpair()
        self.data.settimeout(10)
        rc = self.res_fd(theirs.fileno())
        theirs.close()
        return rc

    def res_fd(self, fd):
        return struct.unpack(">I", self.request(c.CMD_SET_DATAFD, fd=fd))[0]

    def buffersize(self, want):
        return struct.unpack(">IIII", self.request(
            c.CMD_SET_BUFFERSIZE, struct.pack(">I", want), 16))

    def transfer(self, cmd, limit=10):
        """Send cmd in one write; the response must come in one write
        (one read, as QEMU's probe reads it)."""
        self.data.sendall(cmd)
        r, _, _ = select.select([self.data], [], [], limit)
        if not r:
            return None, None
        rsp = self.data.recv(65536)             # at once, as QEMU does
        whole = len(rsp) >= 6 and int.from_bytes(rsp[2:6], "big") == len(rsp)
        return rsp, whole

    def close(self):
        for s in (self.ctl, self.data):
            if s:
                s.close()
        c.stop_process(self.proc)
        self.err.close()
        # never leave a fake running
        for e in self.events("start"):
            try:
                os.kill(e["pid"], 0)
            except OSError:
                continue
            os.kill(e["pid"], signal.SIGKILL)

    def child_gone(self, limit=10):
        pids = [e["pid"] for e in self.events("start")]
        end = time.monotonic() + limit
        while time.monotonic() < end:
            alive = []
            for p in pids:
                try:
                    with open(f"/proc/{p}/stat") as f:
                        if f.read().split(") ")[1][0] != "Z":
                            alive.append(p)
                except OSError:
                    pass
            if not alive:
                return True
            time.sleep(0.05)
        return False

    def stderr(self):
        self.err.flush()
        with open(os.path.join(self.dir, "bridge.err")) as f:
            return f.read()


def echo_ok(rsp, cmd, loc):
    return (rsp is not None and rsp[6:10] == b"\0\0\0\0"
            and rsp[10] == loc and rsp[11:] == cmd)


def main_run(tmp):
    marker = os.path.join(tmp, "fail-first")
    r = Run(tmp, "main", env={"FAKE_FWTPM_FAIL_FIRST": marker,
                              "FAKE_FWTPM_DELAY": "0.5"}, connect=False)
    try:
        # the control socket appears only once the TPM listens
        early = []
        end = time.monotonic() + 20
        while not os.path.exists(r.ctrl) and time.monotonic() < end:
            time.sleep(0.005)
        early = [e["event"] for e in r.events()]
        check("listening" in early,
              "control socket appears only after fwtpm_server listens",
              f"events when it appeared: {early}")
        check(r.wait_ready() == "ready", "bridge prints 'ready' on stdout",
              r.ready or r.stderr())
        starts = r.events("start")
        check(len(starts) == 2 and r.events("cannot-listen"),
              "a fwtpm_server that cannot listen is started again on other ports",
              f"{len(starts)} starts")
        a = starts[-1]["argv"]
        check(a[0] == "--clear" and a[1] == "--port" and a[3] == "--platform-port"
              and len(a) == 5 and a[2] != a[4]
              and os.path.realpath(starts[-1]["cwd"]) == os.path.realpath(r.state),
              "fwtpm_server runs as '--clear --port N --platform-port M' in --state",
              f"{a} in {starts[-1]['cwd']}")
        r.connect()

        # QEMU's order: SET_DATAFD, a TPM command as probe, GET_CAPABILITY,
        # STOP + SET_BUFFERSIZE (query), STOP + SET_BUFFERSIZE, INIT
        check(r.set_datafd() == 0, "CMD_SET_DATAFD takes the data channel")
        rsp, whole = r.transfer(cmd_bytes(0x181))          # ReadClock
        check(rsp == c.tpm_error(c.TPM_RC_FAILURE) and whole
              and not r.new("command"),
              "a command before CMD_INIT: TPM_RC_FAILURE (tag 0x8001), "
              "not forwarded", f"{rsp.hex() if rsp else rsp}")
        res, caps = struct.unpack(">II", r.request(c.CMD_GET_CAPABILITY, n=8))
        check(res == 0 and caps & c.CAPS_QEMU_TPM2 == c.CAPS_QEMU_TPM2,
              "GET_CAPABILITY offers what QEMU needs of a TPM 2.0",
              f"caps 0x{caps:x}")
        check(not caps & (c.CAP_CANCEL_TPM_CMD | c.CAP_GET_STATEBLOB
                          | c.CAP_SET_STATEBLOB),
              "GET_CAPABILITY offers neither CANCEL_TPM_CMD nor GET/SET_STATEBLOB",
              f"caps 0x{caps:x}")
        check(r.res(c.CMD_STOP) == 0 and [e["sig"] for e in r.new("signal")]
              == [POWER_OFF], "CMD_STOP before INIT: power off")
        check(r.buffersize(0) == (0, 8192, 128, 8192),
              "SET_BUFFERSIZE 0 (query): 8192, min 128, max 8192",
              str(r.buffersize(0)))
        got = {w: r.buffersize(w)[1] for w in (4096, 100000, 100, 8192)}
        check(got == {4096: 4096, 100000: 8192, 100: 128, 8192: 8192},
              "SET_BUFFERSIZE while stopped: min(request, 8192), at least 128",
              str(got))
        check(r.res(c.CMD_INIT, struct.pack(">I", 0)) == 0
              and [e["sig"] for e in r.new("signal")]
              == [POWER_OFF, POWER_ON, NV_ON],
              "CMD_INIT: power off, power on, NV on (platform port)")
        check(struct.unpack(">I", r.request(c.CMD_SET_BUFFERSIZE,
                                            struct.pack(">I", 4096)))[0]
              == c.TPM_BAD_ORDINAL and r.buffersize(0)[1] == 8192,
              "SET_BUFFERSIZE while running: refused (as swtpm), a query answers")

        # commands and localities
        cmd = cmd_bytes(0x17b, b"\x00\x20")
        rsp, whole = r.transfer(cmd)
        ev = r.new("command")
        check(echo_ok(rsp, cmd, 0) and whole and len(ev) == 1
              and ev[0]["locality"] == 0,
              "a command is forwarded at locality 0; the response, written "
              "in pieces by the TPM, reaches QEMU in one write",
              f"{rsp.hex() if rsp else rsp}, whole={whole}, {ev}")
        check(r.res(c.CMD_SET_LOCALITY, bytes([3, 0, 0, 0])) == 0,
              "CMD_SET_LOCALITY 3")
        rsp, _ = r.transfer(cmd)
        ev = r.new("command")
        check(echo_ok(rsp, cmd, 3) and [e["locality"] for e in ev] == [3],
              "the locality of SET_LOCALITY goes into each forwarded command",
              str(ev))
        check(r.res(c.CMD_SET_LOCALITY, bytes([5, 0, 0, 0]))
              == c.TPM_BAD_LOCALITY, "CMD_SET_LOCALITY 5: refused")
        rsp, _ = r.transfer(cmd)
        check([e["locality"] for e in r.new("command")] == [3],
              "a refused locality leaves the locality unchanged")
        r.res(c.CMD_SET_LOCALITY, bytes([0, 0, 0, 0]))
        full = cmd_bytes(0x17b, bytes(8192 - 10))
        rsp, whole = r.transfer(full)
        ev = r.new("command")
        check(echo_ok(rsp, full, 0) and whole and [e["size"] for e in ev] == [8192],
              "an 8192-byte command is forwarded whole")
        big = cmd_bytes(0x17b, bytes(8193 - 10))
        rsp, whole = r.transfer(big)
        check(rsp == c.tpm_error(c.TPM_RC_COMMAND_SIZE) and whole
              and not r.new("command"),
              "an 8193-byte command: TPM_RC_COMMAND_SIZE (0x8001, 10, 0x142), "
              "not forwarded", rsp.hex() if rsp else "no answer")
        rsp, _ = r.transfer(cmd)
        check(echo_ok(rsp, cmd, 0) and len(r.new("command")) == 1,
              "the next command after the refused one is intact")
        t = time.monotonic()
        short = cmd_bytes(0x17b, b"\x00\x20", size=100)
        rsp, _ = r.transfer(short, limit=5)
        took = time.monotonic() - t
        check(rsp is not None and took < 3,
              "a header claiming more bytes than sent is answered, no hang",
              f"after {took:.1f}s: {rsp.hex() if rsp else rsp}")
        r.new("command")

        # what the bridge does not offer, and the established flag
        for what, req, payload in (
                ("CANCEL_TPM_CMD", c.CMD_CANCEL_TPM_CMD, b""),
                ("GET_STATEBLOB", c.CMD_GET_STATEBLOB,
                 struct.pack(">III", 0, 1, 0)),
                ("SET_STATEBLOB", c.CMD_SET_STATEBLOB,
                 struct.pack(">III", 0, 1, 4) + b"blob")):
            check(r.res(req, payload) == c.TPM_BAD_ORDINAL,
                  f"CMD_{what}: TPM_BAD_ORDINAL")
        check(r.request(c.CMD_GET_CAPABILITY, n=8)[4:] == struct.pack(">I", caps),
              "the control channel stays in step after refused requests")
        check(r.request(c.CMD_GET_TPMESTABLISHED, n=8) == bytes(8),
              "CMD_GET_TPMESTABLISHED: not established")
        check(r.res(c.CMD_RESET_TPMESTABLISHED, bytes([3, 0, 0, 0])) == 0
              and r.res(c.CMD_RESET_TPMESTABLISHED, bytes([0, 0, 0, 0]))
              == c.TPM_BAD_LOCALITY,
              "CMD_RESET_TPMESTABLISHED: from locality 3, not 0 (as swtpm)")

        # STOP, INIT again, SHUTDOWN
        check(r.res(c.CMD_STOP) == 0
              and [e["sig"] for e in r.new("signal")] == [POWER_OFF],
              "CMD_STOP: power off")
        rsp, _ = r.transfer(cmd)
        check(rsp == c.tpm_error(c.TPM_RC_FAILURE) and not r.new("command"),
              "a command after CMD_STOP: TPM_RC_FAILURE, not forwarded")
        check(r.res(c.CMD_INIT, struct.pack(">I", 1)) == 0
              and [e["sig"] for e in r.new("signal")]
              == [POWER_OFF, POWER_ON, NV_ON],
              "CMD_INIT again: power off, power on, NV on")
        rsp, _ = r.transfer(cmd)
        check(echo_ok(rsp, cmd, 0), "commands are forwarded again")
        check(r.res(c.CMD_SHUTDOWN) == 0
              and [e["sig"] for e in r.new("signal")][:1] == [POWER_OFF],
              "CMD_SHUTDOWN: power off")
        try:
            rc = r.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0 and r.child_gone()
              and [e.get("signal") for e in r.events("exit")] == ["SIGTERM"]
              and not os.path.exists(r.ctrl),
              "after CMD_SHUTDOWN the bridge exits 0 and stops fwtpm_server "
              "(SIGTERM)", f"exit {rc}, {r.events('exit')}")
    finally:
        r.close()


def exit_runs(tmp):
    r = Run(tmp, "close")
    try:
        r.set_datafd()
        r.res(c.CMD_INIT, struct.pack(">I", 0))
        r.ctl.close()
        r.ctl = None
        try:
            rc = r.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0 and r.child_gone(),
              "control connection closed: the bridge exits, fwtpm_server stopped",
              f"exit {rc}")
    finally:
        r.close()
    for sig in (signal.SIGTERM, signal.SIGINT):
        for connected in (False, True):
            r = Run(tmp, f"{sig.name}-{connected}", connect=False)
            try:
                r.wait_ready()
                if connected:
                    r.connect()
                    r.set_datafd()
                    r.res(c.CMD_INIT, struct.pack(">I", 0))
                r.proc.send_signal(sig)
                try:
                    rc = r.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    rc = None
                check(rc == 0 and r.child_gone(),
                      f"{sig.name} {'while serving' if connected else 'before a connection'}"
                      ": the bridge exits, fwtpm_server stopped",
                      f"exit {rc}; {r.stderr()[-300:]}")
            finally:
                r.close()
    p = subprocess.run([PYTHON, BRIDGE, "--ctrl", os.path.join(tmp, "x.sock"),
                        "--fwtpm", os.path.join(tmp, "no-such-fwtpm"),
                        "--state", os.path.join(tmp, "x")],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "no-such-fwtpm" in p.stderr
          and not os.path.exists(os.path.join(tmp, "x.sock")),
          "a missing fwtpm_server binary: exit 2 naming it, no socket",
          f"exit {p.returncode}: {p.stderr}")


def main():
    if not os.access(PYTHON, os.X_OK):
        print(f"SKIP: no {PYTHON}")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="pqc-bridge-") as tmp:
        for part in (main_run, exit_runs):
            try:
                part(tmp)
            except Exception as e:          # noqa: BLE001 (report, go on)
                check(False, f"{part.__name__} ran to the end",
                      f"{type(e).__name__}: {e}")
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
