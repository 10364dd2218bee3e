#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/check-skips.sh keeps an expected skip, fails any other skip, and
# fails an expected skip whose test now runs; passes and failures stay.
. "$(dirname "$0")/../lib/common.sh"

t=$TEST_TMP
printf '# comment\nharness/test-a\tno frobnicator*\nqtest-b /x/*\tneeds KVM\n' >"$t/expected"
printf '%s\t%s\t%s\n' \
    SKIP harness/test-a "no frobnicator on this machine" \
    SKIP harness/test-c "no widget" \
    PASS "qtest-b /x/y" "" \
    FAIL harness/test-d "exit status 1" >"$t/results"
"$TOP/scripts/check-skips.sh" "$t/results" "$t/expected" || fail "check-skips.sh failed"
cat "$t/results"
want() { # STATUS NAME REASON-GLOB
    awk -F'\t' -v s="$1" -v n="$2" '$1 == s && $2 == n { print $3 }' "$t/results" |
        grep -q -- "$3" || fail "no $1 line for $2 matching '$3'"
}
want SKIP harness/test-a "no frobnicator on this machine"
want FAIL harness/test-c "unexpected skip .*: no widget"
want PASS "qtest-b /x/y" ""
want FAIL "qtest-b /x/*" "expected skip no longer happens .*: needs KVM"
want FAIL harness/test-d "exit status 1"
[ "$(wc -l <"$t/results")" = 5 ] || fail "expected 5 result lines"
echo "ok: expected skip kept, unexpected skip and stale entry failed"

# an entry whose test did not run (a filtered run) is no failure
printf '%s\t%s\t%s\n' PASS harness/test-e "" >"$t/results"
"$TOP/scripts/check-skips.sh" "$t/results" "$t/expected" || fail "check-skips.sh failed"
[ "$(cut -f1 "$t/results")" = PASS ] || fail "entries of tests that did not run counted: $(cat "$t/results")"
echo "ok: entries of tests that did not run are ignored"
