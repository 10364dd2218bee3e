#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tpm2-tools in a real Linux guest over the guest-side driver tpm-chunk on
# tpm-tis (the kernel's tpm_tis kept off with initcall_blacklist=init_tis),
# against swtpm, with a response read interrupted and replayed with
# responseRetry.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=init_tis qpqc.mode=tools" \
    "$(dirname "$0")/run-guest.sh" tpm-tis
