#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test case of the series' CRB chunking qtests fails when run against
# the unpatched base build: the tests tell chunking from its absence.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
"$TOP/scripts/build.sh" base >"$TEST_TMP/build.log" 2>&1 ||
    fail "unpatched build failed: $(tail -n 5 "$TEST_TMP/build.log")"
need_qemu "$BASE_QEMU"

progs=$(cd "$BUILD" && ls tests/qtest/tpm-crb-chunk*-test 2>/dev/null || true)
[ -n "$progs" ] || skip "the series has no CRB chunking qtests yet"
cases=0
for prog in $progs; do
    for path in $(cd "$BUILD" && QTEST_QEMU_BINARY=$QEMU "./$prog" -l | grep '^/'); do
        rc=0
        # (the braces keep bash's "Aborted" notices out of the log)
        { (cd "$BUILD" && QTEST_QEMU_BINARY=$BASE_QEMU timeout 120 "./$prog" \
            --tap -p "$path") >"$TEST_TMP/out" 2>&1; } 2>/dev/null || rc=$?
        if [ $rc = 0 ] && ! grep -q '^not ok' "$TEST_TMP/out"; then
            cat "$TEST_TMP/out"
            fail "$(basename "$prog") $path passes against the unpatched build"
        fi
        cases=$((cases + 1))
    done
done
echo "all $cases chunking test cases fail against the unpatched build"
