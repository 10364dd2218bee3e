/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real device for tpm-chunk: the locality 0 page of the TPM mapped
 * from /dev/mem (root; the kernel's own TPM driver must not hold the
 * page: initcall_blacklist=crb_acpi_driver_init or init_tis, since
 * IO_STRICT_DEVMEM refuses to map a region a driver has claimed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest-io.h"

/* MMIO: every access must reach the device, in program order */
static volatile uint8_t *page;

static uint32_t mem_read32(void *opaque, uint32_t off)
{
    /* volatile: one 32-bit MMIO read, never merged or elided */
    return *(volatile uint32_t *)(page + off);
}

static void mem_write32(void *opaque, uint32_t off, uint32_t val)
{
    /* volatile: one 32-bit MMIO write, never merged or elided */
    *(volatile uint32_t *)(page + off) = val;
}

static uint8_t mem_read8(void *opaque, uint32_t off)
{
    return page[off];
}

static void mem_write8(void *opaque, uint32_t off, uint8_t val)
{
    page[off] = val;
}

static uint64_t mem_now_us(void *opaque)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Spin for the first polls (most waits end within microseconds: every
 * register but Start acts at once), then sleep a little between polls,
 * so that a long command does not keep the vCPU in MMIO exits.
 */
static void mem_relax(void *opaque, unsigned polls)
{
    struct timespec ts = { 0, 20000 };

    if (polls >= 256) {
        nanosleep(&ts, NULL);
    }
}

int guest_io_open(TpmIo *io, uint64_t base, char *err, size_t errsize)
{
    void *p;
    int fd;

    fd = open("/dev/mem", O_RDWR | O_SYNC);
    if (fd < 0) {
        snprintf(err, errsize, "cannot open /dev/mem: %s", strerror(errno));
        return -1;
    }
    p = mmap(NULL, TPM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             base);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errsize, "cannot map the TPM page at 0x%llx from"
                 " /dev/mem: %s%s", (unsigned long long)base,
                 strerror(errno), errno == EPERM ? " (a kernel driver holds"
                 " it: boot with initcall_blacklist=crb_acpi_driver_init"
                 " for tpm-crb, initcall_blacklist=init_tis for tpm-tis)"
                 : "");
        return -1;
    }
    page = p;
    *io = (TpmIo) {
        .read32 = mem_read32,
        .write32 = mem_write32,
        .read8 = mem_read8,
        .write8 = mem_write8,
        .now_us = mem_now_us,
        .relax = mem_relax,
    };
    return 0;
}

uint64_t guest_io_now_us(void)
{
    return mem_now_us(NULL);
}
