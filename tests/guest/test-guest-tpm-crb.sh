#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real Linux guest does TPM 2.0 work through tpm-crb, with chunking
# advertised when the build has it (the stock driver must not mind).
. "$(dirname "$0")/../lib/common.sh"
read -r -a args <<<"$(crb_chunk_args "$QEMU")"
"$(dirname "$0")/run-guest.sh" tpm-crb "${args[@]}"
