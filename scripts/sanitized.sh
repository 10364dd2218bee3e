#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run a test command against the sanitizer build (build.sh sanitizers):
# QPQC_QEMU_PATCHED names its qemu-system-x86_64, and AddressSanitizer and
# UndefinedBehaviorSanitizer stop a process at its first report (abort).
# ASan writes its reports to files of their own; UBSan's go to stderr,
# where a process that writes to the command's stderr (a qtest's QEMU)
# is caught too; a QEMU of tests/lib/qemuvm.py that dies of a signal
# fails its test.  Exit status: the command's, or 1 after any report,
# which is then printed (on stderr).
#   sanitized.sh COMMAND [ARG...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"

build_env
[ -x "$QPQC_QEMU_SANITIZERS" ] || die "no $QPQC_QEMU_SANITIZERS: run 'scripts/build.sh sanitizers'"
reports=$(mktemp -d /tmp/qpqc-sanitizers.XXXXXX)
trap 'rm -rf "$reports"' EXIT
# Leaks are not checked: QEMU frees little at exit, by design.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export SANITIZER_NOTE="WARNING: ASan doesn't fully support makecontext/swapcontext"
export QPQC_QEMU_PATCHED=$QPQC_QEMU_SANITIZERS QPQC_BUILD_PATCHED=$QPQC_BUILD_SANITIZERS
rc=0
# UBSan next to ASan ignores log_path and writes to stderr: kept too
"$@" 2> >(tee "$reports/stderr" >&2) || rc=$?
wait
grep -q 'runtime error:' "$reports/stderr" || rm "$reports/stderr"
# ASan warns once per process that it does not fully support swapcontext
# (QEMU's coroutines): a file with only that line is not a report.
found=$(grep -l -v -e "$SANITIZER_NOTE" -e '^$' "$reports"/* 2>/dev/null)
if [ -n "$found" ]; then
    for r in $found; do
        echo "sanitizer report ${r##*/}:"
        cat "$r"
    done >&2
    echo "FAIL: sanitizer reports (above)" >&2
    exit 1
fi
exit $rc
