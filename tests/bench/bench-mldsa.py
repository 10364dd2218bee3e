#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Time ML-DSA-87 sign + verify through QEMU's TPM devices and straight
to the TPM, in one run, and split the time between device and TPM.

The TPM is wolfTPM's fwtpm_server (--fwtpm, default $QPQC_FWTPM).  A
sign + verify is five commands (mldsa87.py): SignSequenceStart,
SignSequenceComplete (4655-byte answer), VerifySequenceStart,
SequenceUpdate, VerifySequenceComplete (4662-byte command).  Each round
runs every configuration once, in turn, on a fresh TPM and a fresh key:

  direct-plain    the TCG simulator protocol straight to fwtpm_server on a
                  plain TCP socket (what any client gets)
  direct-nodelay  the same with TCP_NODELAY on our side only
  direct          TCP_NODELAY and TCP_QUICKACK before every read: the
                  code of tests/lib/pqc-bridge.py (its Fwtpm class); the
                  baseline of the device's share
  bridge          pqc-bridge.py driven over swtpm's control protocol and
                  its data channel as QEMU drives it, without QEMU
  NAME=QEMU,DEVICE[,PROPS]
                  QEMU under the qtest accelerator with -device DEVICE on
                  -tpmdev emulator (the bridge), its registers driven as a
                  guest driver would (tests/lib/qemuvm.py)

GetRandom(16), timed the same way, is the cost of a command that needs
no computation.  (fwtpm_server writes each answer as size, response and
ack in three writes, without TCP_NODELAY: Nagle holds the response until
the size is acknowledged, and a plain client delays that ACK.)  The
figures, ms per operation, median and min over all operations of all
rounds, are followed by the split: the TPM's compute (direct sign +
verify minus five direct GetRandoms), the socket latency of a plain
connection per command (direct-plain GetRandom minus direct GetRandom),
the bridge's cost (bridge minus direct), and each device's share (its
time minus direct's, and minus the bridge's: QEMU alone).

    bench-mldsa.py [--rounds N] [--ops N] [--randoms N] [--fwtpm PATH]
                   [NAME=QEMU,DEVICE[,PROPS] ...]
"""

import argparse
import contextlib
import importlib.util
import os
import socket
import statistics
import struct
import sys
import tempfile
import time

sys.dont_write_bytecode = True         # no __pycache__ in the checkout
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mldsa87 as ml                                    # noqa: E402
import qemuvm as q                                      # noqa: E402
import swtpm_ctrl as c                                  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "pqc_bridge", os.path.join(HERE, "..", "lib", "pqc-bridge.py"))
bridge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bridge)

MESSAGE = b"QEMU TPM post-quantum transfer"
GET_RANDOM_16 = q.get_random(16)
COMMANDS = ml.COMMANDS_PER_SIGN + ml.COMMANDS_PER_VERIFY


class PlainFwtpm(bridge.Fwtpm):
    """pqc-bridge.py's Fwtpm on a socket without TCP options."""

    nodelay = quickack = False


class NodelayFwtpm(PlainFwtpm):
    nodelay = True


class Direct:
    """fwtpm_server on its own, powered on as the bridge's CMD_INIT does."""

    def __init__(self, kind, fwtpm, tmp):
        os.makedirs(tmp)
        self.log = open(os.path.join(tmp, "fwtpm.log"), "w")
        self.tpm = kind()
        with contextlib.redirect_stderr(self.log):  # its output, and ours
            self.tpm.start(fwtpm, tmp)
        for sig in (bridge.POWER_OFF, bridge.POWER_ON, bridge.NV_ON):
            if self.tpm.signal(sig):
                raise RuntimeError(f"fwtpm_server refused signal {sig}")

    def transfer(self, cmd):
        return self.tpm.command(0, cmd)

    def close(self):
        with contextlib.redirect_stderr(self.log):
            self.tpm.close()
        self.log.close()


class BridgeOnly:
    """pqc-bridge.py as QEMU's emulator backend drives it: CMD_SET_DATAFD,
    CMD_INIT, then each command in one write on the data channel."""

    def __init__(self, tmp):
        self.bridge = q.PqcBridge(tmp)
        self.ctl = socket.socket(socket.AF_UNIX)
        self.ctl.connect(self.bridge.ctrl)
        self.data, theirs = socket.socketpair()
        self.request(c.CMD_SET_DATAFD, fd=theirs.fileno())
        theirs.close()
        self.request(c.CMD_INIT, struct.pack(">I", 0))

    def request(self, cmd, payload=b"", fd=None):
        msg = struct.pack(">I", cmd) + payload
        anc = [] if fd is None else [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      struct.pack("i", fd))]
        self.ctl.sendmsg([msg], anc)
        res, = struct.unpack(">I", c.recv_all(self.ctl, 4))
        if res:
            raise RuntimeError(f"bridge: control command {cmd}: {res}")

    def transfer(self, cmd):
        self.data.sendall(cmd)
        rsp = c.recv_all(self.data, 6)
        return rsp + c.recv_all(self.data,
                                struct.unpack(">I", rsp[2:6])[0] - 6)

    def close(self):
        self.ctl.close()                # the bridge exits
        self.data.close()
        self.bridge.stop()


