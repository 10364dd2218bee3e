#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest-side driver tpm-chunk on a tpm-crb without chunking
# (cap-chunk=off, as the base's machine types have it): commands that fit
# the 3968-byte window work, also from tpm2-tools; a 4000-byte command is
# refused by the driver with a message and TPM_RC_COMMAND_SIZE, without
# touching the device.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.mode=nochunk" \
    "$(dirname "$0")/run-guest.sh" tpm-crb
