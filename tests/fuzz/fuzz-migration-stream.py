#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Fuzz the incoming migration stream of tpm-crb and tpm-tis.

For each saved state below (idle, and in the middle of a transfer), a
stream is saved by the patched build (QPQC_QEMU_PATCHED: the sanitizer
build under scripts/sanitized.sh), then mutated in the device's section
and subsections only: bits flipped, a field set to a boundary value, a
byte array's length changed, the section cut short, a subsection dropped
or doubled, bytes replaced by random ones.  Each mutant is loaded into a
new QEMU with the same device; the load must either be refused cleanly
(exit status 1, "load of migration failed") or give a device that works:
after a driver's recovery (every locality relinquished, locality 0
requested, cmdReady or commandReady), a fresh command must get the test
TPM's answer, byte for byte.  Anything else is a finding: another exit
status or a signal, a hang, a sanitizer report, an accepted load whose
device does not work.  Each finding's stream is kept in --out with a
line saying what happened; --replay FILE --state NAME loads one again.

    fuzz-migration-stream.py [--loads N] [--seed S] [--out DIR]

Prints one TAP line per state, with loads tried / refused / accepted.
"""

import argparse
import glob
import os
import random
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faketpm as f                                     # noqa: E402
import migstream                                        # noqa: E402
import qemuvm as q                                      # noqa: E402

q.IO_TIMEOUT = 30                # a load or a register access that hangs
CRB = q.CRB_CHUNKED_64
TIS = "tpm-tis,x-allow-ext-buffer=on"
CRB_RELINQUISH, CRB_TPM_STS = 0x02, 0x01


def crb_idle(m):
    m.transfer(f.echo_command(200, 100))


def crb_mid_send(m):
    m.crb_send(f.echo_command(200, 100), 0, 1)          # 1 of 4 chunks


def crb_mid_receive(m):
    m.crb_send(f.echo_command(200, 300))
    m.read(q.CRB_WINDOW, m.chunk)                       # 1 of 5 chunks


def tis_idle(m):
    m.transfer(f.echo_command(100, 50))


def tis_mid_reception(m):
    m.tis_write(f.echo_command(3000, 64)[:2000])


def tis_ext_mid_reception(m):
    m.tis_write(f.echo_command(8192, 64)[:6000])        # ext_buffer in use


def tis_mid_completion(m):
    m.tis_write(f.echo_command(100, 8192))
    m.tis_go()
    m.tis_read(5000)


STATES = {
    "crb-idle": (CRB, "tpm-crb", crb_idle),
    "crb-mid-send": (CRB, "tpm-crb", crb_mid_send),
    "crb-mid-receive": (CRB, "tpm-crb", crb_mid_receive),
    "tis-idle": (TIS, "tpm-tis", tis_idle),
    "tis-mid-reception": (TIS, "tpm-tis", tis_mid_reception),
    "tis-ext-mid-reception": (TIS, "tpm-tis", tis_ext_mid_reception),
    "tis-mid-completion": (TIS, "tpm-tis", tis_mid_completion),
}


def save(state, tmp):
    device, section, prepare = STATES[state]
    with q.Machine([q.PATCHED], device, f"{tmp}/src", tpm=f.FakeTpm) as m:
        m.open(device)
        prepare(m)
        return m.save_stream(f"{tmp}/stream")


def leaves(field):
    """The fields of field that hold bytes of their own (arrays and
    structs are opened)."""
    items = getattr(field, "items", None)
    if items is None:
        return [field]
    values = items.values() if isinstance(items, dict) else items
    return [leaf for item in values for leaf in leaves(item)]


class Mutator:
    """Mutations of stream inside the section of the device."""

    def __init__(self, stream, section, rng):
        self.stream, self.rng = stream, rng
        self.section = migstream.section(stream, section)
        parts = [self.section] + list(self.section.subsections.values())
        self.fields = [leaf for part in parts
                       for field in part.fields.values()
                       for leaf in leaves(field)]
        self.subsections = list(self.section.subsections.values())

    def splice(self, start, end, data):
        return self.stream[:start] + data + self.stream[end:]

    def bitflip(self):
        fd = self.rng.choice(self.fields)
        data = bytearray(fd.value)
        for _ in range(self.rng.randint(1, 3)):
            data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
        return "bit flips", self.splice(fd.start, fd.end, bytes(data))

    def boundary(self):
        fd = self.rng.choice(self.fields)
        width = len(fd.value) if len(fd.value) in (1, 2, 4, 8) else 4
        at = fd.start + (self.rng.randrange(len(fd.value) - width + 1)
                         if len(fd.value) > width else 0)
        old = int.from_bytes(self.stream[at:at + width], "big")
        top = (1 << (8 * width)) - 1
        new = self.rng.choice([0, 1, top, top - 1, old + 1, old - 1,
                               4096, 4097, 8192, 8193, 3968, 65536,
                               self.rng.randrange(top + 1)]) & top
        return (f"boundary value {new:#x}",
                self.splice(at, at + width, new.to_bytes(width, "big")))

    def length(self):
        """A byte array (be32 length, then the bytes) with another length."""
        arrays = [fd for fd in self.fields if len(fd.value) >= 4 and
                  int.from_bytes(fd.value[:4], "big") == len(fd.value) - 4]
        if not arrays:
            return self.bitflip()
        fd = self.rng.choice(arrays)
        n = len(fd.value) - 4
        new = self.rng.choice([0, 1, 9, 10, n - 1, n + 1, 4096, 8192, 8193,
                               65536, 65537, 0x7fffffff, 0xffffffff]) \
            & 0xffffffff
        return (f"byte array length {n} -> {new}",
                self.splice(fd.start, fd.start + 4, struct.pack(">I", new)))

    def truncate(self):
        at = self.rng.randrange(self.section.header, self.section.end)
        return f"cut at section byte {at - self.section.header}", \
            self.stream[:at]

    def subsection(self):
        if not self.subsections:
            return self.random_bytes()
        sub = self.rng.choice(self.subsections)
        if self.rng.random() < 0.5:
            return (f"{sub.name} dropped",
                    self.splice(sub.header, sub.end, b""))
        piece = sub.bytes(self.stream)
        return f"{sub.name} twice", self.splice(sub.end, sub.end, piece)

    def random_bytes(self):
        start = self.rng.randrange(self.section.start, self.section.end)
        n = min(self.rng.randint(1, 16), self.section.end - start)
        return (f"{n} random bytes at section byte "
                f"{start - self.section.header}",
                self.splice(start, start + n, self.rng.randbytes(n)))

    def mutate(self):
        kinds = [self.bitflip, self.boundary, self.boundary, self.length,
                 self.truncate, self.subsection, self.random_bytes]
        return self.rng.choice(kinds)()


def is_report(path):
    """Whether a file of the sanitizers holds more than the note that
    scripts/sanitized.sh exports as SANITIZER_NOTE."""
    note = os.environ.get("SANITIZER_NOTE")
    with open(path, errors="replace") as fp:
        return any(line.strip() and not (note and note in line)
                   for line in fp)


def sanitizer_reports():
    """The report files the sanitizers wrote so far (sanitized.sh sets
    their log_path)."""
    paths = []
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        for opt in os.environ.get(var, "").split(":"):
            if opt.startswith("log_path="):
                paths += glob.glob(opt[len("log_path="):] + ".*")
    return {p for p in paths if is_report(p)}


def works(m, device, section):
    """A driver's recovery, then a fresh command; None if the answer is
    the test TPM's, else what went wrong."""
    cmd = f.echo_command(300, 200)
    if section == "tpm-crb":
        if m.readl(q.CRB_CTRL_STS) & CRB_TPM_STS:
            # A source whose TPM failed saves tpmSts, and the device says
            # so until the reset that a guest then does.
            m.cmd("system_reset")
            q.wait_for(lambda: not m.readl(q.CRB_CTRL_STS) & CRB_TPM_STS,
                       "tpmSts cleared by the reset")
        for loc in range(5):
            m.writeb(loc * q.LOCALITY + q.CRB_LOC_CTRL, CRB_RELINQUISH)
    else:
        for loc in range(5):
            m.writeb(loc * q.LOCALITY + q.TIS_ACCESS, q.TIS_ACCESS_ACTIVE)
    m.open(device)
    rsp = m.transfer(cmd)
    if rsp != f.expected_response(cmd):
        return f"the answer differs: {rsp[:16].hex()}..."
    return None


