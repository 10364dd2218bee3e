/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpm-chunk: the protocol logic of the userspace TPM driver (see
 * tpm-chunk.h).  CRB: locality, cmdReady, the command in window-sized
 * chunks (nextChunk, then Start), the response in chunks (nextChunk),
 * crbRspRetry when a read is interrupted, goIdle, relinquish.  TIS:
 * locality, commandReady, the FIFO in bursts (burstCount, Expect), tpmGo,
 * dataAvail, responseRetry, commandReady, relinquish.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tpm-chunk.h"

#define MS 1000ull

static uint32_t rd32(TpmDev *d, uint32_t off)
{
    return d->io.read32(d->io.opaque, off);
}

static void wr32(TpmDev *d, uint32_t off, uint32_t val)
{
    d->io.write32(d->io.opaque, off, val);
}

static uint8_t rd8(TpmDev *d, uint32_t off)
{
    return d->io.read8(d->io.opaque, off);
}

static void wr8(TpmDev *d, uint32_t off, uint8_t val)
{
    d->io.write8(d->io.opaque, off, val);
}

static uint64_t now(TpmDev *d)
{
    return d->io.now_us(d->io.opaque);
}

uint32_t tpm_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

void tpm_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

const char *tpm_if_name(TpmIf kind)
{
    switch (kind) {
    case TPM_IF_CRB:
        return "crb";
    case TPM_IF_TIS:
        return "tis";
    default:
        return "none";
    }
}

size_t tpm_error_response(uint8_t *rsp, uint32_t rc)
{
    rsp[0] = TPM_ST_NO_SESSIONS >> 8;
    rsp[1] = TPM_ST_NO_SESSIONS & 0xff;
    tpm_put_be32(rsp + 2, TPM_HDR_SIZE);
    tpm_put_be32(rsp + 6, rc);
    return TPM_HDR_SIZE;
}

/* Record why the driver makes the response (the first reason wins). */
static int __attribute__((format(printf, 3, 4)))
fail_rc(TpmDev *d, uint32_t rc, const char *fmt, ...)
{
    va_list ap;

    if (!d->error[0]) {
        va_start(ap, fmt);
        vsnprintf(d->error, sizeof(d->error), fmt, ap);
        va_end(ap);
        d->error_rc = rc;
    }
    return -1;
}

#define fail(d, ...) fail_rc(d, TPM_RC_FAILURE, __VA_ARGS__)

/*
 * Poll a register until (value & mask) == want; false when it still
 * differs at a read made after the timeout.
 */
static bool wait_reg(TpmDev *d, uint32_t off, bool byte, uint32_t mask,
                     uint32_t want, uint64_t timeout, uint32_t *val)
{
    uint64_t start = now(d);
    unsigned polls = 0;
    bool expired;

    for (;;) {
        expired = now(d) - start > timeout;
        *val = byte ? rd8(d, off) : rd32(d, off);
        if ((*val & mask) == want) {
            return true;
        }
        if (expired) {
            return false;
        }
        d->io.relax(d->io.opaque, polls++);
    }
}

void tpm_dev_init(TpmDev *d, const TpmIo *io, uint64_t base)
{
    memset(d, 0, sizeof(*d));
    d->io = *io;
    d->base = base;
    d->to.a = 750 * MS;
    d->to.b = 2000 * MS;
    d->to.c = 200 * MS;
    d->to.duration = 120000 * MS;
}

/* A CRB window: inside the page, after the registers, whole words. */
static int crb_window(TpmDev *d, const char *name, uint64_t addr,
                      uint32_t size, uint32_t *off)
{
    if (addr < d->base + CRB_DATA_BUFFER ||
        addr + size > d->base + TPM_PAGE_SIZE ||
        size < 16 || size % 4) {
        return fail(d, "unsupported CRB %s buffer: %u bytes at 0x%llx"
                    " (this driver needs it inside the page at 0x%llx)",
                    name, size, (unsigned long long)addr,
                    (unsigned long long)d->base);
    }
    *off = addr - d->base;
    return 0;
}

