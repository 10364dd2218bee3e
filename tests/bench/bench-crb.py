#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Time TPM commands through tpm-crb on several QEMU builds, in one run.

Each configuration is a QEMU binary plus tpm-crb properties.  For each one
a fresh swtpm is started, QEMU runs under the qtest accelerator and this
script drives the CRB registers over the qtest protocol, like a guest
driver would: write the command into the window, set Start, poll until
Start clears, read the response (with chunking: nextChunk per chunk).
Rounds alternate between the configurations so that machine noise hits
them alike; the figures are per command (median and mean over rounds).

    bench-crb.py [--rounds N] [--commands N] NAME=QEMU[,PROPS] ...
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CRB = 0xFED40000
LOC_CTRL, CTRL_REQ, CTRL_STS, CTRL_START = 0x08, 0x40, 0x44, 0x4C
CMD_SIZE = 0x58
WINDOW = CRB + 0x80
START, NEXT = 1, 4
STARTUP = bytes.fromhex("80010000000c000001440000")


def get_random(n):
    return bytes.fromhex("80010000000c0000017b") + n.to_bytes(2, "big")


def wait_for(cond, what, limit=10.0):
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.01)


class Machine:
    """QEMU with a tpm-crb backed by a fresh swtpm, driven over qtest."""

    def __init__(self, qemu, props, tmp):
        self.tmp = tmp
        ctrl = os.path.join(tmp, "swtpm.sock")
        self.swtpm = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={tmp}",
             "--ctrl", f"type=unixio,path={ctrl}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(ctrl), "swtpm")
        qsock = os.path.join(tmp, "qtest.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(qsock)
        srv.listen(1)
        dev = "tpm-crb,tpmdev=t" + ("," + props if props else "")
        self.qemu = subprocess.Popen(
            [qemu, "-machine", "q35", "-accel", "qtest", "-display", "none",
             "-nodefaults", "-qtest", f"unix:{qsock}",
             "-chardev", f"socket,id=c,path={ctrl}",
             "-tpmdev", "emulator,id=t,chardev=c", "-device", dev],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv.settimeout(20)
        self.sock, _ = srv.accept()
        srv.close()
        self.rfile = self.sock.makefile("r")
        self.writeb(LOC_CTRL, 1)
        self.writel(CTRL_REQ, 1)
        self.chunk = self.readl(CMD_SIZE)
        self.transfer(STARTUP)

    def cmd(self, line):
        self.sock.sendall((line + "\n").encode())
        while True:
            reply = self.rfile.readline().split()
            if reply and reply[0] != "IRQ":
                break
        if reply[0] != "OK":
            sys.exit(f"qtest: {line}: {reply}")
        return reply[1] if len(reply) > 1 else None

    def readl(self, off):
        return int(self.cmd(f"readl 0x{CRB + off:x}"), 16)

    def writel(self, off, val):
        self.cmd(f"writel 0x{CRB + off:x} 0x{val:x}")

    def writeb(self, off, val):
        self.cmd(f"writeb 0x{CRB + off:x} 0x{val:x}")

    def set_start(self, bits):
        self.writel(CTRL_START, bits)
        while self.readl(CTRL_START) & bits:
            pass

    def transfer(self, req):
        for off in range(0, len(req), self.chunk):
            piece = req[off:off + self.chunk]
            self.cmd(f"write 0x{WINDOW:x} {len(piece)} 0x{piece.hex()}")
            last = off + self.chunk >= len(req)
            self.set_start(START if last else NEXT)
        if self.readl(CTRL_STS) & 1:
            sys.exit("tpmSts set: the TPM failed")
        # as a driver does: the header first, then what the size says
        rsp = self.read(10)
        size = int.from_bytes(rsp[2:6], "big")
        rsp += self.read(min(size, self.chunk) - 10, 10)
        while len(rsp) < size:
            self.set_start(NEXT)
            rsp += self.read(min(size - len(rsp), self.chunk))
        return rsp

    def read(self, n, off=0):
        if n <= 0:
            return b""
        return bytes.fromhex(self.cmd(f"read 0x{WINDOW + off:x} {n}")[2:])

    def close(self):
        self.sock.close()
        self.qemu.terminate()       # qtest QEMU does not quit on its own
        self.qemu.wait(timeout=20)
        self.swtpm.terminate()
        self.swtpm.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--commands", type=int, default=300)
    ap.add_argument("--bytes", type=int, default=32,
                    help="GetRandom size (response is 12 bytes more)")
    ap.add_argument("configs", nargs="+", metavar="NAME=QEMU[,PROPS]")
    args = ap.parse_args()

    configs = []
    for spec in args.configs:
        name, _, rest = spec.partition("=")
        qemu, _, props = rest.partition(",")
        configs.append((name, qemu, props))

    times = {name: [] for name, _, _ in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for i, (name, qemu, props) in enumerate(configs):
                d = os.path.join(tmp, f"{r}-{i}")
                os.mkdir(d)
                m = Machine(qemu, props, d)
                req = get_random(args.bytes)
                t0 = time.perf_counter()
                for _ in range(args.commands):
                    rsp = m.transfer(req)
                t1 = time.perf_counter()
                if rsp[6:10] != b"\0\0\0\0" or len(rsp) != 12 + args.bytes:
                    sys.exit(f"{name}: bad response {rsp.hex()}")
                m.close()
                times[name].append((t1 - t0) / args.commands * 1e6)

    base = statistics.median(times[configs[0][0]])
    print(f"TPM2_GetRandom({args.bytes}) through tpm-crb, "
          f"{args.rounds} rounds x {args.commands} commands, "
          "microseconds per command")
    print(f"{'configuration':<28} {'median':>8} {'mean':>8} {'min':>8}"
          f" {'vs ' + configs[0][0]:>12}")
    for name, _, _ in configs:
        t = times[name]
        med = statistics.median(t)
        print(f"{name:<28} {med:8.1f} {statistics.mean(t):8.1f}"
              f" {min(t):8.1f} {100 * (med - base) / base:+11.1f}%")


if __name__ == "__main__":
    main()