class Qemu:
    """QEMU with DEVICE on the bridge, under qtest."""

    def __init__(self, qemu, device, tmp):
        tpm = q.PqcBridge(os.path.join(tmp, "tpm"))
        # if QEMU does not start, Machine stops the TPM and says why
        self.m = q.Machine([qemu], device, tmp, tpm=lambda d: tpm)
        self.m.open(device)
        self.transfer = self.m.transfer

    def count_accesses(self, work):
        """The number of qtest commands (register accesses) of work()."""
        n = [0]
        qtest_ok = self.m.qtest_ok

        def counting(line):
            n[0] += 1
            return qtest_ok(line)
        self.m.qtest_ok = counting
        try:
            work()
        finally:
            del self.m.qtest_ok
        return n[0]

    def close(self):
        self.m.close()


def run(target, args):
    """One round of one configuration: the time of each operation, ms."""
    ml.ok(target.transfer(q.STARTUP), "Startup")
    key = ml.create_primary(target.transfer)

    def sign_verify():
        ml.verify(target.transfer, key, MESSAGE,
                  ml.sign(target.transfer, key, MESSAGE))
    # untimed: the first operation, counted where there are registers
    accesses = (target.count_accesses(sign_verify)
                if hasattr(target, "count_accesses") else None)
    if accesses is None:
        sign_verify()
    sig = bytearray(ml.sign(target.transfer, key, MESSAGE))
    sig[100] ^= 1
    ml.verify(target.transfer, key, MESSAGE, bytes(sig), tampered=True)
    t = {"sign": [], "verify": [], "both": [], "random": [],
         "accesses": accesses}
    for _ in range(args.ops):
        t0 = time.perf_counter()
        sig = ml.sign(target.transfer, key, MESSAGE)
        t1 = time.perf_counter()
        ml.verify(target.transfer, key, MESSAGE, sig)
        t2 = time.perf_counter()
        t["sign"].append((t1 - t0) * 1e3)
        t["verify"].append((t2 - t1) * 1e3)
        t["both"].append((t2 - t0) * 1e3)
    for _ in range(args.randoms):
        t0 = time.perf_counter()
        rsp = target.transfer(GET_RANDOM_16)
        t["random"].append((time.perf_counter() - t0) * 1e3)
        ml.ok(rsp, "GetRandom(16)", 28)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--ops", type=int, default=5,
                    help="timed sign + verify operations per round")
    ap.add_argument("--randoms", type=int, default=20,
                    help="timed GetRandom(16) commands per round")
    ap.add_argument("--fwtpm", default=os.environ.get("QPQC_FWTPM"),
                    help="fwtpm_server (default: $QPQC_FWTPM)")
    ap.add_argument("configs", nargs="*", metavar="NAME=QEMU,DEVICE[,PROPS]")
    args = ap.parse_args()
    if min(args.rounds, args.ops, args.randoms) < 1:
        ap.error("--rounds, --ops and --randoms must be at least 1")
    if not args.fwtpm or not os.access(args.fwtpm, os.X_OK):
        sys.exit(f"no fwtpm_server ({args.fwtpm or 'set QPQC_FWTPM'}): "
                 "scripts/build-pqc-tpm.sh builds it")
    os.environ["QPQC_FWTPM"] = args.fwtpm       # for qemuvm.PqcBridge

    configs = [
        ("direct-plain", lambda t: Direct(PlainFwtpm, args.fwtpm, t)),
        ("direct-nodelay", lambda t: Direct(NodelayFwtpm, args.fwtpm, t)),
        ("direct", lambda t: Direct(bridge.Fwtpm, args.fwtpm, t)),
        ("bridge", BridgeOnly),
    ]
    for spec in args.configs:
        name, _, rest = spec.partition("=")
        qemu, _, device = rest.partition(",")
        if not device:
            ap.error(f"{spec}: expected NAME=QEMU,DEVICE[,PROPS]")
        configs.append((name, lambda t, qemu=qemu, device=device:
                        Qemu(qemu, device, t)))

    load = os.getloadavg()
    res = {name: {"sign": [], "verify": [], "both": [], "random": []}
           for name, _ in configs}
    with tempfile.TemporaryDirectory(prefix="bench-mldsa-") as tmp:
        for r in range(args.rounds):
            for i, (name, make) in enumerate(configs):
                try:
                    target = make(os.path.join(tmp, f"{r}-{i}"))
                except RuntimeError as e:
                    sys.exit(f"{name}: {e}")
                try:
                    t = run(target, args)
                except RuntimeError as e:
                    sys.exit(f"{name}: {e}")
                finally:
                    target.close()
                for k, v in t.items():
                    if k == "accesses":
                        res[name].setdefault(k, v)
                    else:
                        res[name][k] += v
    report(args, configs, res, load, os.getloadavg())


