#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of the generic-fuzz targets of the TPM interfaces.

Each seed is one real transaction as a driver makes it, in generic-fuzz's
input format (tests/qtest/fuzz/generic_fuzz.c): operations separated by
"FUZZ", each an opcode byte and the packed arguments of the operation.
The fuzzed regions are numbered in address order: for tpm-crb 0 is its
registers and 1 its window (tpm-crb-cmd), for tpm-tis 0 is its registers.
Commands are the fake TPM's echo commands (tests/lib/faketpm.py): they
ask for a response size in their bytes 10-13, as the in-test emulator's
any_command mode reads them.

    tpm-fuzz-seeds.py OUTDIR     writes OUTDIR/TARGET/SEED for each target
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from faketpm import echo_command as command             # noqa: E402

OP_READ, OP_WRITE = 2, 3
BYTE, WORD, LONG = 0, 1, 2
SEPARATOR = b"FUZZ"
REGS, WINDOW = 0, 1
# CRB registers; CTRL_START bits
LOC_CTRL, CTRL_REQ, CTRL_STS, CTRL_CANCEL, CTRL_START = 0x08, 0x40, 0x44, 0x48, 0x4C
START, RETRY, NEXT = 1, 2, 4
CMD_READY, GO_IDLE = 1, 2
# TIS registers of locality 0
ACCESS, STS, FIFO = 0x00, 0x18, 0x24
REQUEST_USE, ACTIVE_LOCALITY = 0x02, 0x20
STS_READY, STS_GO, STS_RETRY = 0x40, 0x20, 0x02


class Seed:
    def __init__(self):
        self.ops = []

    def write(self, base, offset, value, size=LONG):
        self.ops.append(bytes([OP_WRITE]) + struct.pack("<BBxxIQ", size, base,
                                                        offset, value))

    def read(self, base, offset, size=LONG):
        self.ops.append(bytes([OP_READ]) + struct.pack("<BBxxI", size, base,
                                                       offset))

    def data(self):
        return SEPARATOR.join(self.ops)

    # CRB
    def crb_open(self):
        self.write(REGS, LOC_CTRL, 1)
        self.write(REGS, CTRL_REQ, CMD_READY)

    def crb_window(self, data):
        for i in range(0, len(data), 4):
            self.write(WINDOW, i, int.from_bytes(data[i:i + 4], "little"))

    def crb_start(self, bits):
        self.write(REGS, CTRL_START, bits)
        self.read(REGS, CTRL_START)
        self.read(REGS, CTRL_STS)

    def crb_send(self, cmd, window):
        """Chunks of the window's size; only the first chunk's header
        matters to the device, the rest is what the window holds."""
        for i in range(0, len(cmd), window):
            self.crb_window(cmd[i:i + min(window, 16)])
            self.crb_start(START if i + window >= len(cmd) else NEXT)

    def crb_receive(self, rsp_size, window, chunks=None):
        n = -(-rsp_size // window) if chunks is None else chunks
        for i in range(n):
            if i:
                self.crb_start(NEXT)
            self.read(WINDOW, 0)
            self.read(WINDOW, 4)

    # TIS
    def tis_open(self):
        self.write(REGS, ACCESS, REQUEST_USE, BYTE)
        self.read(REGS, ACCESS, BYTE)

    def tis_write(self, data):
        self.write(REGS, STS, STS_READY)
        for i in range(0, len(data), 4):
            piece = data[i:i + 4]
            self.write(REGS, FIFO, int.from_bytes(piece, "little"),
                       LONG if len(piece) == 4 else BYTE)

    def tis_send(self, cmd):
        self.tis_write(cmd)
        self.write(REGS, STS, STS_GO)
        self.read(REGS, STS)

    def tis_receive(self, n):
        for _ in range(0, n, 4):
            self.read(REGS, FIFO)
        self.read(REGS, STS)


def crb_seeds(window):
    big = min(4 * window + 10, 8000)   # chunked, within the 8192-byte buffer
    seeds = {}

    s = Seed()
    s.crb_open()
    s.crb_send(command(14, 10), window)
    s.crb_receive(10, window)
    seeds["command"] = s

    s = Seed()
    s.crb_open()
    s.crb_send(command(big, big), window)
    s.crb_receive(big, window)
    s.write(REGS, CTRL_REQ, GO_IDLE)
    seeds["chunked-send-receive"] = s

    s = Seed()
    s.crb_open()
    s.crb_send(command(14, big), window)
    s.crb_receive(big, window, chunks=2)
    s.crb_start(RETRY)                              # from the first chunk
    s.crb_receive(big, window)
    seeds["retry"] = s

    s = Seed()
    s.crb_open()
    s.crb_send(command(big, 10), window)
    s.write(REGS, CTRL_CANCEL, 1)
    s.read(REGS, CTRL_START)
    s.write(REGS, CTRL_CANCEL, 0)
    s.crb_receive(10, window)
    seeds["cancel"] = s

    s = Seed()
    s.crb_open()
    s.crb_window(command(big, 10)[:16])
    s.crb_start(NEXT)                               # mid-send
    s.write(REGS, CTRL_REQ, GO_IDLE)
    s.write(REGS, CTRL_REQ, CMD_READY)
    s.crb_send(command(14, big), window)
    s.crb_receive(big, window, chunks=1)            # mid-receive
    s.write(REGS, CTRL_REQ, GO_IDLE)
    s.write(REGS, LOC_CTRL, 2)                      # relinquish
    seeds["goidle-mid-transfer"] = s
    return seeds


def tis_seeds():
    seeds = {}

    s = Seed()
    s.tis_open()
    s.tis_send(command(14, 100))
    s.tis_receive(100)
    seeds["command"] = s

    s = Seed()
    s.tis_open()
    s.tis_send(command(4200, 4200))                 # beyond 4096 bytes
    s.tis_receive(4200)
    seeds["ext-buffer"] = s

    s = Seed()
    s.tis_open()
    s.tis_send(command(14, 5000))
    s.tis_receive(300)
    s.write(REGS, STS, STS_RETRY)                   # responseRetry
    s.tis_receive(5000)
    seeds["retry"] = s

    s = Seed()
    s.tis_open()
    s.tis_write(command(5000, 10)[:4200])           # mid-reception
    s.write(REGS, STS, STS_READY)                   # abort
    s.write(REGS, ACCESS, ACTIVE_LOCALITY, BYTE)    # relinquish
    s.tis_open()
    s.tis_send(command(14, 10))
    s.tis_receive(10)
    seeds["abort-mid-reception"] = s
    return seeds


TARGETS = {
    "tpm-crb-chunk": lambda: crb_seeds(3968),
    "tpm-crb-chunk64": lambda: crb_seeds(64),
    "tpm-tis-ext": tis_seeds,
}


def main():
    out = sys.argv[1]
    for target, seeds in TARGETS.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, seed in seeds().items():
            with open(os.path.join(out, target, name), "wb") as fp:
                fp.write(seed.data())


if __name__ == "__main__":
    main()
