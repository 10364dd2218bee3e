#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mutation testing: do the tests catch broken device code?

Each fault of tests/mutation/faults.py is applied, alone, to a copy of the
patched tree (.work/mutant/src, a git worktree of branch "series"), which
is rebuilt incrementally in .work/mutant/build (x86_64; ccache makes the
first build cheap).  Then the kill tests run, fastest first, until one
fails: the series' x86_64 test programs (tests/upstream-tests), and the
harness tests that drive the device, on the mutant's QEMU.  A fault that
no test fails on "survives".  Prints one line per fault and the score.

    mutation-test.py [--only N,M,...] [--list]
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from builds import TOP, WORK                            # noqa: E402
from faults import FAULTS                               # noqa: E402

MUTANT = os.path.join(WORK, "mutant")
SRC, BUILD = os.path.join(MUTANT, "src"), os.path.join(MUTANT, "build")
HARNESS = ["tests/harness/test-migrate-malformed-stream.py",
           "tests/harness/test-migrate-malformed-tis-stream.py",
           "tests/harness/test-crb-x-chunk-size.sh",
           "tests/harness/test-migrate-cross-version.py",
           "tests/harness/test-pqc-mldsa-unpatched.py",
           "tests/harness/test-tis-go-after-seize.py",
           "tests/harness/test-fuzz-findings.py",
           "tests/interop/test-interop-qemu-11.1.py"]
# the quick programs first: a fault is usually caught by one of them
FIRST = ["tpm-crb-chunk-test", "tpm-tis-ext-test", "tpm-crb-test",
         "tpm-tis-test", "test-vmstate"]


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def lib(function, *args):
    """A function of scripts/lib.sh, run in bash; its stdout."""
    return subprocess.run(
        ["bash", "-c", f'. "$0/scripts/lib.sh" && {function} "$@"', TOP,
         *args], check=True, text=True, capture_output=True).stdout


def prepare():
    """The mutant tree at branch series, configured as the patched build."""
    src = os.path.join(WORK, "src")
    if not os.path.isdir(SRC):
        os.makedirs(MUTANT, exist_ok=True)
        sh("git", "-C", src, "worktree", "prune")
        sh("git", "-C", src, "worktree", "add", "-q", "--detach", SRC,
           "series")
    sh("git", "-C", SRC, "checkout", "-q", "--detach", "series")
    sh("git", "-C", SRC, "reset", "-q", "--hard")
    lib("configure_build", SRC, BUILD)


def build():
    """Rebuild QEMU and the test programs; False if that fails."""
    return subprocess.run(
        ["bash", "-c", '. "$0/scripts/lib.sh" && build_targets "$1" mutant',
         TOP, BUILD], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode == 0


def programs():
    """The test programs, those of FIRST first."""
    def order(target):
        name = os.path.basename(target)
        return (FIRST.index(name) if name in FIRST else len(FIRST), name)
    return sorted(lib("test_targets", BUILD).split(), key=order)


def env():
    e = dict(os.environ)
    e.update(QPQC_QEMU_PATCHED=os.path.join(BUILD, "qemu-system-x86_64"),
             QPQC_BUILD_PATCHED=BUILD,
             QTEST_QEMU_BINARY=os.path.join(BUILD, "qemu-system-x86_64"))
    return e


def killer():
    """The first kill test that fails, or None."""
    for prog in programs():
        rc = subprocess.run([os.path.join(BUILD, prog), "--tap", "-k"],
                            cwd=BUILD, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=600
                            ).returncode
        if rc != 0:
            return os.path.basename(prog)
    for test in HARNESS:
        rc = subprocess.run([os.path.join(TOP, test)], env=env(),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=900
                            ).returncode
        if rc not in (0, 77):
            return os.path.basename(test)
    return None


def apply(fault):
    path, old, new, _ = fault
    full = os.path.join(SRC, path)
    with open(full) as fp:
        text = fp.read()
    assert text.count(old) == 1, f"{path}: the fault's text is not unique"
    with open(full, "w") as fp:
        fp.write(text.replace(old, new))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="fault numbers, e.g. 1,5,7")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    chosen = ([int(n) for n in args.only.split(",")] if args.only
              else range(1, len(FAULTS) + 1))
    if args.list:
        for n in chosen:
            print(f"{n:2} {FAULTS[n - 1][0]}: {FAULTS[n - 1][3]}")
        return
    prepare()
    if not build():
        sys.exit(f"the unmutated tree does not build: {MUTANT}/ninja.out")
    failing = killer()
    if failing:
        sys.exit(f"{failing} fails on the unmutated tree")
    caught = survived = 0
    for n in chosen:
        fault = FAULTS[n - 1]
        start = time.monotonic()
        apply(fault)
        try:
            if not build():
                verdict = "does not build (not counted)"
            else:
                by = killer()
                if by:
                    caught += 1
                    verdict = f"caught by {by}"
                else:
                    survived += 1
                    verdict = "SURVIVED"
        finally:
            sh("git", "-C", SRC, "checkout", "-q", "--", fault[0])
        print(f"{n:2} {verdict}: {fault[0]}: {fault[3]} "
              f"({time.monotonic() - start:.0f}s)", flush=True)
    build()                             # leave the tree as it was
    print(f"mutation score: {caught} of {caught + survived} faults caught, "
          f"{survived} survived")
    sys.exit(1 if survived else 0)


if __name__ == "__main__":
    main()