def report(args, configs, res, load0, load1):
    def med(name, key):
        return statistics.median(res[name][key])

    print(f"ML-DSA-87 sign + verify ({COMMANDS} commands) and GetRandom(16), "
          f"fwtpm_server, {args.rounds} rounds x {args.ops} sign + verify "
          f"and {args.randoms} GetRandom; ms per operation, median and min "
          "over all operations")
    print(f"load average (1, 5, 15 min): {load0[0]:.2f} {load0[1]:.2f} "
          f"{load0[2]:.2f} before, {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f} after; {os.cpu_count()} CPUs")
    print(f"{'configuration':<16} {'sign+verify':>11} {'min':>8} "
          f"{'sign':>8} {'verify':>8} {'GetRandom':>9} {'device':>8} "
          f"{'QEMU':>8} {'qtest':>6}")
    print(f"{'':<16} {'median':>11} {'':>8} {'median':>8} {'median':>8} "
          f"{'median':>9} {'share':>8} {'alone':>8} {'cmds':>6}")
    direct, via = med("direct", "both"), med("bridge", "both")
    for name, _ in configs:
        both = med(name, "both")
        acc = res[name]["accesses"]
        is_qemu = acc is not None
        share = f"{both - direct:8.2f}" if is_qemu else f"{'':>8}"
        alone = f"{both - via:8.2f}" if is_qemu else f"{'':>8}"
        print(f"{name:<16} {both:11.2f} "
              f"{min(res[name]['both']):8.2f} "
              f"{med(name, 'sign'):8.2f} {med(name, 'verify'):8.2f} "
              f"{med(name, 'random'):9.3f} {share} {alone} "
              f"{acc if is_qemu else '':>6}")

    rnd, plain = med("direct", "random"), med("direct-plain", "random")
    print()
    print("split (medians, ms)")
    print(f"  TPM compute per sign + verify (direct sign+verify - "
          f"{COMMANDS} x direct GetRandom): {direct - COMMANDS * rnd:.2f}")
    print(f"    sign   (direct sign - {ml.COMMANDS_PER_SIGN} x GetRandom): "
          f"{med('direct', 'sign') - ml.COMMANDS_PER_SIGN * rnd:.2f}")
    print(f"    verify (direct verify - {ml.COMMANDS_PER_VERIFY} x "
          f"GetRandom): "
          f"{med('direct', 'verify') - ml.COMMANDS_PER_VERIFY * rnd:.2f}")
    print(f"  cost of a command without compute, direct (TCP_NODELAY + "
          f"TCP_QUICKACK): {rnd:.3f}")
    print(f"  socket latency per command on a plain TCP socket "
          f"(direct-plain GetRandom - direct GetRandom): {plain - rnd:.2f}"
          f"; x {COMMANDS} = {COMMANDS * (plain - rnd):.1f} per sign + "
          f"verify (measured: direct-plain - direct = "
          f"{med('direct-plain', 'both') - direct:.1f})")
    print(f"    with TCP_NODELAY on the client only: "
          f"{med('direct-nodelay', 'random') - rnd:.2f} per command")
    print(f"  bridge (pqc-bridge.py, control protocol) per sign + verify "
          f"(bridge - direct): {via - direct:.2f}")
    print("  device share = QEMU configuration - direct; QEMU alone = "
          "QEMU configuration - bridge;")
    print("  qtest cmds = register accesses (qtest commands, polls "
          "included) in one sign + verify; per access (QEMU alone / cmds):")
    for name, _ in configs:
        acc = res[name]["accesses"]
        if acc:
            print(f"    {name}: {(med(name, 'both') - via) / acc * 1e3:.1f} "
                  "us")


if __name__ == "__main__":
    main()