int tpm_probe(TpmDev *d, TpmIf want)
{
    uint32_t id = rd32(d, CRB_INTF_ID);
    uint64_t cmd_addr, rsp_addr;
    TpmIf kind;

    d->error[0] = 0;
    d->kind = TPM_IF_AUTO;
    if (id == 0xffffffff) {
        return fail(d, "no TPM at 0x%llx: its interface identifier reads"
                    " 0xffffffff", (unsigned long long)d->base);
    }
    switch (id & CRB_INTF_ID_TYPE_MASK) {
    case CRB_INTF_ID_TYPE_CRB:
        kind = TPM_IF_CRB;
        break;
    case 0x0:   /* FIFO (PTP) */
    case 0xf:   /* TIS 1.3 */
        kind = TPM_IF_TIS;
        break;
    default:
        return fail(d, "unknown TPM interface type %u (interface"
                    " identifier 0x%08x)", id & CRB_INTF_ID_TYPE_MASK, id);
    }
    if (want != TPM_IF_AUTO && want != kind) {
        return fail(d, "the TPM at 0x%llx has a %s interface, not %s",
                    (unsigned long long)d->base, tpm_if_name(kind),
                    tpm_if_name(want));
    }
    if (kind == TPM_IF_CRB) {
        d->chunking = id & CRB_INTF_ID_CAP_CRB_CHUNK;
        d->cmd_window = rd32(d, CRB_CTRL_CMD_SIZE);
        d->rsp_window = rd32(d, CRB_CTRL_RSP_SIZE);
        cmd_addr = (uint64_t)rd32(d, CRB_CTRL_CMD_HADDR) << 32 |
                   rd32(d, CRB_CTRL_CMD_LADDR);
        rsp_addr = (uint64_t)rd32(d, CRB_CTRL_RSP_ADDR + 4) << 32 |
                   rd32(d, CRB_CTRL_RSP_ADDR);
        if (crb_window(d, "command", cmd_addr, d->cmd_window,
                       &d->cmd_off) < 0 ||
            crb_window(d, "response", rsp_addr, d->rsp_window,
                       &d->rsp_off) < 0) {
            return -1;
        }
    } else {
        d->fifo32 = rd32(d, TIS_INTF_CAPABILITY) & TIS_CAP_XFER_SIZE_MASK;
    }
    d->kind = kind;
    return 0;
}

/* ---- CRB ---- */

static void crb_write_window(TpmDev *d, const uint8_t *p, uint32_t n)
{
    uint32_t i, w;

    for (i = 0; i < n; i += 4) {
        w = p[i];
        w |= (i + 1 < n ? p[i + 1] : 0) << 8;
        w |= (i + 2 < n ? p[i + 2] : 0) << 16;
        w |= (uint32_t)(i + 3 < n ? p[i + 3] : 0) << 24;
        wr32(d, d->cmd_off + i, w);
    }
}

static void crb_read_window(TpmDev *d, uint8_t *p, uint32_t n)
{
    uint32_t i, j, w;

    for (i = 0; i < n; i += 4) {
        w = rd32(d, d->rsp_off + i);
        for (j = 0; j < 4 && i + j < n; j++) {
            p[i + j] = w >> (8 * j);
        }
    }
}

static int crb_request_locality(TpmDev *d)
{
    uint32_t want = CRB_LOC_STATE_ASSIGNED | CRB_LOC_STATE_REG_VALID;
    uint32_t sts, state = 0;

    wr32(d, CRB_LOC_CTRL, CRB_LOC_CTRL_REQUEST_ACCESS);
    if (!wait_reg(d, CRB_LOC_STS, false, CRB_LOC_STS_GRANTED,
                  CRB_LOC_STS_GRANTED, d->to.a, &sts) ||
        !wait_reg(d, CRB_LOC_STATE, false,
                  want | CRB_LOC_STATE_ACTIVE_MASK, want, d->to.a, &state)) {
        return fail(d, "CRB: locality 0 not granted within TIMEOUT_A"
                    " (LOC_STS 0x%x, LOC_STATE 0x%x)", sts, state);
    }
    return 0;
}