def load(state, stream, tmp):
    """("refused" | "accepted", None) or ("finding", what happened)."""
    device, section, _ = STATES[state]
    before = sanitizer_reports()
    try:
        m = q.load_stream([q.PATCHED], device, tmp, stream, tpm=f.FakeTpm)
    except TimeoutError:
        return "finding", "the load hung"
    try:
        if not m.is_running():
            status, err = m.exit_status(), m.stderr()
            if status == 1 and "load of migration failed" in err:
                return "refused", None
            return "finding", (f"exit status {status}: "
                               f"{err.strip().splitlines()[-3:]}")
        try:
            wrong = works(m, device, section)
        except Exception as e:          # a hang, QEMU gone, a driver error
            wrong = f"{type(e).__name__}: {str(e)[:200]}"
        if wrong:
            return "finding", f"accepted, but the device does not work: " \
                              f"{wrong}"
        return "accepted", None
    finally:
        m.close()
        new = sanitizer_reports() - before
        if new:
            return "finding", f"sanitizer report {sorted(new)}"


def fuzz_state(state, loads, rng, tmp, out):
    stream = save(state, f"{tmp}/save")
    mutator = Mutator(stream, STATES[state][1], rng)
    counts = {"refused": 0, "accepted": 0, "finding": 0}
    for i in range(loads):
        what, mutant = mutator.mutate()
        result, detail = load(state, mutant, f"{tmp}/{i}")
        counts[result] += 1
        if result == "finding":
            name = os.path.join(out, f"{state}-{i}")
            with open(name + ".stream", "wb") as fp:
                fp.write(mutant)
            with open(name + ".txt", "w") as fp:
                fp.write(f"{state}: {what}: {detail}\n")
            print(f"# finding: {state} #{i} ({what}): {detail}",
                  flush=True)
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--loads", type=int, default=20,
                    help="mutants loaded per state (default 20; make fuzz:"
                         " 300)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None,
                    help="where findings go (default: a temporary dir)")
    ap.add_argument("--states", default=",".join(STATES))
    ap.add_argument("--replay", metavar="FILE")
    ap.add_argument("--state", help="the state of --replay's stream")
    args = ap.parse_args()
    if args.replay:
        with open(args.replay, "rb") as fp, \
                tempfile.TemporaryDirectory() as tmp:
            print(load(args.state, fp.read(), tmp))
        return
    out = args.out or tempfile.mkdtemp(prefix="fuzz-stream-")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(args.seed)
    print(f"QEMU: {q.PATCHED}; seed {args.seed}; findings go to {out}")
    total = {"refused": 0, "accepted": 0, "finding": 0}
    for n, state in enumerate(args.states.split(","), 1):
        with tempfile.TemporaryDirectory() as tmp:
            counts = fuzz_state(state, args.loads, rng, tmp, out)
        for k in total:
            total[k] += counts[k]
        line = (f"{state}: {args.loads} loads, {counts['refused']} refused,"
                f" {counts['accepted']} accepted and working,"
                f" {counts['finding']} findings")
        print(f"{'not ok' if counts['finding'] else 'ok'} {n} - {line}",
              flush=True)
    print(f"total: {sum(total.values())} loads tried, {total['refused']} "
          f"refused, {total['accepted']} accepted, {total['finding']} "
          "findings")
    sys.exit(1 if total["finding"] else 0)


if __name__ == "__main__":
    main()
