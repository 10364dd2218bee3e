/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host unit test of tpm-chunk's protocol logic (tpm-chunk.c) against a
 * simulated register file: a CRB that chunks as TCG PTP 1.07 and
 * ../shared/spec/crb-chunking.md say, and a TIS FIFO as QEMU's tpm-tis
 * has it (8192 or 4096 bytes), each behind a fake TPM whose responses
 * are derived from the whole command, with faults to inject.  Time is
 * simulated too, so every timeout runs in an instant.  Every case checks
 * the response tpm_transmit() makes (the TPM's, or the driver's own error
 * response and its reason) and that the driver never broke the protocol.
 * Also the cmd-TCTI loop, tpm_serve(), over pipes.
 *
 * Prints one TAP-like line per case and "N passed, N failed"; exit 0
 * when all passed.  Built with --coverage, so that the harness test can
 * check that the cases ran every line of tpm-chunk.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tpm-chunk.h"

#define BASE        0xfed40000ull
#define SIM_MAX     16384

enum {
    F_NO_DEVICE         = 1 << 0,   /* every register reads all ones */
    F_LOC_NEVER         = 1 << 1,   /* locality never granted */
    F_FATAL_BEFORE      = 1 << 2,   /* CRB tpmSts set from the start */
    F_FATAL_AFTER       = 1 << 3,   /* the backend fails the command */
    F_REQ_STUCK         = 1 << 4,   /* CRB cmdReady bit never clears */
    F_IDLE_STUCK        = 1 << 5,   /* CRB tpmIdle stays set after cmdReady */
    F_GOIDLE_STUCK      = 1 << 6,   /* CRB goIdle bit never clears */
    F_SEND_NEXT_STUCK   = 1 << 7,   /* nextChunk of a command never clears */
    F_EXEC_STUCK        = 1 << 8,   /* the command never completes */
    F_RECV_NEXT_ONCE    = 1 << 9,   /* the first response nextChunk sticks */
    F_RECV_NEXT_STUCK   = 1 << 10,  /* every response nextChunk sticks */
    F_RETRY_STUCK       = 1 << 11,  /* crbRspRetry never clears */
    F_RETRY_CHANGES     = 1 << 12,  /* a retry replays another response */
    F_RELINQUISH_STUCK  = 1 << 13,  /* the locality stays granted */
    F_RSP_SMALL         = 1 << 14,  /* response header size 8 */
    F_RSP_HUGE          = 1 << 15,  /* response header size 70000 */
    F_READY_NEVER       = 1 << 16,  /* TIS commandReady never set */
    F_BURST_ZERO        = 1 << 17,  /* TIS burstCount always 0 */
    F_EXPECT_EARLY      = 1 << 18,  /* TIS Expect clears after 20 bytes */
    F_EXPECT_STUCK      = 1 << 19,  /* TIS Expect stays after the command */
    F_VALID_NEVER       = 1 << 20,  /* TIS stsValid never set */
    F_DROP_ONCE         = 1 << 21,  /* TIS dataAvail drops once mid-read */
    F_DROP_ALWAYS       = 1 << 22,  /* ... on every read */
    F_DROP_AT_0         = 1 << 23,  /* ... once, before the first byte */
    F_LEFTOVER          = 1 << 24,  /* TIS data beyond the header's size */
    F_VALID_AFTER_RETRY = 1 << 25,  /* TIS stsValid lost at responseRetry */
    F_VALID_AFTER_RSP   = 1 << 26,  /* TIS stsValid lost after the response */
};

typedef enum { S_IDLE, S_RECEIVING, S_EXECUTING, S_RESPONDING, S_DELIVERED,
               S_READY, S_RECEPTION, S_COMPLETION } SimState;

typedef struct Sim {
    TpmIf kind;
    unsigned faults;
    uint64_t clock;             /* simulated microseconds */
    uint64_t exec_us;           /* how long a command executes */
    uint64_t exec_end;
    unsigned writes;            /* register writes seen */
    const char *violation;      /* the driver broke the protocol */
    bool cancelled;
    /* the fake TPM */
    uint8_t cmd[SIM_MAX];
    uint32_t cmd_len, cmd_size;
    uint8_t exec_cmd[SIM_MAX];  /* the command the TPM executed */
    uint32_t exec_len;
    unsigned executed;
    uint32_t rsp_size;          /* of the responses it makes */
    uint8_t rsp[SIM_MAX + 64];
    uint32_t rsp_len, rsp_off;
    SimState state;
    /* CRB */
    uint32_t intf_id, window, max_xfer, cmd_addr, rsp_addr;
    bool cap_chunk, granted, assigned;
    uint32_t ctrl_req, ctrl_sts, ctrl_start;
    bool oversize, next_stuck_done;
    uint8_t page[TPM_PAGE_SIZE];
    /* TIS */
    uint32_t buffer, burst_max;
    bool fifo32, active, expect, avail, cmd_ready, dropped;
    unsigned completion_reads;  /* TPM_STS reads since the response came */
} Sim;

static Sim sim;

static void violate(const char *what)
{
    if (!sim.violation) {
        sim.violation = what;
    }
}

/* The fake TPM: a response of rsp_size bytes derived from the command. */
static void tpm_execute(void)
{
    uint32_t sum = 0, i;

    sim.executed++;
    memcpy(sim.exec_cmd, sim.cmd, sim.cmd_len);
    sim.exec_len = sim.cmd_len;
    for (i = 0; i < sim.cmd_len; i++) {
        sum = sum * 31 + sim.cmd[i];
    }
    tpm_put_be32(sim.rsp + 2, sim.rsp_size);
    sim.rsp[0] = 0x80;
    sim.rsp[1] = 0x01;
    tpm_put_be32(sim.rsp + 6, 0);
    for (i = TPM_HDR_SIZE; i < sim.rsp_size; i++) {
        sim.rsp[i] = (sum >> (i % 24)) + i;
    }
    sim.rsp_len = sim.rsp_size;
    if (sim.faults & F_RSP_SMALL) {
        tpm_put_be32(sim.rsp + 2, 8);
    }
    if (sim.faults & F_RSP_HUGE) {
        tpm_put_be32(sim.rsp + 2, 70000);
    }
    if (sim.faults & F_LEFTOVER) {
        sim.rsp_len += 4;
    }
}

/* What tpm_execute() answers to cmd. */
static uint32_t expected_response(const uint8_t *cmd, uint32_t len,
                                  uint8_t *rsp)
{
    uint32_t sum = 0, i;

    for (i = 0; i < len; i++) {
        sum = sum * 31 + cmd[i];
    }
    rsp[0] = 0x80;
    rsp[1] = 0x01;
    tpm_put_be32(rsp + 2, sim.rsp_size);
    tpm_put_be32(rsp + 6, 0);
    for (i = TPM_HDR_SIZE; i < sim.rsp_size; i++) {
        rsp[i] = (sum >> (i % 24)) + i;
    }
    return sim.rsp_size;
}

