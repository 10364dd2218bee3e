# SPDX-License-Identifier: GPL-2.0-or-later
"""Drive QEMU's TPM devices from a harness test, as a guest driver would.

Machine starts qemu-system-x86_64 under the qtest accelerator (optionally
inside a chroot) with a TPM backed by swtpm, and talks the qtest protocol
to reach the registers and QMP to migrate.  Used by the cross-version and
interoperability tests and by the benchmark.
"""

import json
import os
import select
import shlex
import socket
import subprocess
import sys
import time
import traceback

import swtpm_ctrl

TPM_BASE = 0xFED40000
# CRB registers
CRB_LOC_CTRL, CRB_CTRL_REQ, CRB_CTRL_STS = 0x08, 0x40, 0x44
CRB_CTRL_START, CRB_CMD_SIZE, CRB_WINDOW = 0x4C, 0x58, 0x80
START, RETRY, NEXT = 1, 2, 4
# chunking that migrates, over a 64-byte window (patched build only)
CRB_CHUNKED_64 = ("tpm-crb,cap-chunk=on,x-allow-chunk-migration=on,"
                  "x-chunk-size=64")
# TIS registers
TIS_ACCESS, TIS_STS, TIS_FIFO = 0x00, 0x18, 0x24
TIS_STS_VALID, TIS_STS_READY, TIS_STS_GO, TIS_STS_AVAIL = 0x80, 0x40, 0x20, 0x10


def tpm_cmd(tag, cc, body):
    size = 10 + len(body)
    return (tag.to_bytes(2, "big") + size.to_bytes(4, "big")
            + cc.to_bytes(4, "big") + body)


STARTUP = tpm_cmd(0x8001, 0x144, bytes.fromhex("0000"))
# PCR_Extend(16, sha256: 32 x 0x74), password session with empty auth
PCR_EXTEND_16 = tpm_cmd(0x8002, 0x182, bytes.fromhex(
    "00000010" "00000009" "40000009" "0000" "00" "0000"
    "00000001" "000b") + b"\x74" * 32)
# PCR_Read(sha256: PCR 16)
PCR_READ_16 = tpm_cmd(0x8001, 0x17e, bytes.fromhex("00000001000b03000001"))


def get_random(n):
    return tpm_cmd(0x8001, 0x17b, n.to_bytes(2, "big"))


def padded(size):
    """GetRandom padded with zeroes to size bytes (swtpm: TPM_RC_SIZE)."""
    cmd = bytearray(get_random(16).ljust(size, b"\0"))
    cmd[2:6] = size.to_bytes(4, "big")
    return bytes(cmd)


def rc(rsp):
    return int.from_bytes(rsp[6:10], "big")


class SkipTest(Exception):
    pass


def wait_for(cond, what, limit=20.0, pause=0.01):
    """Poll cond (every pause seconds) for at most limit seconds."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(pause)


class Swtpm:
    def __init__(self, tmp):
        os.makedirs(tmp, exist_ok=True)
        self.ctrl = os.path.join(tmp, "swtpm.sock")
        self.proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={tmp}",
             "--ctrl",
             f"type=unixio,path={swtpm_ctrl.unix_path(self.ctrl)}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(self.ctrl), "swtpm's socket")

    def stop(self):
        swtpm_ctrl.stop_process(self.proc)


def pqc_bridge_command():
    """The command that runs pqc-bridge.py on the PQC TPM (fwtpm_server),
    without --ctrl and --state; SkipTest naming what is missing.

    scripts/run-tests.sh builds the TPM (scripts/build-pqc-tpm.sh) and
    sets QPQC_FWTPM and QPQC_PQC_BRIDGE, or QPQC_PQC_MISSING (why not)."""
    fwtpm = os.environ.get("QPQC_FWTPM")
    if not fwtpm:
        raise SkipTest(os.environ.get("QPQC_PQC_MISSING")
                       or "QPQC_FWTPM is not set: no PQC TPM "
                          "(scripts/build-pqc-tpm.sh prints its path)")
    if not os.access(fwtpm, os.X_OK):
        raise SkipTest(f"no {fwtpm} (QPQC_FWTPM): the PQC TPM is not built")
    bridge = os.environ.get("QPQC_PQC_BRIDGE")
    if bridge:
        return shlex.split(bridge)
    return ["/usr/bin/python3", os.path.join(TOP, "tests", "lib",
                                             "pqc-bridge.py"),
            "--fwtpm", fwtpm]


class PqcBridge:
    """wolfTPM's fwtpm_server behind tests/lib/pqc-bridge.py: a TPM with
    ML-DSA for QEMU's emulator backend (it cannot migrate)."""

    def __init__(self, tmp):
        os.makedirs(tmp, exist_ok=True)
        self.ctrl = os.path.join(tmp, "bridge.sock")
        self.log_path = os.path.join(tmp, "bridge.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            pqc_bridge_command() + ["--ctrl", self.ctrl,
                                    "--state", os.path.join(tmp, "state")],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        r, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().strip() if r else ""
        if line != "ready":
            self.proc.terminate()
            self.stop()
            raise RuntimeError(f"pqc-bridge not ready: {self.stderr()}")

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        # it exits when QEMU closes the control connection
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            swtpm_ctrl.stop_process(self.proc)
        self.proc.stdout.close()
        self.log.close()


