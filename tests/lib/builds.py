# SPDX-License-Identifier: GPL-2.0-or-later
"""The builds the tests run, as scripts/lib.sh defines them (build_table):
QPQC_BUILD_<NAME>, QPQC_QEMU_<NAME> and QPQC_SRC_<NAME> in the
environment, exported by scripts/run-tests.sh, or asked of lib.sh when a
test runs alone (a variable already set, e.g. QPQC_QEMU_PATCHED of
another build, is kept)."""

import os
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _build_env():
    if "QPQC_SRC_UNPATCHED" in os.environ:
        return
    out = subprocess.run(
        ["bash", "-c", '. "$0/scripts/lib.sh" && build_env && env', TOP],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.startswith("QPQC_"):
            os.environ.setdefault(key, value)


_build_env()
WORK = os.environ.get("QPQC_WORK", os.path.join(TOP, ".work"))
PATCHED = os.environ["QPQC_QEMU_PATCHED"]
UNPATCHED = os.environ["QPQC_QEMU_UNPATCHED"]
BASE_SRC = os.environ["QPQC_SRC_UNPATCHED"]     # the base tree, unpatched
