#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test case of the qtests that the series adds for new behaviour (CRB
# chunking, the 8192-byte TIS buffer, ML-DSA-87 through both) fails when run
# against the unpatched base build: the tests tell the feature from its
# absence.  A case that skips (no TPM with ML-DSA) is not counted.  Cases under an
# "/unchunked/" or "/unchanged/" path check the base's own behaviour for
# contrast and must pass on both builds.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
need_qemu "$BASE_QEMU"
BUILD=$QPQC_BUILD_PATCHED

progs=$(cd "$BUILD" && ls tests/qtest/tpm-crb-chunk*-test tests/qtest/tpm-tis-ext-test \
    tests/qtest/tpm-pqc-test 2>/dev/null || true)
cases=0 skipped=0
for prog in $progs; do
    for path in $(cd "$BUILD" && QTEST_QEMU_BINARY=$QEMU "./$prog" -l | grep '^/'); do
        rc=0
        # (the braces keep bash's "Aborted" notices out of the log; the
        # private TMPDIR finds the swtpm an aborted case leaves behind)
        mkdir -p "$TEST_TMP/case"
        { (cd "$BUILD" && TMPDIR=$TEST_TMP/case QTEST_QEMU_BINARY=$BASE_QEMU \
            timeout 120 "./$prog" --tap -p "$path") >"$TEST_TMP/out" 2>&1; } \
            2>/dev/null || rc=$?
        pkill -f -- "$TEST_TMP/case/" || true
        passed=0
        [ $rc = 0 ] && grep -q '^ok ' "$TEST_TMP/out" && passed=1
        # a case without its TPM (ML-DSA) tells nothing
        if [ $passed = 1 ] && grep -q '^ok .* # SKIP' "$TEST_TMP/out"; then
            skipped=$((skipped + 1))
            continue
        fi
        case "$path" in
        */unchunked/* | */unchanged/*)
            [ $passed = 1 ] || { cat "$TEST_TMP/out";
                fail "$(basename "$prog") $path fails against the unpatched build"; } ;;
        *)
            [ $passed = 0 ] || { cat "$TEST_TMP/out";
                fail "$(basename "$prog") $path passes against the unpatched build"; } ;;
        esac
        cases=$((cases + 1))
    done
done
echo "$cases test cases checked against the unpatched build ($skipped skipped: no TPM for them)"