/* ---- the CRB ---- */

static void crb_put_response(void)
{
    uint32_t n = sim.rsp_len - sim.rsp_off;

    n = n < sim.window ? n : sim.window;
    memset(sim.page + CRB_DATA_BUFFER, 0, TPM_PAGE_SIZE - CRB_DATA_BUFFER);
    memcpy(sim.page + CRB_DATA_BUFFER, sim.rsp + sim.rsp_off, n);
    sim.rsp_off += n;
    sim.state = sim.rsp_off < sim.rsp_len ? S_RESPONDING : S_DELIVERED;
}

static void crb_take_chunk(bool first)
{
    uint8_t *win = sim.page + CRB_DATA_BUFFER;
    uint32_t n;

    if (first) {
        sim.cmd_len = 0;
        sim.cmd_size = tpm_get_be32(win + 2);
        sim.oversize = sim.cmd_size < TPM_HDR_SIZE ||
                       sim.cmd_size > sim.max_xfer;
    }
    n = sim.cmd_size - sim.cmd_len;
    n = n < sim.window ? n : sim.window;
    if (!sim.oversize) {
        memcpy(sim.cmd + sim.cmd_len, win, n);
    }
    sim.cmd_len += n;
}

static void crb_complete(void)
{
    sim.ctrl_start &= ~CRB_START_START;
    if (sim.faults & F_FATAL_AFTER) {
        sim.ctrl_sts |= CRB_CTRL_STS_TPM_STS;
        sim.state = S_IDLE;
        return;
    }
    tpm_execute();
    sim.rsp_off = 0;
    crb_put_response();
}

static void crb_start_write(uint32_t val)
{
    if (!sim.assigned) {
        violate("CRB_CTRL_START written without the locality");
        return;
    }
    if (sim.state == S_EXECUTING) {
        violate("CRB_CTRL_START written while a command executes");
        return;
    }
    if (!sim.cap_chunk && val != CRB_START_START) {
        violate("chunking bits on a device without CapCRBChunk");
        return;
    }
    if (val & CRB_START_START) {
        crb_take_chunk(sim.state != S_RECEIVING);
        if (sim.oversize || sim.cmd_len < sim.cmd_size) {
            violate("Start before the whole command was sent");
        }
        sim.ctrl_start |= CRB_START_START;
        sim.state = S_EXECUTING;
        sim.exec_end = sim.clock + sim.exec_us;
    } else if (val & CRB_START_NEXT_CHUNK) {
        switch (sim.state) {
        case S_RESPONDING:
            if ((sim.faults & F_RECV_NEXT_STUCK) ||
                ((sim.faults & F_RECV_NEXT_ONCE) && !sim.next_stuck_done)) {
                sim.next_stuck_done = true;
                sim.ctrl_start |= CRB_START_NEXT_CHUNK;
                return;
            }
            crb_put_response();
            break;
        case S_RECEIVING:
            if (sim.cmd_len >= sim.cmd_size) {
                violate("nextChunk after the whole command");
                return;
            }
            /* fall through */
        default:
            if (sim.faults & F_SEND_NEXT_STUCK) {
                sim.ctrl_start |= CRB_START_NEXT_CHUNK;
                return;
            }
            crb_take_chunk(sim.state != S_RECEIVING);
            sim.state = S_RECEIVING;
            break;
        }
    } else if (val & CRB_START_RSP_RETRY) {
        if (sim.state != S_RESPONDING && sim.state != S_DELIVERED) {
            violate("crbRspRetry without a response");
            return;
        }
        sim.ctrl_start &= ~CRB_START_NEXT_CHUNK;    /* a stuck one */
        if (sim.faults & F_RETRY_STUCK) {
            sim.ctrl_start |= CRB_START_RSP_RETRY;
            return;
        }
        if (sim.faults & F_RETRY_CHANGES) {
            tpm_put_be32(sim.rsp + 6, 0x922);
        }
        sim.rsp_off = 0;
        crb_put_response();
    }
}

static void crb_drop(void)
{
    if (sim.state != S_EXECUTING) {
        sim.state = S_IDLE;
        sim.ctrl_start &= ~(CRB_START_NEXT_CHUNK | CRB_START_RSP_RETRY);
    }
}

static uint32_t crb_read32(uint32_t off)
{
    uint32_t v;

    if (sim.state == S_EXECUTING && !(sim.faults & F_EXEC_STUCK) &&
        sim.clock >= sim.exec_end) {
        crb_complete();
    }
    switch (off) {
    case CRB_LOC_STATE:
        return CRB_LOC_STATE_REG_VALID |
               (sim.assigned ? CRB_LOC_STATE_ASSIGNED : 0);
    case CRB_LOC_STS:
        return sim.granted;
    case CRB_INTF_ID:
        return sim.intf_id;
    case CRB_CTRL_REQ:
        return sim.ctrl_req;
    case CRB_CTRL_STS:
        return sim.ctrl_sts;
    case CRB_CTRL_START:
        return sim.ctrl_start;
    case CRB_CTRL_CMD_SIZE:
    case CRB_CTRL_RSP_SIZE:
        return sim.window;
    case CRB_CTRL_CMD_LADDR:
        return sim.cmd_addr;
    case CRB_CTRL_RSP_ADDR:
        return sim.rsp_addr;
    case CRB_CTRL_CMD_HADDR:
    case CRB_CTRL_RSP_ADDR + 4:
        return 0;
    }
    if (off >= CRB_DATA_BUFFER && off + 4 <= TPM_PAGE_SIZE) {
        memcpy(&v, sim.page + off, 4);
        return v;
    }
    violate("read of an unknown CRB register");
    return 0;
}

