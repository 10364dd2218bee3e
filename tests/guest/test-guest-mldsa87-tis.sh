#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real Linux guest signs with ML-DSA-87 through tpm-tis with its
# 8192-byte buffer (x-allow-ext-buffer=on): tpm-mldsa87 over the
# guest-side driver (the kernel's tpm_tis kept off with
# initcall_blacklist=init_tis), against the PQC TPM; skips naming why when
# it is missing.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
"$QEMU" -device tpm-tis,help 2>/dev/null | grep -q 'x-allow-ext-buffer=' ||
    skip "this build has no x-allow-ext-buffer property"
[ -z "${QPQC_PQC_MISSING:-}" ] || skip "no PQC TPM: $QPQC_PQC_MISSING"
GUEST_TPM=pqc GUEST_APPEND="initcall_blacklist=init_tis qpqc.mode=mldsa" \
    "$(dirname "$0")/run-guest.sh" tpm-tis -global tpm-tis.x-allow-ext-buffer=on
