#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmarks, each in one invocation with alternating rounds:
# 1. the cost of an ordinary (unchunked) TPM command through tpm-crb on
#    the unpatched build and on the patched build with chunking off and on
#    (tests/bench/bench-crb.py, swtpm);
# 2. ML-DSA-87 sign + verify through chunked tpm-crb and through tpm-tis
#    with the 8192-byte buffer, against the same commands sent straight
#    to the TPM (tests/bench/bench-mldsa.py, wolfTPM's fwtpm_server from
#    scripts/build-pqc-tpm.sh).  Without the PQC TPM (no ../shared/vendor)
#    this part is skipped, saying why.
#   bench.sh [BENCH-CRB-ARGS...] [-- BENCH-MLDSA-ARGS...]
# e.g. bench.sh --rounds 11 --commands 500 -- --rounds 7 --ops 5
set -euo pipefail
. "$(dirname "$0")/lib.sh"

crb_args=() mldsa_args=()
while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then
        shift
        mldsa_args=("$@")
        break
    fi
    crb_args+=("$1")
    shift
done

"$TOP/scripts/build.sh" patched
"$TOP/scripts/build.sh" base
need_cmd swtpm

# The PQC TPM, built once per machine; prepared before any timing.
logs=$WORK/bench-logs
mkdir -p "$logs"
rc=0
pqc_tpm_env "$logs/pqc-tpm.log" || rc=$?

"$SYS_PYTHON" "$TOP/tests/bench/bench-crb.py" "${crb_args[@]}" \
    "unpatched=$BASE_BUILD/qemu-system-x86_64" \
    "patched-chunk-off=$BUILD/qemu-system-x86_64" \
    "patched-chunk-on=$BUILD/qemu-system-x86_64,cap-chunk=on"

echo
if [ "$rc" != 0 ]; then
    echo "SKIP: ML-DSA-87 sign + verify benchmark: $QPQC_PQC_MISSING"
    # a missing vendor directory is a skip, a failed build a failure
    if [ "$rc" = 2 ]; then exit 0; else exit 1; fi
fi
qemu=$BUILD/qemu-system-x86_64
exec "$SYS_PYTHON" "$TOP/tests/bench/bench-mldsa.py" "${mldsa_args[@]}" \
    "crb-chunk=$qemu,tpm-crb,cap-chunk=on" \
    "crb-chunk-256=$qemu,tpm-crb,cap-chunk=on,x-chunk-size=256" \
    "tis-8192=$qemu,tpm-tis,x-allow-ext-buffer=on"
