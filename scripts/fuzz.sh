#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz what the device takes from outside: the guest's register accesses
# (libFuzzer's generic-fuzz targets of the series, scripts/fuzz-guest.sh)
# and the incoming migration stream (tests/fuzz/fuzz-migration-stream.py,
# on the ASan/UBSan build).  Prints, per target, the executions, coverage
# and crashes, and per saved state the stream loads tried, refused and
# accepted; findings are kept in $WORK/fuzz with the command that replays
# one.
#   fuzz.sh [SECONDS_PER_TARGET [LOADS_PER_STATE [SEED]]]  (default 300, 300, 1)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seconds=${1:-300}
loads=${2:-300}
seed=${3:-1}
rc=0
"$TOP/scripts/fuzz-guest.sh" "$seconds" || rc=1

"$TOP/scripts/build.sh" sanitizers
out=$WORK/fuzz/stream
mkdir -p "$out"
log "stream fuzzer: $loads loads per state, seed $seed, findings in ${out#"$TOP"/}"
"$TOP/scripts/sanitized.sh" "$TOP/tests/fuzz/fuzz-migration-stream.py" \
    --loads "$loads" --seed "$seed" --out "$out" ||
    { rc=1; log "findings: replay one with scripts/sanitized.sh tests/fuzz/fuzz-migration-stream.py --replay FILE.stream --state STATE"; }
exit $rc
