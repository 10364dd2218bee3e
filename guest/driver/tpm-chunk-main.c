/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpm-chunk: TPM 2.0 commands on stdin, responses on stdout, through the
 * TPM's registers mapped from /dev/mem: tpm-crb with chunked transfers
 * (CapCRBChunk) or tpm-tis with its 8192-byte buffer.  That makes it a
 * tpm2-tss "cmd" TCTI for tpm2-tools:
 *
 *     TPM2TOOLS_TCTI='cmd:tpm-chunk' tpm2_getrandom 8
 *
 * and, with --hex, a tool for raw commands:
 *
 *     tpm-chunk --hex 80010000000c0000017b0008
 *
 * Every command gets a well-formed response: the TPM's, or a 10-byte
 * error response (TPM_RC_COMMAND_SIZE, TPM_RC_FAILURE) made here, with
 * the reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-io.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: tpm-chunk [OPTIONS]               commands on stdin, responses on stdout\n"
        "       tpm-chunk [OPTIONS] --hex CMD...  each CMD (hex) sent, its response printed in hex\n"
        "       tpm-chunk [OPTIONS] --info        what the device offers\n"
        "options:\n"
        "  --crb, --tis          insist on this interface (default: what CRB_INTF_ID says)\n"
        "  --base ADDR           physical address of the TPM (default 0xfed40000)\n"
        "  --log FILE            append one line per command (or $TPM_CHUNK_LOG)\n"
        "  -v, --verbose         the same lines on stderr\n"
        "  --interrupt-read N    abandon the first read of each response after N chunks\n"
        "                        and read it again with crbRspRetry/responseRetry\n"
        "                        (or $TPM_CHUNK_INTERRUPT; a test of the retry path)\n"
        "  --duration-ms MS      longest command execution (default 120000)\n");
}

static uint32_t dead_read32(void *opaque, uint32_t off)
{
    return 0xffffffff;
}

static void dead_write32(void *opaque, uint32_t off, uint32_t val)
{
}

static uint8_t dead_read8(void *opaque, uint32_t off)
{
    return 0xff;
}

static void dead_write8(void *opaque, uint32_t off, uint8_t val)
{
}

static uint64_t dead_now_us(void *opaque)
{
    return guest_io_now_us();
}

static void dead_relax(void *opaque, unsigned polls)
{
}

/* When /dev/mem cannot be mapped: a device that is not there. */
static const TpmIo dead_io = {
    .read32 = dead_read32,
    .write32 = dead_write32,
    .read8 = dead_read8,
    .write8 = dead_write8,
    .now_us = dead_now_us,
    .relax = dead_relax,
};

static int hex_to_bin(const char *hex, uint8_t *out, size_t max, size_t *len)
{
    size_t n = strlen(hex), i;
    unsigned v;

    if (n % 2 || n / 2 > max) {
        return -1;
    }
    for (i = 0; i < n / 2; i++) {
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            return -1;
        }
        out[i] = v;
    }
    *len = n / 2;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "crb", no_argument, NULL, 'c' },
        { "tis", no_argument, NULL, 't' },
        { "base", required_argument, NULL, 'b' },
        { "log", required_argument, NULL, 'l' },
        { "verbose", no_argument, NULL, 'v' },
        { "interrupt-read", required_argument, NULL, 'i' },
        { "duration-ms", required_argument, NULL, 'd' },
        { "hex", no_argument, NULL, 'x' },
        { "info", no_argument, NULL, 'I' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static uint8_t cmd[TPM_CHUNK_MAX_XFER], rsp[TPM_CHUNK_MAX_XFER];
    uint64_t base = TPM_DEFAULT_BASE;
    const char *log_path = getenv("TPM_CHUNK_LOG");
    const char *interrupt = getenv("TPM_CHUNK_INTERRUPT");
    TpmIf want = TPM_IF_AUTO;
    bool hex = false, info = false, verbose = false;
    long duration_ms = 0;
    char err[256], line[512];
    int log_fd = -1, c, i, ret = 0;
    size_t len, n;
    TpmDev d;
    TpmIo io;

    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            want = TPM_IF_CRB;
            break;
        case 't':
            want = TPM_IF_TIS;
            break;
        case 'b':
            base = strtoull(optarg, NULL, 0);
            break;
        case 'l':
            log_path = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'i':
            interrupt = optarg;
            break;
        case 'd':
            duration_ms = strtol(optarg, NULL, 0);
            break;
        case 'x':
            hex = true;
            break;
        case 'I':
            info = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    if (guest_io_open(&io, base, err, sizeof(err)) < 0) {
        fprintf(stderr, "tpm-chunk: %s\n", err);
        io = dead_io;
    }
    tpm_dev_init(&d, &io, base);
    if (duration_ms > 0) {
        d.to.duration = duration_ms * 1000ull;
    }
    if (interrupt) {
        d.interrupt_read = strtoul(interrupt, NULL, 0);
    }
    if (tpm_probe(&d, want) < 0) {
        fprintf(stderr, "tpm-chunk: %s\n", d.error);
        if (info) {
            return 1;
        }
    }
    if (info) {
        if (d.kind == TPM_IF_CRB) {
            printf("crb at 0x%llx: window %u bytes (command), %u bytes"
                   " (response), CapCRBChunk %d\n", (unsigned long long)base,
                   d.cmd_window, d.rsp_window, d.chunking);
        } else {
            printf("tis at 0x%llx: %d-byte FIFO accesses\n",
                   (unsigned long long)base, d.fifo32 ? 4 : 1);
        }
        return 0;
    }
    if (log_path && *log_path) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log_fd < 0) {
            fprintf(stderr, "tpm-chunk: %s: %s\n", log_path, strerror(errno));
        }
    }
    if (!hex) {
        return tpm_serve(&d, 0, 1, 2, verbose ? 2 : log_fd, 10000);
    }
    for (i = optind; i < argc; i++) {
        if (hex_to_bin(argv[i], cmd, sizeof(cmd), &len) < 0) {
            fprintf(stderr, "tpm-chunk: not a hex command: %.40s\n", argv[i]);
            ret = 2;
            continue;
        }
        n = tpm_transmit(&d, cmd, len, rsp, sizeof(rsp));
        if (d.stats.local) {
            fprintf(stderr, "tpm-chunk: %s\n", d.error);
        }
        tpm_stats_line(&d, line, sizeof(line));
        if (verbose) {
            fprintf(stderr, "%s\n", line);
        }
        if (log_fd >= 0) {
            dprintf(log_fd, "%s\n", line);
        }
        for (size_t j = 0; j < n; j++) {
            printf("%02x", rsp[j]);
        }
        printf("\n");
    }
    return ret;
}