static void crb_write32(uint32_t off, uint32_t val)
{
    switch (off) {
    case CRB_LOC_CTRL:
        if (val == CRB_LOC_CTRL_REQUEST_ACCESS &&
            !(sim.faults & F_LOC_NEVER)) {
            sim.granted = sim.assigned = true;
        } else if (val == CRB_LOC_CTRL_RELINQUISH) {
            if (!(sim.faults & F_RELINQUISH_STUCK)) {
                sim.granted = sim.assigned = false;
            }
            crb_drop();
        }
        return;
    case CRB_CTRL_REQ:
        if (val == CRB_CTRL_REQ_CMD_READY) {
            sim.ctrl_req |= sim.faults & F_REQ_STUCK ? val : 0;
            if (!(sim.faults & F_IDLE_STUCK)) {
                sim.ctrl_sts &= ~CRB_CTRL_STS_TPM_IDLE;
            }
        } else if (val == CRB_CTRL_REQ_GO_IDLE) {
            if (sim.faults & F_GOIDLE_STUCK) {
                sim.ctrl_req |= val;
            } else {
                sim.ctrl_sts |= CRB_CTRL_STS_TPM_IDLE;
            }
        }
        crb_drop();
        return;
    case CRB_CTRL_CANCEL:
        if (val == 1 && sim.state == S_EXECUTING) {
            sim.cancelled = true;
            sim.ctrl_start &= ~CRB_START_START;
            sim.state = S_IDLE;
        }
        return;
    case CRB_CTRL_START:
        crb_start_write(val);
        return;
    }
    if (off >= CRB_DATA_BUFFER && off + 4 <= TPM_PAGE_SIZE) {
        if (sim.state == S_EXECUTING) {
            violate("window written while a command executes");
        }
        if (off + 4 > CRB_DATA_BUFFER + sim.window) {
            violate("window written beyond CMD_SIZE");
        }
        memcpy(sim.page + off, &val, 4);
        return;
    }
    violate("write of an unknown CRB register");
}

/* ---- the TIS FIFO (as QEMU's tpm-tis) ---- */

static void tis_poll_exec(void)
{
    if (sim.state == S_EXECUTING && !(sim.faults & F_EXEC_STUCK) &&
        sim.clock >= sim.exec_end) {
        tpm_execute();
        sim.rsp_off = 0;
        sim.avail = true;
        sim.completion_reads = 0;
        sim.state = S_COMPLETION;
    }
}

static uint32_t tis_sts(void)
{
    uint32_t sts = TIS_STS_VALID, burst = 0, left;

    tis_poll_exec();
    if (sim.state == S_COMPLETION && sim.avail) {
        left = sim.rsp_len - sim.rsp_off;
        sim.completion_reads++;
        if ((sim.faults & (F_DROP_ONCE | F_DROP_ALWAYS)) && !sim.dropped &&
            sim.rsp_off >= 20 && left) {
            sim.dropped = !(sim.faults & F_DROP_ALWAYS);
            sim.avail = false;
            return sts;
        }
        /* the first read sees the response come; drop at the second */
        if ((sim.faults & F_DROP_AT_0) && !sim.dropped &&
            sim.completion_reads == 2) {
            sim.dropped = true;
            sim.avail = false;
            return sts;
        }
        burst = left;
        sts |= TIS_STS_DATA_AVAIL;
    } else if (sim.state == S_READY || sim.state == S_RECEPTION) {
        burst = sim.buffer - sim.cmd_len;
    }
    if (sim.burst_max && burst > sim.burst_max) {
        burst = sim.burst_max;
    }
    if (sim.faults & F_BURST_ZERO) {
        burst = 0;
    }
    if (sim.cmd_ready) {
        sts |= TIS_STS_COMMAND_READY;
    }
    if (sim.expect) {
        sts |= TIS_STS_EXPECT;
    }
    if ((sim.faults & F_VALID_NEVER) && sim.state == S_RECEPTION) {
        sts &= ~TIS_STS_VALID;
    }
    if ((sim.faults & F_VALID_AFTER_RETRY) && sim.dropped) {
        sts &= ~TIS_STS_VALID;
    }
    if ((sim.faults & F_VALID_AFTER_RSP) && sim.state == S_COMPLETION &&
        sim.rsp_off == sim.rsp_len) {
        sts &= ~TIS_STS_VALID;
    }
    return sts | burst << 8;
}

static uint8_t tis_fifo_byte(void)
{
    if (sim.state != S_COMPLETION || !sim.avail) {
        violate("FIFO read without dataAvail");
        return 0xff;
    }
    if (sim.rsp_off >= sim.rsp_len) {
        violate("FIFO read beyond the response");
        return 0xff;
    }
    if (sim.rsp_off + 1 == sim.rsp_len) {
        sim.avail = false;
    }
    return sim.rsp[sim.rsp_off++];
}

static void tis_fifo_put(uint8_t b)
{
    if (sim.state != S_READY && sim.state != S_RECEPTION) {
        violate("FIFO written outside reception");
        return;
    }
    if (sim.state == S_READY) {
        sim.state = S_RECEPTION;
        sim.cmd_ready = false;
        sim.cmd_len = 0;
        sim.expect = true;
    }
    if (!sim.expect) {
        return;                 /* dropped, as QEMU does */
    }
    if (sim.cmd_len >= sim.buffer) {
        violate("FIFO written beyond burstCount");
        sim.expect = false;
        return;
    }
    sim.cmd[sim.cmd_len++] = b;
    if (sim.cmd_len >= 6) {
        sim.cmd_size = tpm_get_be32(sim.cmd + 2);
        sim.expect = sim.cmd_len < sim.cmd_size;
    }
    if ((sim.faults & F_EXPECT_EARLY) && sim.cmd_len >= 20) {
        sim.expect = false;
    }
    if ((sim.faults & F_EXPECT_STUCK) && sim.cmd_len >= sim.cmd_size) {
        sim.expect = true;
    }
}

static void tis_sts_write(uint8_t val)
{
    if (!sim.active) {
        violate("TPM_STS written without the locality");
        return;
    }
    if (val == TIS_STS_COMMAND_READY) {
        if (!(sim.faults & F_READY_NEVER)) {
            sim.cmd_ready = true;
        }
        sim.state = S_READY;
        sim.cmd_len = 0;
        sim.expect = sim.avail = false;
    } else if (val == TIS_STS_GO) {
        if (sim.state != S_RECEPTION || sim.expect) {
            violate("tpmGo before the whole command");
            return;
        }
        sim.state = S_EXECUTING;
        sim.exec_end = sim.clock + sim.exec_us;
    } else if (val == TIS_STS_RESPONSE_RETRY) {
        if (sim.state != S_COMPLETION) {
            violate("responseRetry without a response");
            return;
        }
        if (sim.faults & F_RETRY_CHANGES) {
            tpm_put_be32(sim.rsp + 6, 0x922);
        }
        sim.rsp_off = 0;
        sim.avail = true;
    } else {
        violate("unknown TPM_STS write");
    }
}

