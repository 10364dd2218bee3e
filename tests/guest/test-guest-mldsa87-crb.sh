#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real Linux guest signs with ML-DSA-87 through chunked tpm-crb (full
# 3968-byte window): tpm-mldsa87 over the guest-side driver makes a key,
# a 4627-byte signature (a 4655-byte response), verifies it (a 4662-byte
# command) and has a tampered message and signature refused, against the
# PQC TPM (wolfTPM's fwtpm_server); skips naming why when it is missing.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
[ -z "${QPQC_PQC_MISSING:-}" ] || skip "no PQC TPM: $QPQC_PQC_MISSING"
GUEST_TPM=pqc GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.mode=mldsa" \
    "$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on
