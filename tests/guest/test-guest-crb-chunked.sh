#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A real Linux guest moves commands and responses through tpm-crb in
# chunks: its userspace drives the registers with busybox devmem (the
# kernel's CRB driver, which cannot chunk, is kept off the device), with
# a 256-byte window so that ordinary swtpm traffic needs several chunks.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
GUEST_APPEND="initcall_blacklist=crb_acpi_driver_init qpqc.crbchunk" \
    "$(dirname "$0")/run-guest.sh" tpm-crb -global tpm-crb.cap-chunk=on \
    -global tpm-crb.x-chunk-size=256