static uint32_t tis_read(uint32_t off, unsigned size)
{
    uint32_t v = 0, i;

    switch (off) {
    case TIS_ACCESS:
        return TIS_ACCESS_REG_VALID |
               (sim.active ? TIS_ACCESS_ACTIVE_LOCALITY : 0);
    case TIS_INTF_CAPABILITY:
        return sim.fifo32 ? TIS_CAP_XFER_SIZE_MASK : 0;
    case TIS_STS:
        return tis_sts();
    case TIS_DATA_FIFO:
        if (size == 4 && !sim.fifo32) {
            violate("4-byte FIFO read on a 1-byte FIFO");
        }
        for (i = 0; i < size; i++) {
            v |= (uint32_t)tis_fifo_byte() << (8 * i);
        }
        return v;
    case TIS_INTERFACE_ID:
        return sim.intf_id;
    }
    violate("read of an unknown TIS register");
    return 0;
}

static void tis_write(uint32_t off, uint32_t val, unsigned size)
{
    uint32_t i;

    switch (off) {
    case TIS_ACCESS:
        if (val == TIS_ACCESS_REQUEST_USE && !(sim.faults & F_LOC_NEVER)) {
            sim.active = true;
        } else if (val == TIS_ACCESS_ACTIVE_LOCALITY &&
                   !(sim.faults & F_RELINQUISH_STUCK)) {
            sim.active = false;
        }
        return;
    case TIS_STS:
        tis_sts_write(val);
        return;
    case TIS_STS_CANCEL_BYTE:
        if (val == 1 && sim.state == S_EXECUTING) {
            sim.cancelled = true;
        }
        return;
    case TIS_DATA_FIFO:
        if (size == 4 && !sim.fifo32) {
            violate("4-byte FIFO write on a 1-byte FIFO");
        }
        for (i = 0; i < size; i++) {
            tis_fifo_put(val >> (8 * i));
        }
        return;
    }
    violate("write of an unknown TIS register");
}

/* ---- TpmIo over the simulation ---- */

static uint32_t sim_read32(void *opaque, uint32_t off)
{
    sim.clock++;
    if (sim.faults & F_NO_DEVICE) {
        return 0xffffffff;
    }
    return sim.kind == TPM_IF_CRB ? crb_read32(off) : tis_read(off, 4);
}

static void sim_write32(void *opaque, uint32_t off, uint32_t val)
{
    sim.clock++;
    sim.writes++;
    if (sim.kind == TPM_IF_CRB) {
        crb_write32(off, val);
    } else {
        tis_write(off, val, 4);
    }
}

static uint8_t sim_read8(void *opaque, uint32_t off)
{
    sim.clock++;
    if (sim.kind == TPM_IF_CRB) {
        violate("1-byte access to the CRB");
        return 0;
    }
    return tis_read(off, 1);
}

static void sim_write8(void *opaque, uint32_t off, uint8_t val)
{
    sim.clock++;
    sim.writes++;
    if (sim.kind == TPM_IF_CRB) {
        violate("1-byte access to the CRB");
        return;
    }
    tis_write(off, val, 1);
}

static uint64_t sim_now_us(void *opaque)
{
    return sim.clock;
}

static void sim_relax(void *opaque, unsigned polls)
{
    sim.clock += 10;
}

static const TpmIo sim_io = {
    .read32 = sim_read32,
    .write32 = sim_write32,
    .read8 = sim_read8,
    .write8 = sim_write8,
    .now_us = sim_now_us,
    .relax = sim_relax,
};

/* ---- cases ---- */

static TpmDev dev;
static unsigned passed, failed_cases;
static uint8_t cmd_buf[TPM_CHUNK_MAX_XFER + 16];
static uint8_t rsp_buf[TPM_CHUNK_MAX_XFER];
static uint8_t want_buf[SIM_MAX];

static void sim_crb(uint32_t window, bool cap_chunk, unsigned faults)
{
    memset(&sim, 0, sizeof(sim));
    sim.kind = TPM_IF_CRB;
    sim.window = window;
    sim.cap_chunk = cap_chunk;
    sim.max_xfer = cap_chunk ? 8192 : window;
    sim.intf_id = CRB_INTF_ID_TYPE_CRB |
                  (cap_chunk ? CRB_INTF_ID_CAP_CRB_CHUNK : 0);
    sim.cmd_addr = sim.rsp_addr = BASE + CRB_DATA_BUFFER;
    sim.ctrl_sts = CRB_CTRL_STS_TPM_IDLE |
                   (faults & F_FATAL_BEFORE ? CRB_CTRL_STS_TPM_STS : 0);
    sim.faults = faults;
    sim.exec_us = 500;
    sim.rsp_size = 44;
    sim.state = S_IDLE;
}

static void sim_tis(uint32_t buffer, uint32_t burst_max, bool fifo32,
                    unsigned faults)
{
    memset(&sim, 0, sizeof(sim));
    sim.kind = TPM_IF_TIS;
    sim.buffer = buffer;
    sim.burst_max = burst_max;
    sim.fifo32 = fifo32;
    sim.faults = faults;
    sim.exec_us = 500;
    sim.rsp_size = 44;
    sim.state = S_IDLE;
}

static void open_dev(void)
{
    tpm_dev_init(&dev, &sim_io, BASE);
    dev.to.duration = 1000000;  /* 1 s: keeps the stuck cases short */
    tpm_probe(&dev, TPM_IF_AUTO);
}

static void check(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s - ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!ok) {
        printf("\n#   driver error: %s\n#   violation: %s\n#   stats: ",
               dev.error[0] ? dev.error : "(none)",
               sim.violation ? sim.violation : "(none)");
        tpm_stats_line(&dev, (char *)want_buf, sizeof(want_buf));
        printf("%s", (char *)want_buf);
        failed_cases++;
    } else {
        passed++;
    }
    printf("\n");
}

/* A command of len bytes with a recognisable body. */
static uint32_t make_cmd(uint32_t len)
{
    uint32_t i;

    cmd_buf[0] = 0x80;
    cmd_buf[1] = 0x01;
    tpm_put_be32(cmd_buf + 2, len);
    tpm_put_be32(cmd_buf + 6, 0x17b);
    for (i = TPM_HDR_SIZE; i < len; i++) {
        cmd_buf[i] = i * 7 + (i >> 8);
    }
    return len;
}

/* Send a command of cmd_len bytes: the fake TPM must answer it intact. */
static void expect_ok(const char *name, uint32_t cmd_len, uint32_t rsp_size,
                      unsigned retries)
{
    uint32_t want;
    size_t n;

    sim.rsp_size = rsp_size;
    make_cmd(cmd_len);
    n = tpm_transmit(&dev, cmd_buf, cmd_len, rsp_buf, sizeof(rsp_buf));
    want = expected_response(cmd_buf, cmd_len, want_buf);
    check(n == want && !memcmp(rsp_buf, want_buf, want) &&
          sim.executed == 1 && sim.exec_len == cmd_len &&
          !memcmp(sim.exec_cmd, cmd_buf, cmd_len) && !sim.violation &&
          !dev.stats.local && dev.stats.retries == retries &&
          !sim.granted && !sim.active,
          "%s: %u-byte command, %u-byte response (%u+%u chunks, %u"
          " retries)", name, cmd_len, rsp_size, dev.stats.cmd_chunks,
          dev.stats.rsp_chunks, dev.stats.retries);
}