IO_TIMEOUT = 120          # seconds; TCG on a loaded 2-core machine is slow


class Machine:
    """qemu [-incoming URI] with device DEVICE (e.g. "tpm-crb,cap-chunk=on").

    qemu is a list (the binary, or "chroot", ROOT, binary); root is then
    the chroot's directory, and every path given to QEMU is translated.
    tpm makes the TPM from a directory: Swtpm, faketpm.FakeTpm or
    PqcBridge.
    """

    def __init__(self, qemu, device, tmp, machine="q35", incoming=None,
                 root=None, extra=(), tpm=Swtpm):
        os.makedirs(tmp, exist_ok=True)
        self.tmp, self.root = tmp, root
        self.swtpm = tpm(os.path.join(tmp, "tpm"))
        qsock = os.path.join(tmp, "qtest.sock")
        self.qmp_path = os.path.join(tmp, "qmp.sock")
        self.err_path = os.path.join(tmp, "qemu.err")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(swtpm_ctrl.unix_path(qsock))
        srv.listen(1)
        args = ["-machine", machine, "-accel", "qtest", "-display", "none",
                "-nodefaults", "-qtest", f"unix:{self.p(qsock)}",
                "-qmp", f"unix:{self.p(self.qmp_path)},server=on,wait=off",
                "-chardev", f"socket,id=c,path={self.p(self.swtpm.ctrl)}",
                "-tpmdev", "emulator,id=t,chardev=c",
                "-device", f"{device},tpmdev=t"]
        if incoming:
            args += ["-incoming", self.uri(incoming)]
        args += list(extra)
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(qemu + args, stdout=self.err,
                                     stderr=self.err)
        srv.settimeout(30)
        try:
            self.sock, _ = srv.accept()
        except socket.timeout:
            self.proc.kill()
            raise RuntimeError(f"QEMU did not start: {self.stderr()}")
        srv.close()
        # no read of qtest or QMP waits forever: a stalled QEMU raises
        # TimeoutError in the test instead of hanging it
        self.sock.settimeout(IO_TIMEOUT)
        self.rfile = self.sock.makefile("r")
        wait_for(lambda: os.path.exists(self.qmp_path), "QMP socket")
        self.qmp_sock = socket.socket(socket.AF_UNIX)
        self.qmp_sock.connect(swtpm_ctrl.unix_path(self.qmp_path))
        self.qmp_sock.settimeout(IO_TIMEOUT)
        self.qmp_file = self.qmp_sock.makefile("r")
        self.qmp_file.readline()                # greeting
        self.qmp("qmp_capabilities")

    def p(self, path):
        """path as QEMU sees it"""
        if self.root:
            return "/" + os.path.relpath(path, self.root)
        return swtpm_ctrl.unix_path(path)

    def uri(self, uri):
        kind, _, path = uri.partition(":")
        return f"{kind}:{self.p(path)}" if kind in ("unix", "file") else uri

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    # qtest protocol
    def cmd(self, line):
        self.sock.sendall((line + "\n").encode())
        while True:
            reply = self.rfile.readline().split()
            if not reply:
                raise RuntimeError(f"QEMU went away: {self.stderr()}")
            if reply[0] != "IRQ":
                break
        if reply[0] != "OK":
            raise RuntimeError(f"qtest: {line}: {reply}")
        return reply[1] if len(reply) > 1 else None

    def readl(self, off):
        return int(self.cmd(f"readl 0x{TPM_BASE + off:x}"), 16)

    def readb(self, off):
        return int(self.cmd(f"readb 0x{TPM_BASE + off:x}"), 16)

    def writel(self, off, val):
        self.cmd(f"writel 0x{TPM_BASE + off:x} 0x{val:x}")

    def writeb(self, off, val):
        self.cmd(f"writeb 0x{TPM_BASE + off:x} 0x{val:x}")

    def read(self, off, n):
        if n <= 0:
            return b""
        return bytes.fromhex(
            self.cmd(f"read 0x{TPM_BASE + off:x} {n}")[2:])

    def write(self, off, data):
        self.cmd(f"write 0x{TPM_BASE + off:x} {len(data)} 0x{data.hex()}")

    # QMP
    def qmp(self, name, **args):
        self.qmp_sock.sendall(json.dumps(
            {"execute": name, "arguments": args}).encode())
        while True:
            msg = json.loads(self.qmp_file.readline())
            if "return" in msg or "error" in msg:
                return msg

    def migrate(self, uri):
        return self.qmp("migrate", uri=self.uri(uri))

    def migration_status(self, want=("completed", "failed"), limit=60):
        status = [None]

        def done():
            status[0] = self.qmp("query-migrate")["return"].get("status")
            return status[0] in want
        wait_for(done, f"migration status in {want}", limit)
        return status[0]

    def run_state(self):
        return self.qmp("query-status")["return"]["status"]

    # CRB, as a driver with chunking does (without: chunks are never needed)
    def crb_open(self):
        self.writeb(CRB_LOC_CTRL, 1)
        self.writel(CRB_CTRL_REQ, 1)
        self.chunk = self.readl(CRB_CMD_SIZE)

    def crb_start(self, bits):
        self.writel(CRB_CTRL_START, bits)
        # each poll is a round trip through QEMU already: no pause
        wait_for(lambda: not self.readl(CRB_CTRL_START) & bits,
                 "CRB_CTRL_START to clear", pause=0)

    def crb_send(self, req, first=0, last=None):
        """Send chunks [first, last) of req; Start after the final one."""
        chunks = [req[i:i + self.chunk] for i in range(0, len(req),
                                                       self.chunk)]
        last = len(chunks) if last is None else last
        for i in range(first, last):
            self.write(CRB_WINDOW, chunks[i])
            self.crb_start(START if i == len(chunks) - 1 else NEXT)

    def crb_receive(self, first_chunk_done=False):
        """Read a whole response; first_chunk_done: chunk 0 was read."""
        rsp = self.read(CRB_WINDOW, 10)
        size = int.from_bytes(rsp[2:6], "big")
        rsp += self.read(CRB_WINDOW + 10, min(size, self.chunk) - 10)
        got = rsp if not first_chunk_done else b""
        while len(rsp) < size:
            self.crb_start(NEXT)
            piece = self.read(CRB_WINDOW, min(size - len(rsp), self.chunk))
            rsp += piece
            got += piece
        return got

    def crb_transfer(self, req):
        if self.readl(CRB_CTRL_STS) & 1:
            raise RuntimeError("CRB tpmSts set: the TPM failed")
        self.crb_send(req)
        return self.crb_receive()

    # TIS FIFO, locality 0
    def tis_open(self):
        self.writeb(TIS_ACCESS, 0x02)           # requestUse
        wait_for(lambda: self.readb(TIS_ACCESS) & 0x20, "TIS locality 0")

    def tis_write(self, data, ready=True):
        """Write data to the FIFO; with ready, start a command first."""
        if ready:
            self.writel(TIS_STS, TIS_STS_READY)
        for b in data:
            self.writeb(TIS_FIFO, b)

    def tis_go(self):
        self.writel(TIS_STS, TIS_STS_GO)
        want = TIS_STS_VALID | TIS_STS_AVAIL
        wait_for(lambda: self.readl(TIS_STS) & want == want, "TIS response",
                 pause=0)

    def tis_read(self, n):
        return bytes(self.readb(TIS_FIFO) for _ in range(n))

    def tis_transfer(self, req):
        self.tis_write(req)
        self.tis_go()
        rsp = self.tis_read(6)
        rsp += self.tis_read(int.from_bytes(rsp[2:6], "big") - 6)
        self.writel(TIS_STS, TIS_STS_READY)
        return rsp

    def open(self, device):
        self.transfer = (self.tis_transfer if device.startswith("tpm-tis")
                         else self.crb_transfer)
        (self.tis_open if device.startswith("tpm-tis") else self.crb_open)()

    def close(self):
        for f in (self.sock, self.qmp_sock):
            f.close()
        swtpm_ctrl.stop_process(self.proc)  # qtest QEMU does not quit by itself
        self.err.close()
        self.swtpm.stop()


