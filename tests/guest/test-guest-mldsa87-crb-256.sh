#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ML-DSA-87 in a real Linux guest through tpm-crb with a 256-byte window
# (x-chunk-size=256): the 4662-byte command and the 4655-byte response
# move in 19 chunks each.  Against the PQC TPM; skips naming why when it
# is missing.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
[ -z "${QPQC_PQC_MISSING:-}" ] || skip "no PQC TPM: $QPQC_PQC_MISSING"
GUEST_TPM=pqc GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.mode=mldsa" \
    "$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on \
    -global tpm-crb.x-chunk-size=256
