#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest-side TPM driver (guest/driver) on the host: its protocol
# logic against a simulated CRB and TIS register file with injected faults
# (sim-test.c: every error path must end in a TPM error response, every
# timeout is the spec's), under AddressSanitizer and UBSan, and with
# coverage: the cases must run every line of tpm-chunk.c.  Also checks that
# the static guest binaries build.
. "$(dirname "$0")/../lib/common.sh"

drv=$TOP/guest/driver
command -v gcc >/dev/null || fail "no gcc: run 'make deps'"
command -v gcov >/dev/null || fail "no gcov (part of Debian's gcc): run 'make deps'"
make -s -C "$drv" O="$TEST_TMP" all "$TEST_TMP/sim-test" ||
    fail "building guest/driver failed"
file "$TEST_TMP/tpm-chunk" 2>/dev/null | grep -q 'statically linked' ||
    ldd "$TEST_TMP/tpm-chunk" 2>&1 | grep -q 'not a dynamic executable' ||
    fail "tpm-chunk is not a static binary"

rc=0
(cd "$TEST_TMP" && ./sim-test) || rc=$?
[ $rc = 0 ] || fail "sim-test: exit status $rc"

cov=$(cd "$TEST_TMP" && gcov -o . sim-test-tpm-chunk.gcda 2>&1)
echo "$cov" | sed -n "/tpm-chunk.c'/,/^$/p"
if grep -q '#####' "$TEST_TMP/tpm-chunk.c.gcov"; then
    echo "lines of tpm-chunk.c that no case ran:"
    grep '#####' "$TEST_TMP/tpm-chunk.c.gcov"
    fail "the unit test does not cover every line of tpm-chunk.c"
fi
echo "PASS: every line of tpm-chunk.c ran"
