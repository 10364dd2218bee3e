#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real Linux guest does TPM 2.0 work through tpm-crb, with chunking
# advertised (the stock driver, which cannot chunk, must not mind).
. "$(dirname "$0")/../lib/common.sh"
"$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on
