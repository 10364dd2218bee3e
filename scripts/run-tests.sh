#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test command: builds what is missing (nothing when up to date), then
# runs the lint, the series-prefix check, the base's and the series' test
# programs, the tests of the pipeline itself (tests/pipeline), the tests of
# the device across builds (tests/harness), the real-guest tests
# (tests/guest) and the interoperability tests with upstream QEMU
# (tests/interop), with QPQC_SANITIZERS=1 also the device's tests on the
# ASan/UBSan build, and ends with "N passed, N failed, N skipped".
#   run-tests.sh [PATTERN]   only the tests whose name contains PATTERN
set -uo pipefail
. "$(dirname "$0")/lib.sh"

filter=${1:-}
results=$WORK/test-results
logs=$WORK/test-logs
mkdir -p "$logs"
: >"$results"

record() { # STATUS NAME [REASON]
    printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$results"
    case $1 in
    PASS) printf 'PASS  %s%s\n' "$2" "${3:+ ($3)}" ;;
    SKIP) printf 'SKIP  %s: %s\n' "$2" "${3:-}" ;;
    *) printf 'FAIL  %s%s\n' "$2" "${3:+: $3}" ;;
    esac
}
wanted() { [ -z "$filter" ] || [[ "$1" == *$filter* ]]; }
# The tests on the sanitizer build: with QPQC_SANITIZERS=1 (.ci/run) or a
# pattern naming them (make check-sanitizers); they add its build and
# about three minutes, which ./run check leaves to CI.
sanitizers() {
    [ "${QPQC_SANITIZERS:-0}" = 1 ] || [[ "$filter" == *sanitizers* ]]
}

# A step of the harness that must work for anything else to be tested.
prepare() {
    "$@" || { record FAIL "setup: $*" "see above"; summary; }
}

# Test scripts exit 0 to pass, 77 to skip ("SKIP: reason" in their output).
# A script that prints TAP lines ("ok N - what", "not ok N - what",
# "ok N - what # SKIP why") has one result per line, "name: what", and a
# failure of its own only when it fails without a "not ok" line.
script_log() {
    echo "$logs/$(echo "$1" | tr '/ ' '__').log"
}

# Start test script $2 (with arguments $3...), named $1, in the background.
start_script() {
    local log
    log=$(script_log "$1")
    log "running $1"
    { rc=0; timeout "${TEST_TIMEOUT:-900}" "${@:2}" >"$log" 2>&1 || rc=$?
      echo $rc >"$log.rc"; } &
}

# Record the results of the finished test script named $1.
finish_script() {
    local name=$1 log rc
    log=$(script_log "$name")
    rc=$(cat "$log.rc" 2>/dev/null || echo "no exit status")
    if grep -qE '^(not )?ok [0-9]+ - ' "$log"; then
        while IFS=$'\t' read -r status what reason; do
            record "$status" "$name: $what" "$reason"
        done < <(sed -nE -e 's/^ok [0-9]+ - (.*) # SKIP ?(.*)$/SKIP\t\1\t\2/p;t' \
                     -e 's/^ok [0-9]+ - (.*)$/PASS\t\1\t/p;t' \
                     -e 's/^not ok [0-9]+ - ([^:]*)(: (.*))?$/FAIL\t\1\t\3/p' "$log")
        grep -q '^not ok ' "$log" && [ "$rc" = 1 ] && rc=0
        [ "$rc" = 0 ] || [ "$rc" = 77 ] && return 0
    fi
    case $rc in
    0) record PASS "$name" ;;
    77) record SKIP "$name" "$(sed -n 's/^SKIP: //p' "$log" | tail -n1)" ;;
    124) record FAIL "$name" "timed out after ${TEST_TIMEOUT:-900}s"; tail -n 20 "$log" | sed 's/^/    /' ;;
    *) record FAIL "$name" "exit status $rc"; tail -n 30 "$log" | sed 's/^/    /' ;;
    esac
}

