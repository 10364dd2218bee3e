#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job: a real Linux guest does TPM 2.0 work through the patched
# QEMU's tpm-crb (chunking advertised when the series provides it) and
# tpm-tis devices, each backed by swtpm, and then moves commands and
# responses through tpm-crb in chunks from its own userspace: with busybox
# devmem, then with tpm2-tools over the guest-side driver tpm-chunk, and
# signs with ML-DSA-87 through the PQC TPM (skipped, saying why, when it
# cannot be built).  Exits non-zero on any failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/fetch-base.sh"
"$TOP/scripts/build.sh" patched
"$TOP/scripts/fetch-guest.sh"
qemu=$(build_qemu patched)

# The PQC TPM (wolfTPM's fwtpm_server, built once per machine) for the
# ML-DSA-87 runs; without ../shared/vendor they are skipped, saying why.
log "PQC TPM for the ML-DSA-87 runs: scripts/build-pqc-tpm.sh (the first time" \
    "on a machine 1-2 minutes; log: $WORK/pqc-tpm.log)"
pqc_tpm_env "$WORK/pqc-tpm.log" 2>/dev/null || true

guest=$TOP/tests/guest
verdicts=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() { # TITLE COMMAND...
    local title=$1 rc=0
    shift
    printf '\n=== %s ===\n' "$title"
    "$@" | tee "$out" || rc=${PIPESTATUS[0]}
    case $rc in
    0) verdicts+=("PASS  $title") ;;
    77) verdicts+=("SKIP  $title: $(sed -n 's/^SKIP: //p' "$out" | tail -n1)") ;;
    *) verdicts+=("FAIL  $title") ;;
    esac
    # the ML-DSA-87 runs: the signature's size and the time it took
    while IFS= read -r l; do
        verdicts+=("$l")
    done < <(sed -n 's/^  PASS signed: /        signed: /p; s/^  TIME /        /p' "$out")
}

echo "QEMU $(fetched_version) + series ($(series_patches | wc -l) patches): $qemu"
run "tpm-crb, chunking advertised (cap-chunk=on), stock guest driver" \
    "$guest/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on
run "tpm-tis" "$guest/run-guest.sh" tpm-tis
run "tpm-crb, chunked transfers by the guest (256-byte window)" \
    "$guest/test-guest-crb-chunked.sh"
run "tpm2-tools over the guest driver tpm-chunk, tpm-crb chunking, full window" \
    "$guest/test-guest-driver-tools-crb.sh"
run "tpm2-tools over the guest driver tpm-chunk, tpm-crb chunking, 256-byte window" \
    "$guest/test-guest-driver-tools-crb-256.sh"
if [ -n "${QPQC_PQC_BRIDGE:-}" ]; then
    run "ML-DSA-87 sign and verify through chunked tpm-crb (guest driver, PQC TPM)" \
        "$guest/test-guest-mldsa87-crb.sh"
    run "ML-DSA-87 sign and verify through tpm-tis, 8192-byte buffer (guest driver, PQC TPM)" \
        "$guest/test-guest-mldsa87-tis.sh"
else
    printf '\n=== ML-DSA-87 runs: skipped ===\nno PQC TPM: %s\n' "$QPQC_PQC_MISSING"
    verdicts+=("SKIP  ML-DSA-87 runs: no PQC TPM: $QPQC_PQC_MISSING")
fi

printf '\n=== summary ===\n'
printf '  %s\n' "${verdicts[@]}"
if printf '%s\n' "${verdicts[@]}" | grep -q '^FAIL'; then
    echo "DEMO FAILED"
    exit 1
fi
echo "DEMO PASSED: real TPM 2.0 work in a Linux guest through both interfaces"