/* The driver must answer with its own error response rc, for why. */
static void expect_error(const char *name, uint32_t cmd_len,
                         uint32_t rsp_size, uint32_t rc, const char *why)
{
    size_t n;

    sim.rsp_size = rsp_size;
    make_cmd(cmd_len);
    n = tpm_transmit(&dev, cmd_buf, cmd_len, rsp_buf, sizeof(rsp_buf));
    check(n == TPM_HDR_SIZE && tpm_get_be32(rsp_buf) >> 16 == 0x8001 &&
          tpm_get_be32(rsp_buf + 2) == TPM_HDR_SIZE &&
          tpm_get_be32(rsp_buf + 6) == rc && dev.stats.local &&
          strstr(dev.error, why) && !sim.violation,
          "%s: rc 0x%x, \"%s\"", name, rc, dev.error);
}

static void test_crb(void)
{
    static const uint32_t windows[] = { 3968, 256, 64 };
    unsigned i;

    for (i = 0; i < 3; i++) {
        uint32_t w = windows[i];

        sim_crb(w, true, 0);
        open_dev();
        check(dev.kind == TPM_IF_CRB && dev.chunking && dev.cmd_window == w &&
              dev.rsp_window == w && dev.cmd_off == CRB_DATA_BUFFER,
              "CRB probe: %u-byte window, CapCRBChunk", w);
        expect_ok("CRB GetRandom", 12, 44, 0);
        sim_crb(w, true, 0);
        open_dev();
        expect_ok("CRB ML-DSA-87 verify", 4662, 59, 0);
        sim_crb(w, true, 0);
        open_dev();
        expect_ok("CRB ML-DSA-87 sign", 82, 4655, 0);
        sim_crb(w, true, 0);
        open_dev();
        expect_ok("CRB exactly one window", w, w, 0);
        sim_crb(w, true, 0);
        open_dev();
        expect_ok("CRB exactly two windows", 2 * w, 2 * w, 0);
        sim_crb(w, true, 0);
        open_dev();
        expect_ok("CRB largest", 8192, 8192, 0);
    }
    check(dev.stats.cmd_chunks == 128 && dev.stats.rsp_chunks == 128,
          "CRB 8192 bytes in 64-byte chunks: 128 each way");

    sim_crb(3968, false, 0);
    open_dev();
    check(dev.kind == TPM_IF_CRB && !dev.chunking, "CRB probe: no CapCRBChunk");
    expect_ok("CRB without chunking, fits", 3968, 3968, 0);
    sim_crb(3968, false, 0);
    open_dev();
    sim.writes = 0;
    expect_error("CRB without chunking, too large", 4000, 44,
                 TPM_RC_COMMAND_SIZE, "cannot chunk");
    check(sim.writes == 0 && sim.executed == 0,
          "CRB refusal touches no register");
    sim_crb(3968, false, 0);
    open_dev();
    sim.max_xfer = 8192;        /* a device that breaks its own limit */
    expect_error("CRB without chunking, response too large", 12, 4000,
                 TPM_RC_FAILURE, "without CapCRBChunk");

    sim_crb(256, true, F_LOC_NEVER);
    open_dev();
    expect_error("CRB locality never granted", 12, 44, TPM_RC_FAILURE,
                 "locality 0 not granted within TIMEOUT_A");
    check(sim.clock >= 750000 && sim.clock < 760000,
          "CRB locality timeout is TIMEOUT_A (750 ms): %llu us",
          (unsigned long long)sim.clock);
    sim_crb(256, true, F_FATAL_BEFORE);
    open_dev();
    expect_error("CRB tpmSts before", 12, 44, TPM_RC_FAILURE,
                 "tpmSts (fatal error) set in CRB_CTRL_STS before");
    check(sim.executed == 0 && !sim.granted,
          "CRB tpmSts before: nothing sent, locality relinquished");
    sim_crb(256, true, F_REQ_STUCK);
    open_dev();
    expect_error("CRB cmdReady stuck", 12, 44, TPM_RC_FAILURE,
                 "cmdReady not done within TIMEOUT_C");
    check(sim.clock >= 200000 && sim.clock < 210000,
          "CRB cmdReady timeout is TIMEOUT_C (200 ms)");
    sim_crb(256, true, F_IDLE_STUCK);
    open_dev();
    expect_error("CRB tpmIdle stuck", 12, 44, TPM_RC_FAILURE,
                 "cmdReady not done within TIMEOUT_C");
    sim_crb(256, true, F_SEND_NEXT_STUCK);
    open_dev();
    expect_error("CRB command nextChunk stuck", 1000, 44, TPM_RC_FAILURE,
                 "nextChunk after command chunk 1 (bytes 0-255 of 1000)");
    check(sim.executed == 0 && sim.ctrl_sts & CRB_CTRL_STS_TPM_IDLE,
          "CRB command nextChunk stuck: not executed, goIdle sent");
    sim_crb(256, true, F_EXEC_STUCK);
    open_dev();
    expect_error("CRB Start never clears", 12, 44, TPM_RC_FAILURE,
                 "not done within 1000 ms; cancelled");
    check(sim.cancelled, "CRB Start never clears: CTRL_CANCEL written");
    sim_crb(256, true, F_FATAL_AFTER);
    open_dev();
    expect_error("CRB backend failure", 12, 44, TPM_RC_FAILURE,
                 "tpmSts (fatal error) set in CRB_CTRL_STS after");
    sim_crb(256, true, F_RSP_SMALL);
    open_dev();
    expect_error("CRB response header size 8", 12, 44, TPM_RC_FAILURE,
                 "response header size 8");
    sim_crb(256, true, F_RSP_HUGE);
    open_dev();
    expect_error("CRB response header size 70000", 12, 44, TPM_RC_FAILURE,
                 "response header size 70000");
    sim_crb(256, true, 0);
    open_dev();
    sim.rsp_size = 4655;
    make_cmd(82);
    check(tpm_transmit(&dev, cmd_buf, 82, rsp_buf, 4000) == TPM_HDR_SIZE &&
          strstr(dev.error, "at most 4000"),
          "CRB response larger than the caller's buffer: \"%s\"", dev.error);

    sim_crb(256, true, F_RECV_NEXT_ONCE);
    open_dev();
    expect_ok("CRB response nextChunk stuck once, crbRspRetry", 82, 4655, 1);
    sim_crb(256, true, F_RECV_NEXT_STUCK);
    open_dev();
    expect_error("CRB response nextChunk always stuck", 82, 4655,
                 TPM_RC_FAILURE, "response not read in 3 tries (256 of 4655"
                 " bytes; nextChunk not taken within TIMEOUT_C)");
    sim_crb(256, true, F_RECV_NEXT_ONCE | F_RETRY_STUCK);
    open_dev();
    expect_error("CRB crbRspRetry stuck", 82, 4655, TPM_RC_FAILURE,
                 "crbRspRetry not taken within TIMEOUT_C");
    sim_crb(256, true, F_RECV_NEXT_ONCE | F_RETRY_CHANGES);
    open_dev();
    expect_error("CRB crbRspRetry replays another response", 82, 4655,
                 TPM_RC_FAILURE, "crbRspRetry replayed another response");
    sim_crb(256, true, 0);
    open_dev();
    dev.interrupt_read = 1;
    expect_ok("CRB read interrupted after 1 chunk (hook)", 82, 4655, 1);
    sim_crb(64, true, 0);
    open_dev();
    dev.interrupt_read = 30;
    expect_ok("CRB read interrupted after 30 chunks (hook)", 82, 4655, 1);
    sim_crb(256, true, F_GOIDLE_STUCK);
    open_dev();
    expect_error("CRB goIdle stuck", 12, 44, TPM_RC_FAILURE,
                 "goIdle not done within TIMEOUT_C");
    sim_crb(256, true, F_RELINQUISH_STUCK);
    open_dev();
    expect_error("CRB relinquish stuck", 12, 44, TPM_RC_FAILURE,
                 "locality 0 still granted TIMEOUT_A after relinquish");
}