summary() {
    local p f s
    "$TOP/scripts/check-skips.sh" "$results" ||
        record FAIL "check-skips.sh" "exit status $?"
    p=$(grep -c '^PASS' "$results")
    f=$(grep -c '^FAIL' "$results")
    s=$(grep -c '^SKIP' "$results")
    if [ "$s" -gt 0 ]; then
        echo
        echo "skipped:"
        awk -F'\t' '$1 == "SKIP" { printf "  %s: %s\n", $2, $3 }' "$results"
    fi
    if [ "$f" -gt 0 ]; then
        echo
        echo "failed:"
        awk -F'\t' '$1 == "FAIL" { printf "  %s%s\n", $2, ($3 == "" ? "" : ": " $3) }' "$results"
        echo "(logs: $logs, $BUILD/qtest-logs)"
    fi
    echo
    echo "test command took $((SECONDS / 60))m$((SECONDS % 60))s"
    echo "$p passed, $f failed, $s skipped"
    [ "$f" = 0 ]
    exit
}

# The PQC TPM (wolfTPM's fwtpm_server, built once per machine) for the
# tests that need ML-DSA; without ../shared/vendor they skip saying so, and
# check-skips.sh fails the run (tests/expected-skips does not list them).
prepare_pqc_tpm() {
    local rc=0
    log "PQC TPM: scripts/build-pqc-tpm.sh (log: $logs/pqc-tpm.log)"
    pqc_tpm_env "$logs/pqc-tpm.log" || rc=$?
    case $rc in
    0) log "PQC TPM: QPQC_FWTPM=$QPQC_FWTPM" ;;
    2) log "PQC TPM: ${QPQC_PQC_MISSING}; the tests that need it skip" ;;
    *) record FAIL "setup: PQC TPM build" "exit status $rc, log: $logs/pqc-tpm.log" ;;
    esac
}

# The peer of the interoperability tests, made while QEMU builds (it is
# mostly downloads); when it cannot be made (no network, unstable without
# QEMU >= 11.1) they skip saying why, which fails the run (check-skips.sh).
start_sid_chroot() {
    log "upstream QEMU: scripts/make-sid-chroot.sh, in the background (log: $logs/sid-chroot.log)"
    mkdir -p "$WORK"
    "$TOP/scripts/make-sid-chroot.sh" >"$logs/sid-chroot.log" 2>&1 &
    sid_pid=$!
}
finish_sid_chroot() {
    [ -n "${sid_pid:-}" ] || return 0
    wait "$sid_pid" ||
        export QPQC_SID_MISSING="scripts/make-sid-chroot.sh failed: $(tail -n1 "$logs/sid-chroot.log")"
    log "upstream QEMU: $(tail -n1 "$logs/sid-chroot.log")"
}

# Tests use what is prepared here and never build anything themselves.
log "preparing: fetch, working tree, builds (patched, unpatched), guest image, PQC TPM"
if wanted interop || { sanitizers && wanted sanitizers/interop; }; then start_sid_chroot; fi
prepare "$TOP/scripts/fetch-base.sh"
prepare "$TOP/scripts/build.sh" patched
prepare "$TOP/scripts/build.sh" base
if sanitizers; then prepare "$TOP/scripts/build.sh" sanitizers; fi
prepare "$TOP/scripts/fetch-guest.sh"
prepare_pqc_tpm
finish_sid_chroot
build_env

if wanted lint; then
    if "$TOP/scripts/lint.sh" >"$logs/lint.log" 2>&1; then
        record PASS "lint: checkpatch.pl over the series"
    else
        record FAIL "lint: checkpatch.pl over the series"; sed 's/^/    /' "$logs/lint.log"
    fi
fi
if wanted series-prefixes; then
    "$TOP/scripts/check-series.sh" 2>&1 | tee "$logs/series-prefixes.log"
    if [ "${PIPESTATUS[0]}" = 0 ]; then
        record PASS "series-prefixes: every prefix builds and passes the test programs"
    else
        record FAIL "series-prefixes" "see $logs/series-prefixes.log"
    fi