static int crb_relinquish(TpmDev *d)
{
    uint32_t sts;

    wr32(d, CRB_LOC_CTRL, CRB_LOC_CTRL_RELINQUISH);
    if (!wait_reg(d, CRB_LOC_STS, false, CRB_LOC_STS_GRANTED, 0,
                  d->to.a, &sts)) {
        return fail(d, "CRB: locality 0 still granted TIMEOUT_A after"
                    " relinquish (LOC_STS 0x%x)", sts);
    }
    return 0;
}

/* cmdReady or goIdle: the request bit clears, tpmIdle follows. */
static int crb_request(TpmDev *d, uint32_t bit, uint32_t idle)
{
    const char *name = bit == CRB_CTRL_REQ_CMD_READY ? "cmdReady" : "goIdle";
    uint32_t req, sts = 0;

    wr32(d, CRB_CTRL_REQ, bit);
    if (!wait_reg(d, CRB_CTRL_REQ, false, bit, 0, d->to.c, &req) ||
        !wait_reg(d, CRB_CTRL_STS, false, CRB_CTRL_STS_TPM_IDLE, idle,
                  d->to.c, &sts)) {
        return fail(d, "CRB: %s not done within TIMEOUT_C (CTRL_REQ 0x%x,"
                    " CTRL_STS 0x%x)", name, req, sts);
    }
    return 0;
}

static bool crb_start(TpmDev *d, uint32_t bit, uint64_t timeout)
{
    uint32_t val;

    wr32(d, CRB_CTRL_START, bit);
    return wait_reg(d, CRB_CTRL_START, false, bit, 0, timeout, &val);
}

static int crb_check_fatal(TpmDev *d, const char *when)
{
    uint32_t sts = rd32(d, CRB_CTRL_STS);

    if (sts & CRB_CTRL_STS_TPM_STS) {
        return fail(d, "CRB: tpmSts (fatal error) set in CRB_CTRL_STS %s;"
                    " it stays until the device is reset", when);
    }
    return 0;
}

/* A command that does not complete: cancel it. */
static void crb_cancel(TpmDev *d)
{
    uint32_t val;

    wr32(d, CRB_CTRL_CANCEL, 1);
    wait_reg(d, CRB_CTRL_START, false, CRB_START_START, 0, d->to.b, &val);
    wr32(d, CRB_CTRL_CANCEL, 0);
}

static int crb_send(TpmDev *d, const uint8_t *cmd, uint32_t len)
{
    uint32_t off;

    for (off = 0; len - off > d->cmd_window; off += d->cmd_window) {
        crb_write_window(d, cmd + off, d->cmd_window);
        d->stats.cmd_chunks++;
        if (!crb_start(d, CRB_START_NEXT_CHUNK, d->to.c)) {
            return fail(d, "CRB: nextChunk after command chunk %u (bytes"
                        " %u-%u of %u) not taken within TIMEOUT_C",
                        d->stats.cmd_chunks, off, off + d->cmd_window - 1,
                        len);
        }
    }
    crb_write_window(d, cmd + off, len - off);
    d->stats.cmd_chunks++;
    return 0;
}

/*
 * Read the response: the first chunk is in the window, nextChunk brings
 * each further one.  A read that is interrupted (a nextChunk the device
 * does not take, or the test hook) starts again with crbRspRetry.
 */
