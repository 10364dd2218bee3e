#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tpm2-tools in a real Linux guest over the guest-side driver tpm-chunk on
# tpm-crb with chunking on and a 256-byte window (x-chunk-size=256), so
# that ordinary swtpm traffic moves in several chunks, and a response read
# interrupted and replayed with crbRspRetry.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.mode=tools" \
    "$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on \
    -global tpm-crb.x-chunk-size=256
