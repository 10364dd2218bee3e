/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TPM page from /dev/mem, as a TpmIo (see guest-io.c). */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include "tpm-chunk.h"

#define TPM_DEFAULT_BASE 0xfed40000ull

int guest_io_open(TpmIo *io, uint64_t base, char *err, size_t errsize);
uint64_t guest_io_now_us(void);

#endif /* GUEST_IO_H */