static int crb_receive(TpmDev *d, uint8_t *rsp, size_t rsp_max,
                       size_t *rsp_len)
{
    uint8_t hdr[TPM_HDR_SIZE];
    uint32_t size = 0, got = 0, n;
    unsigned try, chunks;
    const char *why = "";

    for (try = 0; try < TPM_CHUNK_READ_TRIES; try++) {
        if (try > 0) {
            d->stats.retries++;
            if (!crb_start(d, CRB_START_RSP_RETRY, d->to.c)) {
                return fail(d, "CRB: crbRspRetry not taken within"
                            " TIMEOUT_C (after: %s)", why);
            }
        }
        crb_read_window(d, rsp, TPM_HDR_SIZE);
        if (try == 0) {
            memcpy(hdr, rsp, TPM_HDR_SIZE);
            size = tpm_get_be32(rsp + 2);
            if (size < TPM_HDR_SIZE || size > rsp_max) {
                return fail(d, "CRB: response header size %u (at least %u,"
                            " at most %zu)", size, TPM_HDR_SIZE, rsp_max);
            }
            if (!d->chunking && size > d->rsp_window) {
                return fail(d, "CRB: a %u-byte response in a %u-byte window"
                            " without CapCRBChunk", size, d->rsp_window);
            }
        } else if (memcmp(hdr, rsp, TPM_HDR_SIZE)) {
            return fail(d, "CRB: crbRspRetry replayed another response"
                        " (size %u, rc 0x%x; first read: size %u)",
                        tpm_get_be32(rsp + 2), tpm_get_be32(rsp + 6), size);
        }
        got = size < d->rsp_window ? size : d->rsp_window;
        crb_read_window(d, rsp, got);
        chunks = 1;
        while (got < size) {
            if (try == 0 && chunks == d->interrupt_read) {
                why = "read interrupted (test hook)";
                break;
            }
            if (!crb_start(d, CRB_START_NEXT_CHUNK, d->to.c)) {
                why = "nextChunk not taken within TIMEOUT_C";
                break;
            }
            n = size - got < d->rsp_window ? size - got : d->rsp_window;
            crb_read_window(d, rsp + got, n);
            got += n;
            chunks++;
        }
        d->stats.rsp_chunks = chunks;
        if (got == size) {
            *rsp_len = size;
            return 0;
        }
    }
    return fail(d, "CRB: response not read in %u tries (%u of %u bytes; %s)",
                TPM_CHUNK_READ_TRIES, got, size, why);
}

static int crb_transmit(TpmDev *d, const uint8_t *cmd, uint32_t len,
                        uint8_t *rsp, size_t rsp_max, size_t *rsp_len)
{
    uint64_t t = now(d), t2;
    int ret;

    if (!d->chunking && len > d->cmd_window) {
        return fail_rc(d, TPM_RC_COMMAND_SIZE, "CRB: a %u-byte command does"
                       " not fit the %u-byte window, and the device cannot"
                       " chunk (no CapCRBChunk in CRB_INTF_ID: cap-chunk=on)",
                       len, d->cmd_window);
    }
    if (crb_request_locality(d) < 0) {
        return -1;
    }
    ret = crb_check_fatal(d, "before the command");
    if (ret == 0) {
        ret = crb_request(d, CRB_CTRL_REQ_CMD_READY, 0);
    }
    t2 = now(d);
    d->stats.setup_us = t2 - t;
    if (ret < 0) {
        t = t2;
        goto out_release;
    }
    ret = crb_send(d, cmd, len);
    t = now(d);
    d->stats.send_us = t - t2;
    if (ret == 0 && !crb_start(d, CRB_START_START, d->to.duration)) {
        crb_cancel(d);
        ret = fail(d, "CRB: command 0x%x not done within %llu ms; cancelled",
                   tpm_get_be32(cmd + 6),
                   (unsigned long long)(d->to.duration / MS));
    }
    t2 = now(d);
    d->stats.exec_us = t2 - t;
    if (ret == 0) {
        ret = crb_check_fatal(d, "after the command");
    }
    if (ret == 0) {
        ret = crb_receive(d, rsp, rsp_max, rsp_len);
    }
    t = now(d);
    d->stats.recv_us = t - t2;
    /* goIdle also drops what is left of a chunked transfer */
    if (crb_request(d, CRB_CTRL_REQ_GO_IDLE, CRB_CTRL_STS_TPM_IDLE) < 0) {
        ret = -1;
    }
out_release:
    if (crb_relinquish(d) < 0) {
        ret = -1;
    }
    d->stats.teardown_us = now(d) - t;
    return ret;
}

/* ---- TIS ---- */

static uint32_t tis_burst(uint32_t sts)
{
    return (sts >> 8) & 0xffff;
}

/*
 * The burstCount, waiting up to TIMEOUT_A (TPM 2.0) while it is 0 and
 * the bits of flags stay set; 0 when it stays 0 or one of them clears.
 */
