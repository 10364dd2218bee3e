#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tpm2-tools in a real Linux guest over the guest-side driver tpm-chunk
# (TPM2TOOLS_TCTI=cmd:tpm-chunk) on tpm-crb with chunking on and the full
# 3968-byte window, against swtpm: the steps of the kernel-driver run.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.mode=tools" \
    "$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on