static void test_probe(void)
{
    sim_crb(256, true, F_NO_DEVICE);
    tpm_dev_init(&dev, &sim_io, BASE);
    check(dev.to.a == 750000 &&
          dev.to.b == 2000000 && dev.to.c == 200000 &&
          dev.to.duration == 120000000,
          "default timeouts: TIMEOUT_A 750 ms, B 2 s, C 200 ms, commands 120 s");
    check(tpm_probe(&dev, TPM_IF_AUTO) < 0 && strstr(dev.error, "0xffffffff"),
          "probe: no device: \"%s\"", dev.error);
    expect_error("no device", 12, 44, TPM_RC_FAILURE,
                 "no TPM interface found");
    sim_crb(256, true, 0);
    sim.intf_id = 5;
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_AUTO) < 0 &&
          strstr(dev.error, "unknown TPM interface type 5"),
          "probe: unknown interface: \"%s\"", dev.error);
    sim_crb(256, true, 0);
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_TIS) < 0 &&
          strstr(dev.error, "a crb interface, not tis"),
          "probe: CRB where TIS was asked for: \"%s\"", dev.error);
    sim_crb(256, true, 0);
    sim.cmd_addr = BASE + 0x2000;
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_CRB) < 0 &&
          strstr(dev.error, "unsupported CRB command buffer"),
          "probe: command buffer outside the page: \"%s\"", dev.error);
    sim_crb(256, true, 0);
    sim.rsp_addr = BASE + 0x10;
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_CRB) < 0 &&
          strstr(dev.error, "unsupported CRB response buffer"),
          "probe: response buffer over the registers: \"%s\"", dev.error);
    sim_crb(254, true, 0);
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_CRB) < 0 &&
          strstr(dev.error, "254 bytes"),
          "probe: a window of 254 bytes (not whole words): \"%s\"", dev.error);
    sim_tis(8192, 0, true, 0);
    sim.intf_id = 0xf;
    tpm_dev_init(&dev, &sim_io, BASE);
    check(tpm_probe(&dev, TPM_IF_TIS) == 0 && dev.kind == TPM_IF_TIS &&
          dev.fifo32, "probe: TIS 1.3 interface, 4-byte FIFO");

    sim_crb(256, true, 0);
    open_dev();
    make_cmd(12);
    check(tpm_transmit(&dev, cmd_buf, 9, rsp_buf, sizeof(rsp_buf)) == 10 &&
          tpm_get_be32(rsp_buf + 6) == TPM_RC_COMMAND_SIZE &&
          strstr(dev.error, "9 bytes, header size 0"),
          "malformed command of 9 bytes: \"%s\"", dev.error);
    check(tpm_transmit(&dev, cmd_buf, 11, rsp_buf, sizeof(rsp_buf)) == 10 &&
          tpm_get_be32(rsp_buf + 6) == TPM_RC_COMMAND_SIZE &&
          strstr(dev.error, "11 bytes, header size 12"),
          "command whose header disagrees: \"%s\"", dev.error);
    make_cmd(TPM_CHUNK_MAX_XFER + 4);
    check(tpm_transmit(&dev, cmd_buf, TPM_CHUNK_MAX_XFER + 4, rsp_buf,
                       sizeof(rsp_buf)) == 10 &&
          tpm_get_be32(rsp_buf + 6) == TPM_RC_COMMAND_SIZE &&
          strstr(dev.error, "at most 65536"),
          "command above 64 KiB: \"%s\"", dev.error);
    check(!strcmp(tpm_if_name(TPM_IF_AUTO), "none") &&
          !strcmp(tpm_if_name(TPM_IF_TIS), "tis"), "interface names");
}