static uint32_t tis_wait_burst(TpmDev *d, uint32_t flags)
{
    uint64_t start = now(d);
    unsigned polls = 0;
    uint32_t sts;
    bool expired;

    for (;;) {
        expired = now(d) - start > d->to.a;
        sts = rd32(d, TIS_STS);
        if ((sts & flags) != flags) {
            return 0;
        }
        if (tis_burst(sts) || expired) {
            return tis_burst(sts);
        }
        d->io.relax(d->io.opaque, polls++);
    }
}

static void tis_fifo_write(TpmDev *d, const uint8_t *p, uint32_t n)
{
    uint32_t i = 0;

    if (d->fifo32) {
        for (; n - i >= 4; i += 4) {
            wr32(d, TIS_DATA_FIFO, p[i] | p[i + 1] << 8 | p[i + 2] << 16 |
                 (uint32_t)p[i + 3] << 24);
        }
    }
    for (; i < n; i++) {
        wr8(d, TIS_DATA_FIFO, p[i]);
    }
}

static void tis_fifo_read(TpmDev *d, uint8_t *p, uint32_t n)
{
    uint32_t i = 0, w;

    if (d->fifo32) {
        for (; n - i >= 4; i += 4) {
            w = rd32(d, TIS_DATA_FIFO);
            p[i] = w;
            p[i + 1] = w >> 8;
            p[i + 2] = w >> 16;
            p[i + 3] = w >> 24;
        }
    }
    for (; i < n; i++) {
        p[i] = rd8(d, TIS_DATA_FIFO);
    }
}

static int tis_request_locality(TpmDev *d)
{
    uint32_t want = TIS_ACCESS_REG_VALID | TIS_ACCESS_ACTIVE_LOCALITY, val;

    wr8(d, TIS_ACCESS, TIS_ACCESS_REQUEST_USE);
    if (!wait_reg(d, TIS_ACCESS, true, want, want, d->to.a, &val)) {
        return fail(d, "TIS: locality 0 not granted within TIMEOUT_A"
                    " (TPM_ACCESS 0x%x)", val);
    }
    return 0;
}

static int tis_relinquish(TpmDev *d)
{
    uint32_t val;

    wr8(d, TIS_ACCESS, TIS_ACCESS_ACTIVE_LOCALITY);
    if (!wait_reg(d, TIS_ACCESS, true, TIS_ACCESS_ACTIVE_LOCALITY, 0,
                  d->to.a, &val)) {
        return fail(d, "TIS: locality 0 still active TIMEOUT_A after"
                    " relinquish (TPM_ACCESS 0x%x)", val);
    }
    return 0;
}

static int tis_ready(TpmDev *d)
{
    uint32_t sts;

    wr8(d, TIS_STS, TIS_STS_COMMAND_READY);
    if (!wait_reg(d, TIS_STS, false, TIS_STS_COMMAND_READY,
                  TIS_STS_COMMAND_READY, d->to.b, &sts)) {
        return fail(d, "TIS: commandReady not set within TIMEOUT_B"
                    " (TPM_STS 0x%08x)", sts);
    }
    return 0;
}

static bool tis_wait_valid(TpmDev *d, uint32_t *sts)
{
    return wait_reg(d, TIS_STS, false, TIS_STS_VALID, TIS_STS_VALID,
                    d->to.c, sts);
}

/* All bytes but the last in bursts while Expect holds, then the last. */
static int tis_send(TpmDev *d, const uint8_t *cmd, uint32_t len)
{
    uint32_t sent = 0, burst, n, sts = 0;

    while (sent < len) {
        burst = tis_wait_burst(d, 0);
        if (!burst) {
            if (sent == 0) {
                return fail(d, "TIS: burstCount stays 0 before the command");
            }
            return fail_rc(d, TPM_RC_COMMAND_SIZE, "TIS: the TPM takes no"
                           " more than %u bytes of a %u-byte command (its"
                           " buffer is full; tpm-tis has 8192 bytes with"
                           " x-allow-ext-buffer=on)", sent, len);
        }
        n = sent < len - 1 ? len - 1 - sent : 1;
        n = n < burst ? n : burst;
        tis_fifo_write(d, cmd + sent, n);
        sent += n;
        d->stats.cmd_chunks++;
        if (!tis_wait_valid(d, &sts)) {
            return fail(d, "TIS: stsValid not set within TIMEOUT_C after"
                        " %u of %u command bytes", sent, len);
        }
        if (sent < len && !(sts & TIS_STS_EXPECT)) {
            return fail_rc(d, TPM_RC_COMMAND_SIZE, "TIS: the TPM expects no"
                           " more after %u bytes of a %u-byte command",
                           sent, len);
        }
    }
    if (sts & TIS_STS_EXPECT) {
        return fail(d, "TIS: the TPM still expects data after the whole"
                    " %u-byte command", len);
    }
    return 0;
}