fi

# The test programs of build $1 (a name of build_table), run by
# run-qtests.sh after the command $2... (none, or scripts/sanitized.sh).
run_test_programs() {
    local name=$1 build rc=0 status test reason
    build=$(build_field "$name" dir)
    log "running the test programs of the $name build"
    "${@:2}" "$TOP/scripts/run-qtests.sh" "$build" "$filter" >"$logs/qtests-$name.results" 2>"$logs/qtests-$name.err" || rc=$?
    # status 1 with a FAIL line is a failed test; anything else is the runner's
    if [ $rc != 0 ] && { [ $rc != 1 ] || ! grep -q '^FAIL'$'\t' "$logs/qtests-$name.results"; }; then
        record FAIL "run-qtests.sh ($name)" "exit status $rc: $(tail -n1 "$logs/qtests-$name.err")"
    fi
    while IFS=$'\t' read -r status test reason; do
        # the qtests cannot know why the harness has no PQC TPM to offer
        if [ "$status" = SKIP ] && [[ "$reason" == *QTEST_TPM_EMULATOR* ]] &&
            [ -n "${QPQC_PQC_MISSING:-}" ]; then
            reason="$reason; no PQC TPM: $QPQC_PQC_MISSING"
        fi
        record "$status" "$test" "$reason"
    done <"$logs/qtests-$name.results"
    [ ! -s "$logs/qtests-$name.err" ] || cat "$logs/qtests-$name.err"
}

run_test_programs patched
run_test_programs patched-aarch64
# a sanitizer report ends sanitized.sh's output (and makes its status 1)
if sanitizers; then
    run_test_programs sanitizers "$TOP/scripts/sanitized.sh"
fi

# The pipeline's tests one at a time (they use the working tree and the
# build), then the others QPQC_TEST_JOBS (default 2, the cores) at a time;
# results are recorded in the order of this list.
jobs_max=${QPQC_TEST_JOBS:-2}
parallel=()
# Start test $2 (arguments $3...), named $1, once a job slot is free.
start_parallel() {
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
        wait -n || true
    done
    start_script "$@"
    parallel+=("$1")
}
for t in "$TOP"/tests/pipeline/test-*.sh \
    "$TOP"/tests/harness/test-*.sh "$TOP"/tests/harness/test-*.py \
    "$TOP"/tests/guest/test-*.sh "$TOP"/tests/interop/test-*.py; do
    [ -e "$t" ] || continue
    name=$(basename "$(dirname "$t")")/$(basename "${t%.*}")
    wanted "$name" || continue
    if [[ "$name" == pipeline/* ]]; then
        start_script "$name" "$t"
        wait
        finish_script "$name"
        continue
    fi
    start_parallel "$name" "$t"
done
# The harness tests that drive the device, again on the sanitizer build.
sanitizer_tests=()
if sanitizers; then
    sanitizer_tests=("$TOP"/tests/harness/test-migrate-*.py "$TOP"/tests/harness/test-crb-x-chunk-size.sh
        "$TOP"/tests/harness/test-pqc-mldsa-unpatched.py "$TOP"/tests/harness/test-fuzz-findings.py
        "$TOP"/tests/interop/test-*.py
        "$TOP"/tests/fuzz/fuzz-migration-stream.py "$TOP"/tests/sanitizers/test-*.sh)
fi
for t in "${sanitizer_tests[@]}"; do
    name=$(basename "$(dirname "$t")")/$(basename "${t%.*}")
    [[ "$name" == sanitizers/* ]] || name=sanitizers/$name
    wanted "$name" || continue
    # tests/sanitizers/ check sanitized.sh itself, the others run under it
    if [[ "$t" == */tests/sanitizers/* ]]; then
        start_parallel "$name" "$t"
    else
        start_parallel "$name" "$TOP/scripts/sanitized.sh" "$t"
    fi
done
wait
for name in "${parallel[@]}"; do
    finish_script "$name"
done
summary