static void test_tis(void)
{
    sim_tis(8192, 0, true, 0);
    open_dev();
    check(dev.kind == TPM_IF_TIS && dev.fifo32, "TIS probe (FIFO interface)");
    expect_ok("TIS GetRandom", 12, 44, 0);
    sim_tis(8192, 0, true, 0);
    open_dev();
    expect_ok("TIS ML-DSA-87 verify", 4662, 59, 0);
    sim_tis(8192, 0, true, 0);
    open_dev();
    expect_ok("TIS ML-DSA-87 sign", 82, 4655, 0);
    sim_tis(8192, 0, true, 0);
    open_dev();
    expect_ok("TIS largest", 8192, 8192, 0);
    sim_tis(8192, 64, false, 0);
    open_dev();
    check(!dev.fifo32, "TIS probe: 1-byte FIFO");
    expect_ok("TIS 64-byte bursts, 1-byte FIFO", 4662, 4655, 0);
    check(dev.stats.cmd_chunks == 74 && dev.stats.rsp_chunks == 74,
          "TIS 4662/4655 bytes in 64-byte bursts: 74 each way (%u, %u)",
          dev.stats.cmd_chunks, dev.stats.rsp_chunks);
    sim_tis(8192, 7, true, 0);
    open_dev();
    expect_ok("TIS 7-byte bursts, 4-byte FIFO", 1000, 999, 0);

    sim_tis(4096, 0, true, 0);
    open_dev();
    expect_ok("TIS 4096-byte buffer, fits", 4096, 4096, 0);
    sim_tis(4096, 0, true, 0);
    open_dev();
    expect_error("TIS 4096-byte buffer, 4662-byte command", 4662, 44,
                 TPM_RC_COMMAND_SIZE, "takes no more than 4096 bytes of a"
                 " 4662-byte command");
    check(sim.executed == 0 && sim.state == S_READY && !sim.active,
          "TIS refusal: not executed, commandReady aborted it, locality"
          " released");

    sim_tis(8192, 0, true, F_LOC_NEVER);
    open_dev();
    expect_error("TIS locality never granted", 12, 44, TPM_RC_FAILURE,
                 "locality 0 not granted within TIMEOUT_A");
    sim_tis(8192, 0, true, F_READY_NEVER);
    open_dev();
    expect_error("TIS commandReady never set", 12, 44, TPM_RC_FAILURE,
                 "commandReady not set within TIMEOUT_B");
    check(sim.clock >= 2 * 2000000 && sim.clock < 2 * 2010000,
          "TIS commandReady timeout is TIMEOUT_B (2 s), twice");
    sim_tis(8192, 0, true, F_BURST_ZERO);
    open_dev();
    expect_error("TIS burstCount always 0", 12, 44, TPM_RC_FAILURE,
                 "burstCount stays 0 before the command");
    sim_tis(8192, 0, true, F_EXPECT_EARLY);
    open_dev();
    expect_error("TIS Expect clears early", 100, 44, TPM_RC_COMMAND_SIZE,
                 "expects no more after 99 bytes of a 100-byte command");
    sim_tis(8192, 0, true, F_VALID_NEVER);
    open_dev();
    expect_error("TIS stsValid never set", 12, 44, TPM_RC_FAILURE,
                 "stsValid not set within TIMEOUT_C after 11 of 12");
    sim_tis(8192, 0, true, F_EXPECT_STUCK);
    open_dev();
    expect_error("TIS Expect stays set", 12, 44, TPM_RC_FAILURE,
                 "still expects data after the whole 12-byte command");
    sim_tis(8192, 0, true, F_EXEC_STUCK);
    open_dev();
    expect_error("TIS command never completes", 12, 44, TPM_RC_FAILURE,
                 "not done within 1000 ms; cancelled");
    check(sim.cancelled, "TIS command never completes: commandCancel");
    sim_tis(8192, 0, true, F_RSP_SMALL);
    open_dev();
    expect_error("TIS response header size 8", 12, 44, TPM_RC_FAILURE,
                 "response header size 8");
    sim_tis(8192, 0, true, F_RSP_HUGE);
    open_dev();
    expect_error("TIS response header size 70000", 12, 44, TPM_RC_FAILURE,
                 "response header size 70000");
    sim_tis(8192, 64, true, F_DROP_ONCE);
    open_dev();
    expect_ok("TIS dataAvail drops once, responseRetry", 82, 4655, 1);
    sim_tis(8192, 64, true, F_DROP_AT_0);
    open_dev();
    expect_ok("TIS dataAvail gone before the header, responseRetry", 82,
              4655, 1);
    sim_tis(8192, 64, true, F_DROP_ALWAYS);
    open_dev();
    expect_error("TIS dataAvail drops every time", 82, 4655, TPM_RC_FAILURE,
                 "response not read in 3 tries (74 of 4655 bytes; dataAvail"
                 " or burstCount gone before the end)");
    sim_tis(8192, 64, true, F_DROP_ONCE | F_VALID_AFTER_RETRY);
    open_dev();
    expect_error("TIS stsValid lost at responseRetry", 82, 4655,
                 TPM_RC_FAILURE, "stsValid not set within TIMEOUT_C after"
                 " responseRetry");
    sim_tis(8192, 64, true, F_DROP_ONCE | F_RETRY_CHANGES);
    open_dev();
    expect_error("TIS responseRetry replays another response", 82, 4655,
                 TPM_RC_FAILURE, "responseRetry replayed another response");
    sim_tis(8192, 0, true, F_LEFTOVER);
    open_dev();
    expect_error("TIS data beyond the response", 12, 44, TPM_RC_FAILURE,
                 "data left over after the 44-byte response");
    sim_tis(8192, 0, true, F_VALID_AFTER_RSP);
    open_dev();
    expect_error("TIS stsValid lost after the response", 12, 44,
                 TPM_RC_FAILURE, "stsValid not set within TIMEOUT_C after"
                 " the 44-byte response");
    sim_tis(8192, 0, true, 0);
    open_dev();
    dev.interrupt_read = 1;
    expect_ok("TIS read interrupted after the header (hook)", 82, 4655, 1);
    sim_tis(8192, 0, true, F_RELINQUISH_STUCK);
    open_dev();
    expect_error("TIS relinquish stuck", 12, 44, TPM_RC_FAILURE,
                 "locality 0 still active TIMEOUT_A after relinquish");
}

/* ---- tpm_serve() over pipes ---- */

static void on_alarm(int sig)
{
}

/* Like write(), all of it; for the feeding side of the tests. */
static void put_all(int fd, const uint8_t *p, size_t n)
{
    ssize_t r;

    while (n) {
        r = write(fd, p, n);
        if (r <= 0) {
            return;
        }
        p += r;
        n -= r;
    }
}

/*
 * A child that writes n bytes of buf to fd after delay_ms, then holds the
 * pipe open for hold_ms.
 */
static pid_t feeder(int fd, const uint8_t *buf, size_t n, int delay_ms,
                    int hold_ms)
{
    pid_t pid = fork();
    struct timespec d = { delay_ms / 1000, delay_ms % 1000 * 1000000L };
    struct timespec h = { hold_ms / 1000, hold_ms % 1000 * 1000000L };

    if (pid == 0) {
        for (int i = 3; i < 256; i++) {
            if (i != fd) {
                close(i);
            }
        }
        nanosleep(&d, NULL);
        put_all(fd, buf, n);
        nanosleep(&h, NULL);
        _exit(0);
    }
    return pid;
}

typedef struct ServeResult {
    int ret;
    uint8_t out[256];
    ssize_t out_len;
    char err[1024];
    char log[1024];
} ServeResult;

static ServeResult serve_res;

static ssize_t slurp(int fd, void *buf, size_t size)
{
    ssize_t n = 0, r;

    while ((size_t)n < size && (r = read(fd, (char *)buf + n, size - n)) > 0) {
        n += r;
    }
    return n;
}

