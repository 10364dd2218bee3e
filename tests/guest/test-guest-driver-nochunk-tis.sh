#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest-side driver tpm-chunk on a tpm-tis without the 8192-byte
# buffer (x-allow-ext-buffer=off, swtpm's 4096 bytes): a 5000-byte
# command is refused by the driver with a message and TPM_RC_COMMAND_SIZE
# once the FIFO takes no more, and the next command works.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=init_tis qpqc.mode=nochunk" \
    "$(dirname "$0")/run-guest.sh" tpm-tis
