#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz what the device takes from outside the guest: the incoming
# migration stream of tpm-crb and tpm-tis (tests/fuzz/fuzz-migration-stream.py),
# on the ASan/UBSan build.  Prints, per saved state, the loads tried,
# refused and accepted, and every finding; findings are kept in
# $WORK/fuzz/stream, with the command that replays one.
#   fuzz.sh [LOADS_PER_STATE [SEED]]      (default 300, 1)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

loads=${1:-300}
seed=${2:-1}
"$TOP/scripts/build.sh" sanitizers
out=$WORK/fuzz/stream
mkdir -p "$out"
log "stream fuzzer: $loads loads per state, seed $seed, findings in ${out#"$TOP"/}"
rc=0
"$TOP/scripts/sanitized.sh" "$TOP/tests/fuzz/fuzz-migration-stream.py" \
    --loads "$loads" --seed "$seed" --out "$out" || rc=$?
[ $rc = 0 ] || log "findings: replay one with scripts/sanitized.sh tests/fuzz/fuzz-migration-stream.py --replay FILE.stream --state STATE"
exit $rc