def load_stream(qemu, device, tmp, stream, **kw):
    """Load stream into a new QEMU; return it once loaded or exited."""
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "in.stream")
    with open(path, "wb") as f:
        f.write(stream)
    m = Machine(qemu, device, tmp, incoming="defer", **kw)
    m.qmp("migrate-incoming", uri=m.uri(f"file:{path}"))

    def loaded():
        try:
            return m.proc.poll() is not None or m.run_state() != "inmigrate"
        except (ValueError, OSError):           # QMP closed: QEMU exits
            m.proc.wait(timeout=30)
            return True
    wait_for(loaded, "the load", 60)
    return m


def tis_section(stream):
    """Where the tpm-tis section of a saved stream starts (its name), and
    where its fields start (the 4096 bytes of the buffer)."""
    start = stream.find(b"\x07tpm-tis\x00")
    assert start > 5 and stream[start - 5] == 0x04, "no tpm-tis section"
    return start, start + 8 + 8                 # name, instance, version


def check_refused(m, what, error):
    """m, loading a stream, must exit with status 1 and say error."""
    try:
        m.proc.wait(timeout=30)
        err = m.stderr()
        assert m.proc.returncode == 1, \
            f"{what}: exit status {m.proc.returncode}: {err}"
        assert error in err, f"{what}: no '{error}' in: {err}"
    finally:
        m.close()
    print(f"ok: {what}: refused with '{error}'")


