#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Time TPM commands through tpm-crb on several QEMU builds, in one run.

Each configuration is a QEMU binary plus tpm-crb properties.  For each one
a fresh swtpm is started, QEMU runs under the qtest accelerator and this
script drives the CRB registers over the qtest protocol as a guest driver
would (tests/lib/qemuvm.py): write the command into the window, set Start,
poll until Start clears, read the response header and then the rest.
Rounds alternate between the configurations so that machine noise hits
them alike; the figures are per command (median, mean, min over rounds).

    bench-crb.py [--rounds N] [--commands N] NAME=QEMU[,PROPS] ...
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import qemuvm as q                                      # noqa: E402


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
        configs.append((name, qemu, "tpm-crb" + ("," + props if props
                                                  else "")))

    times = {name: [] for name, _, _ in configs}
    req = q.get_random(args.bytes)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for i, (name, qemu, device) in enumerate(configs):
                with q.Machine([qemu], device,
                               os.path.join(tmp, f"{r}-{i}")) as m:
                    m.open(device)
                    m.transfer(q.STARTUP)
                    t0 = time.perf_counter()
                    for _ in range(args.commands):
                        rsp = m.transfer(req)
                    t1 = time.perf_counter()
                if q.rc(rsp) or len(rsp) != 12 + args.bytes:
                    sys.exit(f"{name}: bad response {rsp.hex()}")
                times[name].append((t1 - t0) / args.commands * 1e6)

    base = statistics.median(times[configs[0][0]])
    print(f"TPM2_GetRandom({args.bytes}) through tpm-crb, "
          f"{args.rounds} rounds x {args.commands} commands, "
          "microseconds per command")
    print(f"{'configuration':<24} {'median':>8} {'mean':>8} {'min':>8}"
          f"  vs {configs[0][0]}")
    for name, _, _ in configs:
        t = times[name]
        med = statistics.median(t)
        print(f"{name:<24} {med:8.1f} {statistics.mean(t):8.1f}"
              f" {min(t):8.1f}  {100 * (med - base) / base:+.1f}%")


if __name__ == "__main__":
    main()
