#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the test programs of tests/upstream-tests in build dir $1 (default:
# the patched build), or only those of QPQC_QTESTS (ninja target names),
# and write one line per TAP result to stdout:
#   PASS|FAIL|SKIP <TAB> name <TAB> reason (or note: the TPM a case used)
# Names from an aarch64 build start with "aarch64/", from the sanitizer
# build with "sanitizers/".
# Logs go to $1/qtest-logs/.  Exit status 1 when any result is FAIL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=${1:-$BUILD}
filter=${2:-}
QPQC_QTESTS=${QPQC_QTESTS:-}
arch=$(build_arch "$build")
qemu=$build/qemu-system-$arch
[ -x "$qemu" ] || die "no $qemu: run 'make build'"
case $(build_field "$build" name) in
sanitizers) prefix=sanitizers/ ;;
*-aarch64) prefix=aarch64/ ;;
*) prefix= ;;
esac
logs=$build/qtest-logs
mkdir -p "$logs"
{
# a pattern of tests/upstream-tests that names no test program is a failure
[ -n "$filter$QPQC_QTESTS" ] || unmatched_patterns "$build" | while IFS= read -r pat; do
    printf 'FAIL\t%s%s\tmatches no test program of %s\n' "$prefix" "$pat" "${build#"$TOP"/}"
done
for t in ${QPQC_QTESTS:-$(test_targets "$build")}; do
    name=$prefix$(basename "$t")
    out=$logs/$(basename "$t").log
    [ -z "$filter" ] || [[ "$name" == *$filter* ]] || continue
    [ -x "$build/$t" ] || { printf 'FAIL\t%s\tnot built\n' "$name"; continue; }
    rc=0
    (cd "$build" && QTEST_QEMU_BINARY=$qemu \
        timeout "${QTEST_TIMEOUT:-600}" "./$t" --tap -k) >"$out" 2>&1 || rc=$?
    # ok N name [# SKIP reason] / not ok N name; the messages "# TPM: ..."
    # and "# as expected: ..." of a case become the note of its result
    awk -v prog="$name" -v rc=$rc '
        /^# (TPM|as expected): / { m = substr($0, 3); if (!index(note, m)) note = note (note == "" ? "" : "; ") m; next }
        /^ok [0-9]+ / {
            n = $0; sub(/^ok [0-9]+ /, "", n); reason = ""
            if (n ~ / # SKIP/) { reason = n; sub(/.* # SKIP ?/, "", reason); sub(/ # SKIP.*/, "", n)
                printf "SKIP\t%s %s\t%s\n", prog, n, (reason == "" ? "no reason given" : reason) }
            else printf "PASS\t%s %s\t%s\n", prog, n, note
            seen++; note = ""; next
        }
        /^not ok [0-9]+ / { n = $0; sub(/^not ok [0-9]+ /, "", n); printf "FAIL\t%s %s\t%s\n", prog, n, note; seen++; bad++; note = ""; next }
        /^1\.\.0 # SKIP/ { r = $0; sub(/^1\.\.0 # SKIP ?/, "", r); printf "SKIP\t%s\t%s\n", prog, r; seen++; next }
        END {
            if (rc != 0 && bad == 0) printf "FAIL\t%s\texit status %d (see log)\n", prog, rc
            else if (seen == 0) printf "FAIL\t%s\tran no test\n", prog
        }' "$out"
done
} | tee "$logs/results"
grep -q '^FAIL' "$logs/results" && exit 1
exit 0