static int tis_go(TpmDev *d, uint32_t cc)
{
    uint32_t want = TIS_STS_VALID | TIS_STS_DATA_AVAIL, sts;

    wr8(d, TIS_STS, TIS_STS_GO);
    if (!wait_reg(d, TIS_STS, false, want, want, d->to.duration, &sts)) {
        wr8(d, TIS_STS_CANCEL_BYTE, 1);     /* commandCancel */
        return fail(d, "TIS: command 0x%x not done within %llu ms;"
                    " cancelled", cc,
                    (unsigned long long)(d->to.duration / MS));
    }
    return 0;
}

/*
 * Read the response: the header, then the rest, each in bursts while
 * dataAvail holds.  A read that is interrupted (dataAvail or burstCount
 * gone early, or the test hook) starts again with responseRetry.
 */
static int tis_receive(TpmDev *d, uint8_t *rsp, size_t rsp_max,
                       size_t *rsp_len)
{
    uint32_t want_flags = TIS_STS_VALID | TIS_STS_DATA_AVAIL;
    uint8_t hdr[TPM_HDR_SIZE];
    uint32_t size = 0, want, got = 0, burst, n, sts;
    unsigned try, pieces;
    bool have_hdr = false;
    const char *why = "";

    for (try = 0; try < TPM_CHUNK_READ_TRIES; try++) {
        if (try > 0) {
            d->stats.retries++;
            wr8(d, TIS_STS, TIS_STS_RESPONSE_RETRY);
            if (!tis_wait_valid(d, &sts)) {
                return fail(d, "TIS: stsValid not set within TIMEOUT_C"
                            " after responseRetry (after: %s)", why);
            }
        }
        got = 0;
        want = TPM_HDR_SIZE;
        pieces = 0;
        while (got < want) {
            if (try == 0 && pieces && pieces == d->interrupt_read) {
                why = "read interrupted (test hook)";
                break;
            }
            burst = tis_wait_burst(d, want_flags);
            if (!burst) {
                why = "dataAvail or burstCount gone before the end";
                break;
            }
            n = want - got < burst ? want - got : burst;
            tis_fifo_read(d, rsp + got, n);
            got += n;
            pieces++;
            if (want == TPM_HDR_SIZE && got == TPM_HDR_SIZE) {
                if (!have_hdr) {
                    have_hdr = true;
                    memcpy(hdr, rsp, TPM_HDR_SIZE);
                    size = tpm_get_be32(rsp + 2);
                    if (size < TPM_HDR_SIZE || size > rsp_max) {
                        return fail(d, "TIS: response header size %u (at"
                                    " least %u, at most %zu)", size,
                                    TPM_HDR_SIZE, rsp_max);
                    }
                } else if (memcmp(hdr, rsp, TPM_HDR_SIZE)) {
                    return fail(d, "TIS: responseRetry replayed another"
                                " response (size %u, rc 0x%x; first read:"
                                " size %u)", tpm_get_be32(rsp + 2),
                                tpm_get_be32(rsp + 6), size);
                }
                want = size;
            }
        }
        d->stats.rsp_chunks = pieces;
        if (got == want && want == size) {
            if (!tis_wait_valid(d, &sts)) {
                return fail(d, "TIS: stsValid not set within TIMEOUT_C"
                            " after the %u-byte response", size);
            }
            if (sts & TIS_STS_DATA_AVAIL) {
                return fail(d, "TIS: data left over after the %u-byte"
                            " response (TPM_STS 0x%08x)", size, sts);
            }
            *rsp_len = size;
            return 0;
        }
    }
    return fail(d, "TIS: response not read in %u tries (%u of %u bytes; %s)",
                TPM_CHUNK_READ_TRIES, got, size, why);
}