_scenarios = {"run": 0, "failed": 0}


def scenario(name, fn, *args):
    """Run fn(*args) as one scenario of the test: one TAP line for it
    ("ok N - name", "not ok N - name: why", "ok N - name # SKIP why"),
    which scripts/run-tests.sh records as a result of its own, so that a
    failure does not hide the scenarios after it."""
    _scenarios["run"] += 1
    n = _scenarios["run"]
    try:
        fn(*args)
    except SkipTest as e:
        print(f"ok {n} - {name} # SKIP {e}", flush=True)
    except Exception as e:              # any error fails this scenario only
        traceback.print_exc()
        why = (str(e) or type(e).__name__).splitlines()[0]
        print(f"not ok {n} - {name}: {why}", flush=True)
        _scenarios["failed"] += 1
    else:
        print(f"ok {n} - {name}", flush=True)


def run(test):
    """Run test(); exit 0 on success, 77 with SKIP: on SkipTest, 1 on a
    failure of test() or of one of its scenarios."""
    try:
        test()
    except SkipTest as e:
        print(f"SKIP: {e}")
        sys.exit(77)
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    if _scenarios["failed"]:
        print(f"FAIL: {_scenarios['failed']} of {_scenarios['run']} scenarios")
        sys.exit(1)


TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _build_env():
    """QPQC_* of scripts/lib.sh (build_env), which defines the builds:
    exported by scripts/run-tests.sh, asked for when a test runs alone."""
    if "QPQC_QEMU_PATCHED" in os.environ:
        return
    out = subprocess.run(["bash", "-c", '. "$0/scripts/lib.sh" && build_env && env', TOP],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("QPQC_"):
            os.environ[key] = value


_build_env()
WORK = os.environ.get("QPQC_WORK", os.path.join(TOP, ".work"))
PATCHED = os.environ["QPQC_QEMU_PATCHED"]
UNPATCHED = os.environ["QPQC_QEMU_UNPATCHED"]


def need_builds():
    """The patched and the unpatched binary (scripts/run-tests.sh builds
    them before any test runs)."""
    for qemu, make in ((PATCHED, "build"), (UNPATCHED, "build-base")):
        if not os.access(qemu, os.X_OK):
            raise AssertionError(f"no {qemu}: run 'make {make}'")
    return PATCHED, UNPATCHED
