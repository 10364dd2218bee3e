#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark: cost of an ordinary (unchunked) TPM command through tpm-crb on
# the unpatched build and on the patched build with chunking off and on,
# measured in one invocation (tests/bench/bench-crb.py).  Extra arguments
# go to the script (e.g. --rounds 11 --commands 500).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/build.sh" patched
"$TOP/scripts/build.sh" base
need_cmd swtpm
exec "$SYS_PYTHON" "$TOP/tests/bench/bench-crb.py" "$@" \
    "unpatched=$BASE_BUILD/qemu-system-x86_64" \
    "patched-chunk-off=$BUILD/qemu-system-x86_64" \
    "patched-chunk-on=$BUILD/qemu-system-x86_64,cap-chunk=on"