static int tis_transmit(TpmDev *d, const uint8_t *cmd, uint32_t len,
                        uint8_t *rsp, size_t rsp_max, size_t *rsp_len)
{
    uint64_t t = now(d), t2;
    int ret;

    if (tis_request_locality(d) < 0) {
        return -1;
    }
    ret = tis_ready(d);
    t2 = now(d);
    d->stats.setup_us = t2 - t;
    if (ret == 0) {
        ret = tis_send(d, cmd, len);
    }
    t = now(d);
    d->stats.send_us = t - t2;
    if (ret == 0) {
        ret = tis_go(d, tpm_get_be32(cmd + 6));
    }
    t2 = now(d);
    d->stats.exec_us = t2 - t;
    if (ret == 0) {
        ret = tis_receive(d, rsp, rsp_max, rsp_len);
    }
    t = now(d);
    d->stats.recv_us = t - t2;
    /* commandReady ends the command (and aborts a failed transfer) */
    if (tis_ready(d) < 0) {
        ret = -1;
    }
    if (tis_relinquish(d) < 0) {
        ret = -1;
    }
    d->stats.teardown_us = now(d) - t;
    return ret;
}

size_t tpm_transmit(TpmDev *d, const uint8_t *cmd, size_t len,
                    uint8_t *rsp, size_t rsp_max)
{
    uint64_t start = now(d);
    size_t rsp_len = 0;
    int ret;

    memset(&d->stats, 0, sizeof(d->stats));
    d->error[0] = 0;
    d->stats.cmd_size = len;
    d->stats.cc = len >= TPM_HDR_SIZE ? tpm_get_be32(cmd + 6) : 0;
    if (len < TPM_HDR_SIZE || tpm_get_be32(cmd + 2) != len) {
        ret = fail_rc(d, TPM_RC_COMMAND_SIZE, "malformed command: %zu bytes,"
                      " header size %u", len,
                      len < TPM_HDR_SIZE ? 0 : tpm_get_be32(cmd + 2));
    } else if (len > TPM_CHUNK_MAX_XFER) {
        ret = fail_rc(d, TPM_RC_COMMAND_SIZE, "a %zu-byte command: this"
                      " driver moves at most %u bytes", len,
                      TPM_CHUNK_MAX_XFER);
    } else if (d->kind == TPM_IF_CRB) {
        ret = crb_transmit(d, cmd, len, rsp, rsp_max, &rsp_len);
    } else if (d->kind == TPM_IF_TIS) {
        ret = tis_transmit(d, cmd, len, rsp, rsp_max, &rsp_len);
    } else {
        ret = fail(d, "no TPM interface found (tpm_probe)");
    }
    if (ret < 0) {
        rsp_len = tpm_error_response(rsp, d->error_rc);
        d->stats.local = true;
    }
    d->stats.rsp_size = rsp_len;
    d->stats.rc = tpm_get_be32(rsp + 6);
    d->stats.total_us = now(d) - start;
    return rsp_len;
}

int tpm_stats_line(const TpmDev *d, char *buf, size_t size)
{
    const TpmStats *s = &d->stats;

    return snprintf(buf, size, "if=%s cc=0x%x cmd=%u cmd_chunks=%u rsp=%u"
                    " rsp_chunks=%u rc=0x%x retries=%u local=%d window=%u"
                    " total_us=%llu setup_us=%llu send_us=%llu exec_us=%llu"
                    " recv_us=%llu teardown_us=%llu%s%s",
                    tpm_if_name(d->kind), s->cc, s->cmd_size, s->cmd_chunks,
                    s->rsp_size, s->rsp_chunks, s->rc, s->retries, s->local,
                    d->kind == TPM_IF_CRB ? d->cmd_window : 0,
                    (unsigned long long)s->total_us,
                    (unsigned long long)s->setup_us,
                    (unsigned long long)s->send_us,
                    (unsigned long long)s->exec_us,
                    (unsigned long long)s->recv_us,
                    (unsigned long long)s->teardown_us,
                    s->local ? " error=" : "", s->local ? d->error : "");
}

