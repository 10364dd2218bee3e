# SPDX-License-Identifier: GPL-2.0-or-later
"""Drive QEMU's TPM devices from a harness test, as a guest driver would.

Machine is the base tree's QEMUQtestMachine (python/qemu) with a TPM:
qemu-system-x86_64 under the qtest accelerator (optionally inside a
chroot) with a TPM backend from swtpm, the fake TPM or the PQC TPM, and
the guest side of the CRB and TIS interfaces over qtest; migration goes
through QMP and its MIGRATION events.  Used by the harness tests across
builds, the interoperability test and the benchmarks.
"""

import os
import select
import shlex
import subprocess
import sys
import time
import traceback

import swtpm_ctrl
from builds import BASE_SRC, PATCHED, TOP, UNPATCHED, WORK  # noqa: F401

# QEMU's own python/qemu, from the base tree
sys.path.insert(0, os.path.join(BASE_SRC, "python"))
from qemu.machine import QEMUQtestMachine               # noqa: E402
from qemu.machine.machine import AbnormalShutdown       # noqa: E402

TPM_BASE = 0xFED40000
# CRB registers
CRB_LOC_CTRL, CRB_CTRL_REQ, CRB_CTRL_STS = 0x08, 0x40, 0x44
CRB_CTRL_START, CRB_CMD_SIZE, CRB_WINDOW = 0x4C, 0x58, 0x80
START, RETRY, NEXT = 1, 2, 4
MAX_BUFFER = 65536
# chunking that migrates, over a 64-byte window (patched build only)
CRB_CHUNKED_64 = ("tpm-crb,cap-chunk=on,x-allow-chunk-migration=on,"
                  "x-chunk-size=64")
# TIS registers
TIS_ACCESS, TIS_STS, TIS_FIFO = 0x00, 0x18, 0x24
TIS_STS_VALID, TIS_STS_READY, TIS_STS_GO, TIS_STS_AVAIL = 0x80, 0x40, 0x20, 0x10
TIS_ACCESS_REQUEST_USE, TIS_ACCESS_SEIZE, TIS_ACCESS_ACTIVE = 0x02, 0x08, 0x20
LOCALITY = 0x1000                # the registers of locality N at N * LOCALITY


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


def response_size(header):
    """The size field of a response header; an error if no device can
    have sent it (a buffer is never more than 64 KiB)."""
    size = int.from_bytes(header[2:6], "big")
    if not 10 <= size <= MAX_BUFFER:
        raise RuntimeError(f"a response of {size} bytes: header "
                           f"{header[:6].hex()}")
    return size


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