/* Serve the bytes in[0..n) (fed after delay_ms, held hold_ms). */
static void serve(const uint8_t *in, size_t n, int delay_ms, int hold_ms,
                  int body_ms)
{
    int pin[2], pout[2], perr[2], plog[2];
    pid_t pid;

    memset(&serve_res, 0, sizeof(serve_res));
    if (pipe(pin) || pipe(pout) || pipe(perr) || pipe(plog)) {
        abort();
    }
    pid = feeder(pin[1], in, n, delay_ms, hold_ms);
    close(pin[1]);
    serve_res.ret = tpm_serve(&dev, pin[0], pout[1], perr[1], plog[1],
                              body_ms);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    close(plog[1]);
    serve_res.out_len = slurp(pout[0], serve_res.out, sizeof(serve_res.out));
    slurp(perr[0], serve_res.err, sizeof(serve_res.err) - 1);
    slurp(plog[0], serve_res.log, sizeof(serve_res.log) - 1);
    close(pout[0]);
    close(perr[0]);
    close(plog[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static bool out_is_error(size_t at, uint32_t rc)
{
    return serve_res.out_len >= (ssize_t)(at + TPM_HDR_SIZE) &&
           tpm_get_be32(serve_res.out + at + 2) == TPM_HDR_SIZE &&
           tpm_get_be32(serve_res.out + at + 6) == rc;
}

static void test_serve(void)
{
    static uint8_t in[80000];
    struct sigaction sa = { .sa_handler = on_alarm };    /* no SA_RESTART */
    struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
    size_t n;
    int pout[2], pin[2];
    pid_t pid;

    signal(SIGPIPE, SIG_IGN);
    sim_crb(256, true, 0);
    open_dev();

    serve(in, 0, 0, 0, 100);
    check(serve_res.ret == 0 && serve_res.out_len == 0,
          "serve: end of input at once: exit 0, no output");

    sim.rsp_size = 44;
    n = make_cmd(12);
    memcpy(in, cmd_buf, n);
    memcpy(in + n, cmd_buf, n);
    serve(in, 2 * n, 0, 0, 100);
    check(serve_res.ret == 0 && serve_res.out_len == 88 &&
          strstr(serve_res.log, "cc=0x17b cmd=12 cmd_chunks=1 rsp=44"),
          "serve: two commands, two responses, a log line each");

    serve(in, 5, 0, 0, 100);
    check(serve_res.ret == 1 && out_is_error(0, TPM_RC_COMMAND_SIZE) &&
          strstr(serve_res.err, "inside a command header"),
          "serve: input ends inside a header: \"%.*s\"",
          (int)strcspn(serve_res.err, "\n"), serve_res.err);

    memcpy(in, cmd_buf, 10);
    tpm_put_be32(in + 2, 6);
    serve(in, 10, 0, 0, 100);
    check(serve_res.ret == 1 && out_is_error(0, TPM_RC_COMMAND_SIZE) &&
          strstr(serve_res.err, "size below 10"),
          "serve: header size 6: \"%.*s\"",
          (int)strcspn(serve_res.err, "\n"), serve_res.err);

    memset(in, 0, 70000);
    memcpy(in, cmd_buf, 10);
    tpm_put_be32(in + 2, 70000);
    memcpy(in + 70000, cmd_buf, 12);
    serve(in, 70012, 0, 0, 100);
    check(serve_res.ret == 0 && out_is_error(0, TPM_RC_COMMAND_SIZE) &&
          serve_res.out_len == 54 && strstr(serve_res.err, "a 70000-byte"),
          "serve: a 70000-byte command skipped and refused, the next one"
          " served: \"%.*s\"", (int)strcspn(serve_res.err, "\n"),
          serve_res.err);
    serve(in, 30000, 0, 0, 100);
    check(serve_res.ret == 1 && out_is_error(0, TPM_RC_COMMAND_SIZE),
          "serve: a 70000-byte command cut short");

    serve(cmd_buf, 11, 0, 0, 100);
    check(serve_res.ret == 1 && out_is_error(0, TPM_RC_COMMAND_SIZE) &&
          strstr(serve_res.err, "after 11 bytes of a 12-byte command"),
          "serve: input ends inside a command: \"%.*s\"",
          (int)strcspn(serve_res.err, "\n"), serve_res.err);
    serve(cmd_buf, 11, 0, 1000, 100);
    check(serve_res.ret == 1 && out_is_error(0, TPM_RC_COMMAND_SIZE),
          "serve: a command that stalls: refused after the body timeout");

    tpm_dev_init(&dev, &sim_io, BASE);      /* not probed */
    serve(cmd_buf, 12, 0, 0, 100);
    check(serve_res.ret == 0 && out_is_error(0, TPM_RC_FAILURE) &&
          strstr(serve_res.err, "tpm-chunk: no TPM interface found") &&
          strstr(serve_res.log, "local=1 ") &&
          strstr(serve_res.log, "error=no TPM interface found"),
          "serve: a driver error: its response, its reason on stderr and in"
          " the log");

    /* output closed: the client is gone */
    sim_crb(256, true, 0);
    open_dev();
    if (pipe(pin) || pipe(pout)) {
        abort();
    }
    put_all(pin[1], cmd_buf, 12);
    close(pin[1]);
    close(pout[0]);
    check(tpm_serve(&dev, pin[0], pout[1], -1, -1, 100) == 1,
          "serve: output closed: exit 1");
    close(pin[0]);
    close(pout[1]);

    /* signals: poll and write interrupted (EINTR) go on */
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    serve(cmd_buf, 12, 50, 0, 100);
    check(serve_res.ret == 0 && serve_res.out_len == 44,
          "serve: poll interrupted by signals while waiting for a command");
    if (pipe(pin) || pipe(pout)) {
        abort();
    }
    fcntl(pout[1], F_SETPIPE_SZ, 4096);
    fcntl(pout[1], F_SETFL, O_NONBLOCK);
    while (write(pout[1], in, sizeof(in)) > 0) {
        /* fill the output pipe */
    }
    fcntl(pout[1], F_SETFL, 0);
    put_all(pin[1], cmd_buf, 12);
    close(pin[1]);
    pid = fork();
    if (pid == 0) {
        struct timespec d = { 0, 60000000 };
        static uint8_t sink[70000];

        close(pout[1]);
        nanosleep(&d, NULL);
        slurp(pout[0], sink, sizeof(sink));
        _exit(0);
    }
    close(pout[0]);
    check(tpm_serve(&dev, pin[0], pout[1], -1, -1, 100) == 0,
          "serve: write interrupted by signals while the output is full");
    close(pout[1]);
    close(pin[0]);
    waitpid(pid, NULL, 0);
    it = (struct itimerval) { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_probe();
    test_crb();
    test_tis();
    test_serve();
    printf("%u passed, %u failed\n", passed, failed_cases);
    return failed_cases ? 1 : 0;
}