/* ---- the cmd TCTI loop ---- */

/*
 * Read n bytes: the first waits as long as it takes when first_ms < 0,
 * every later one at most rest_ms.  The number of bytes read.
 */
static size_t read_full(int fd, uint8_t *p, size_t n, int first_ms,
                        int rest_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    size_t got = 0;
    ssize_t r;
    int pr;

    while (got < n) {
        pr = poll(&pfd, 1, got ? rest_ms : first_ms);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            break;
        }
        /* readable: this read does not block (an error ends the input) */
        r = read(fd, p + got, n - got);
        if (r <= 0) {
            break;
        }
        got += r;
    }
    return got;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    ssize_t r;

    while (n) {
        r = write(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= r;
    }
    return 0;
}

static void say(int fd, const char *prefix, const char *msg)
{
    char line[512];
    int n;

    if (fd >= 0) {
        n = snprintf(line, sizeof(line), "%s%s\n", prefix, msg);
        write_full(fd, (const uint8_t *)line,
                   (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

/* Answer a command that never reached the driver's transmit. */
static int refuse_input(TpmDev *d, int out, int err_fd, const char *why)
{
    uint8_t rsp[TPM_HDR_SIZE];

    snprintf(d->error, sizeof(d->error), "%s", why);
    say(err_fd, "tpm-chunk: ", why);
    return write_full(out, rsp, tpm_error_response(rsp, TPM_RC_COMMAND_SIZE));
}

int tpm_serve(TpmDev *d, int in, int out, int err_fd, int log_fd,
              int body_timeout_ms)
{
    static uint8_t cmd[TPM_CHUNK_MAX_XFER], rsp[TPM_CHUNK_MAX_XFER];
    char line[512];
    uint32_t size;
    size_t got, n;

    for (;;) {
        got = read_full(in, cmd, TPM_HDR_SIZE, -1, body_timeout_ms);
        if (got == 0) {
            return 0;
        }
        if (got < TPM_HDR_SIZE) {
            refuse_input(d, out, err_fd, "input ended inside a command"
                         " header");
            return 1;
        }
        size = tpm_get_be32(cmd + 2);
        if (size < TPM_HDR_SIZE) {
            refuse_input(d, out, err_fd, "a command header with a size"
                         " below 10: the input cannot be followed");
            return 1;
        }
        if (size > TPM_CHUNK_MAX_XFER) {
            /* skip it, then go on with the next command */
            for (got = TPM_HDR_SIZE; got < size; got += n) {
                n = size - got < sizeof(rsp) ? size - got : sizeof(rsp);
                n = read_full(in, rsp, n, body_timeout_ms, body_timeout_ms);
                if (!n) {
                    break;
                }
            }
            snprintf(line, sizeof(line), "a %u-byte command: this driver"
                     " moves at most %u bytes", size, TPM_CHUNK_MAX_XFER);
            if (refuse_input(d, out, err_fd, line) < 0 || got < size) {
                return 1;
            }
            continue;
        }
        got = TPM_HDR_SIZE + read_full(in, cmd + TPM_HDR_SIZE,
                                       size - TPM_HDR_SIZE, body_timeout_ms,
                                       body_timeout_ms);
        if (got < size) {
            snprintf(line, sizeof(line), "input ended or stalled after %zu"
                     " bytes of a %u-byte command", got, size);
            refuse_input(d, out, err_fd, line);
            return 1;
        }
        n = tpm_transmit(d, cmd, size, rsp, sizeof(rsp));
        if (d->stats.local) {
            say(err_fd, "tpm-chunk: ", d->error);
        }
        if (log_fd >= 0) {
            tpm_stats_line(d, line, sizeof(line));
            say(log_fd, "", line);
        }
        if (write_full(out, rsp, n) < 0) {
            return 1;
        }
    }
}