class Machine(QEMUQtestMachine):
    """qemu [-incoming URI] with device DEVICE (e.g. "tpm-crb,cap-chunk=on"),
    under the qtest accelerator, driven through QEMU's own python/qemu.

    qemu is a list: the binary, after the command that wraps it (e.g.
    "chroot", ROOT); root is then the chroot's directory, and every path
    given to QEMU is translated (QMP and qtest are inherited sockets).
    tpm makes the TPM from a directory: Swtpm, faketpm.FakeTpm or
    PqcBridge.  The machine is running once made; close() (or the end of
    a with block) stops it and its TPM.
    """

    def __init__(self, qemu, device, tmp, machine="q35", incoming=None,
                 root=None, extra=(), tpm=Swtpm):
        os.makedirs(tmp, exist_ok=True)
        self.tmp, self.root = tmp, root
        self.swtpm = tpm(os.path.join(tmp, "tpm"))
        args = ["-machine", machine, "-nodefaults",
                "-chardev", f"socket,id=c,path={self.p(self.swtpm.ctrl)}",
                "-tpmdev", "emulator,id=t,chardev=c",
                "-device", f"{device},tpmdev=t"]
        if incoming:
            args += ["-incoming", self.uri(incoming)]
        super().__init__(qemu[-1], args + list(extra), wrapper=qemu[:-1],
                         name="qemu", base_temp_dir=tmp)
        try:
            self.launch()
            self.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "events", "state": True}])
        except BaseException:
            self.close()
            raise

    def _post_launch(self):
        super()._post_launch()
        # no read of qtest or QMP waits forever: a stalled QEMU raises
        # TimeoutError in the test instead of hanging it
        self.set_io_timeout(IO_TIMEOUT)

    def set_io_timeout(self, seconds):
        """How long a read of qtest or QMP waits for QEMU's answer."""
        self._qtest.settimeout(seconds)
        self._qmp.settimeout(seconds)

    def __exit__(self, *exc):
        self.close()

    def p(self, path):
        """path as QEMU sees it"""
        if self.root:
            return "/" + os.path.relpath(path, self.root)
        return swtpm_ctrl.unix_path(path)

    def uri(self, uri):
        kind, _, path = uri.partition(":")
        return f"{kind}:{self.p(path)}" if kind in ("unix", "file") else uri

    def stderr(self):
        """What QEMU printed so far (stdout and stderr)."""
        log = self.get_log()
        if log is None:
            with open(os.path.join(self.log_dir, "qemu.log")) as f:
                log = f.read()
        return log

    def exit_status(self, timeout=30):
        """Wait at most timeout seconds for QEMU to exit by itself (else
        kill it and raise); its exit status."""
        self.wait(timeout)
        return self.exitcode()

    # qtest protocol
    def qtest_ok(self, line):
        reply = self.qtest(line).split()
        if not reply:
            raise RuntimeError(f"QEMU went away: {self.stderr()}")
        if reply[0] != "OK":
            raise RuntimeError(f"qtest: {line}: {reply}")
        return reply[1] if len(reply) > 1 else None

    def readl(self, off):
        return int(self.qtest_ok(f"readl 0x{TPM_BASE + off:x}"), 16)

    def readb(self, off):
        return int(self.qtest_ok(f"readb 0x{TPM_BASE + off:x}"), 16)

    def writel(self, off, val):
        self.qtest_ok(f"writel 0x{TPM_BASE + off:x} 0x{val:x}")

    def writeb(self, off, val):
        self.qtest_ok(f"writeb 0x{TPM_BASE + off:x} 0x{val:x}")

    def read(self, off, n):
        if n <= 0:
            return b""
        return bytes.fromhex(
            self.qtest_ok(f"read 0x{TPM_BASE + off:x} {n}")[2:])

    def write(self, off, data):
        self.qtest_ok(f"write 0x{TPM_BASE + off:x} {len(data)} "
                      f"0x{data.hex()}")

    # QMP
    def migrate(self, uri):
        return self.qmp("migrate", uri=self.uri(uri))

    def save_stream(self, path):
        """Save the machine's state to the file path; the stream's bytes."""
        assert "return" in self.migrate(f"file:{path}")
        status = self.migration_status()
        assert status == "completed", \
            f"saving the state: {status}: {self.stderr()}"
        with open(path, "rb") as fp:
            return fp.read()

    def migration_status(self, want=("completed", "failed"), limit=60):
        """The status of the first MIGRATION event whose status is in
        want, waited for at most limit seconds; an error if QEMU exits
        first."""
        events = [("MIGRATION", {"data": {"status": s}}) for s in want]
        end = time.monotonic() + limit
        while True:
            try:
                return self.events_wait(events, 0.2)["data"]["status"]
            except TimeoutError:
                if not self.is_running():
                    raise RuntimeError("QEMU exited during the migration: "
                                       + self.stderr())
                if time.monotonic() > end:
                    raise TimeoutError(f"no migration status in {want}")

    def run_state(self):
        return self.cmd("query-status")["status"]
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
        size = response_size(rsp)
        rsp += self.read(CRB_WINDOW + 10, min(size, self.chunk) - 10)
        got = rsp if not first_chunk_done else b""
        while len(rsp) < size:
            self.crb_start(NEXT)
            piece = self.read(CRB_WINDOW, min(size - len(rsp), self.chunk))
            if not piece:
                raise RuntimeError(f"CRB response stuck at {len(rsp)} of "
                                   f"{size} bytes: a {self.chunk}-byte window")
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
        self.writeb(TIS_ACCESS, TIS_ACCESS_REQUEST_USE)
        wait_for(lambda: self.readb(TIS_ACCESS) & TIS_ACCESS_ACTIVE,
                 "TIS locality 0")

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
        rsp += self.tis_read(response_size(rsp) - 6)
        self.writel(TIS_STS, TIS_STS_READY)
        return rsp

    def open(self, device):
        self.transfer = (self.tis_transfer if device.startswith("tpm-tis")
                         else self.crb_transfer)
        (self.tis_open if device.startswith("tpm-tis") else self.crb_open)()

    def close(self):
        try:
            if self.is_running():
                self.shutdown(timeout=IO_TIMEOUT)
            else:
                self.wait()
        except AbnormalShutdown:
            # it exited by itself while asked to quit: not an error
            if self.exitcode() is None or self.exitcode() < 0:
                raise
        finally:
            self.swtpm.stop()
        code = self.exitcode()
        if code is not None and code < 0:   # a crash, or a sanitizer's abort
            raise RuntimeError(f"QEMU died of signal {-code}: "
                               + "\n".join(self.stderr().splitlines()[-20:]))


def load_stream(qemu, device, tmp, stream, **kw):
    """Load stream into a new QEMU; return it once loaded or exited."""
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, "in.stream")
    with open(path, "wb") as f:
        f.write(stream)
    m = Machine(qemu, device, tmp, incoming="defer", **kw)
    try:
        m.cmd("migrate-incoming", uri=m.uri(f"file:{path}"))
        # a refused stream makes QEMU exit, maybe before its event is sent
        if m.migration_status() == "failed":
            m.wait()
    except RuntimeError:
        if m.is_running():
            m.close()
            raise
    except BaseException:
        m.close()
        raise
    return m


def check_refused(m, what, error):
    """m, loading a stream, must exit with status 1 and say error."""
    try:
        status = m.exit_status()
        err = m.stderr()
        assert status == 1, f"{what}: exit status {status}: {err}"
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




def need_builds():
    """The patched and the unpatched binary (scripts/run-tests.sh builds
    them before any test runs)."""
    for qemu, make in ((PATCHED, "build"), (UNPATCHED, "build-base")):
        if not os.access(qemu, os.X_OK):
            raise AssertionError(f"no {qemu}: run 'make {make}'")
    return PATCHED, UNPATCHED
