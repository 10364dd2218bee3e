/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpm-chunk: a userspace TPM 2.0 driver for QEMU's tpm-crb, with the
 * chunked transfers of TCG PTP 1.07 (CapCRBChunk), and for tpm-tis with
 * its 8192-byte buffer (x-allow-ext-buffer=on).  Linux (6.1 to 7.x) has
 * neither: its TPM core stops at 4096 bytes and its tpm_crb refuses a
 * command larger than the CRB window.
 *
 * The protocol logic touches the device only through TpmIo, so that a
 * host unit test (sim-test.c) can run it against a simulated register
 * file; guest-io.c maps the real device through /dev/mem.
 *
 * tpm_transmit() always produces a well-formed TPM 2.0 response: the
 * TPM's, or, on any failure of the driver or the device, a 10-byte
 * error response made by the driver (TPM_RC_COMMAND_SIZE when the
 * command cannot be moved, TPM_RC_FAILURE otherwise) with the reason in
 * TpmDev.error.  Every wait is bounded by a timeout of PTP 1.07.
 */
#ifndef TPM_CHUNK_H
#define TPM_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM_HDR_SIZE            10
#define TPM_CHUNK_MAX_XFER      65536   /* largest command or response */
#define TPM_CHUNK_READ_TRIES    3       /* reads of one response */

#define TPM_ST_NO_SESSIONS      0x8001
#define TPM_RC_SUCCESS          0x000
#define TPM_RC_FAILURE          0x101
#define TPM_RC_COMMAND_SIZE     0x142

/* CRB registers (PTP 1.07), offsets in the locality 0 page */
#define CRB_LOC_STATE           0x00
#define CRB_LOC_STATE_ESTABLISHED       (1u << 0)
#define CRB_LOC_STATE_ASSIGNED          (1u << 1)
#define CRB_LOC_STATE_ACTIVE_MASK       (7u << 2)
#define CRB_LOC_STATE_REG_VALID         (1u << 7)
#define CRB_LOC_CTRL            0x08
#define CRB_LOC_CTRL_REQUEST_ACCESS     (1u << 0)
#define CRB_LOC_CTRL_RELINQUISH         (1u << 1)
#define CRB_LOC_STS             0x0c
#define CRB_LOC_STS_GRANTED             (1u << 0)
#define CRB_INTF_ID             0x30
#define CRB_INTF_ID_TYPE_MASK           0xfu
#define CRB_INTF_ID_TYPE_CRB            0x1u
#define CRB_INTF_ID_CAP_CRB_CHUNK       (1u << 10)
#define CRB_CTRL_REQ            0x40
#define CRB_CTRL_REQ_CMD_READY          (1u << 0)
#define CRB_CTRL_REQ_GO_IDLE            (1u << 1)
#define CRB_CTRL_STS            0x44
#define CRB_CTRL_STS_TPM_STS            (1u << 0)   /* fatal error */
#define CRB_CTRL_STS_TPM_IDLE           (1u << 1)
#define CRB_CTRL_CANCEL         0x48
#define CRB_CTRL_START          0x4c
#define CRB_START_START                 (1u << 0)
#define CRB_START_RSP_RETRY             (1u << 1)
#define CRB_START_NEXT_CHUNK            (1u << 2)
#define CRB_CTRL_CMD_SIZE       0x58
#define CRB_CTRL_CMD_LADDR      0x5c
#define CRB_CTRL_CMD_HADDR      0x60
#define CRB_CTRL_RSP_SIZE       0x64
#define CRB_CTRL_RSP_ADDR       0x68        /* 64 bits */
#define CRB_DATA_BUFFER         0x80

/* TIS / FIFO registers (PTP 1.07), offsets in the locality 0 page */
#define TIS_ACCESS              0x00
#define TIS_ACCESS_REQUEST_USE          (1u << 1)
#define TIS_ACCESS_ACTIVE_LOCALITY      (1u << 5)
#define TIS_ACCESS_REG_VALID            (1u << 7)
#define TIS_INTF_CAPABILITY     0x14
#define TIS_CAP_XFER_SIZE_MASK          (3u << 9)
#define TIS_STS                 0x18
#define TIS_STS_RESPONSE_RETRY          (1u << 1)
#define TIS_STS_EXPECT                  (1u << 3)
#define TIS_STS_DATA_AVAIL              (1u << 4)
#define TIS_STS_GO                      (1u << 5)
#define TIS_STS_COMMAND_READY           (1u << 6)
#define TIS_STS_VALID                   (1u << 7)
#define TIS_STS_CANCEL_BYTE     0x1b        /* commandCancel: bit 24 */
#define TIS_DATA_FIFO           0x24
#define TIS_INTERFACE_ID        0x30        /* same offset as CRB_INTF_ID */

#define TPM_PAGE_SIZE           0x1000

typedef struct TpmIo {
    void *opaque;
    uint32_t (*read32)(void *opaque, uint32_t off);
    void (*write32)(void *opaque, uint32_t off, uint32_t val);
    uint8_t (*read8)(void *opaque, uint32_t off);
    void (*write8)(void *opaque, uint32_t off, uint8_t val);
    uint64_t (*now_us)(void *opaque);           /* monotonic */
    void (*relax)(void *opaque, unsigned polls); /* between two polls */
} TpmIo;

typedef enum TpmIf {
    TPM_IF_AUTO,
    TPM_IF_CRB,
    TPM_IF_TIS,
} TpmIf;

/* PTP 1.07 timeouts and the longest command duration, in microseconds */
typedef struct TpmTimeouts {
    uint64_t a;         /* locality, TIS burstCount: 750 ms */
    uint64_t b;         /* TIS commandReady: 2 s */
    uint64_t c;         /* CRB requests and chunks, stsValid: 200 ms */
    uint64_t duration;  /* command execution (Start, tpmGo): 120 s */
} TpmTimeouts;

/* What the last tpm_transmit() did */
typedef struct TpmStats {
    uint32_t cc, rc;
    uint32_t cmd_size, rsp_size;
    unsigned cmd_chunks;    /* CRB: window fills; TIS: FIFO bursts */
    unsigned rsp_chunks;
    unsigned retries;       /* crbRspRetry or responseRetry */
    bool local;             /* the response was made by the driver */
    uint64_t setup_us;      /* locality, cmdReady */
    uint64_t send_us;       /* command chunks up to the final one */
    uint64_t exec_us;       /* Start/tpmGo until the response is ready */
    uint64_t recv_us;       /* response chunks, retries included */
    uint64_t teardown_us;   /* goIdle/commandReady, relinquish */
    uint64_t total_us;
} TpmStats;

typedef struct TpmDev {
    TpmIo io;
    TpmTimeouts to;
    uint64_t base;          /* physical address of the locality 0 page */
    TpmIf kind;             /* after tpm_probe(): CRB or TIS */
    /* CRB */
    uint32_t cmd_off, rsp_off;  /* window offsets in the page */
    uint32_t cmd_window;        /* CMD_SIZE: one command chunk */
    uint32_t rsp_window;        /* RSP_SIZE: one response chunk */
    bool chunking;              /* CapCRBChunk */
    /* TIS */
    bool fifo32;                /* 4-byte FIFO accesses allowed */
    /*
     * test hook: abandon the first read of a response after this many
     * pieces, as an interrupted reader would, and read it again
     */
    unsigned interrupt_read;
    TpmStats stats;
    char error[256];            /* why the driver made the response */
    uint32_t error_rc;          /* and its response code */
} TpmDev;

void tpm_dev_init(TpmDev *d, const TpmIo *io, uint64_t base);
/* Find the interface; 0, or -1 with d->error set. */
int tpm_probe(TpmDev *d, TpmIf want);
/* Always a response in rsp (rsp_max >= TPM_HDR_SIZE): its length. */
size_t tpm_transmit(TpmDev *d, const uint8_t *cmd, size_t len,
                    uint8_t *rsp, size_t rsp_max);
size_t tpm_error_response(uint8_t *rsp, uint32_t rc);
uint32_t tpm_get_be32(const uint8_t *p);
void tpm_put_be32(uint8_t *p, uint32_t v);
const char *tpm_if_name(TpmIf kind);
/* One line describing d->stats, for logs and transcripts. */
int tpm_stats_line(const TpmDev *d, char *buf, size_t size);

/*
 * The cmd-TCTI loop: read commands from fd in (each a header and the
 * bytes its size names), write each response to fd out, until end of
 * input.  0 at a clean end of input, 1 when the input was malformed
 * (after answering it); per-transaction lines go to log_fd (-1: none),
 * errors to err_fd (-1: none).
 */
int tpm_serve(TpmDev *d, int in, int out, int err_fd, int log_fd,
              int body_timeout_ms);

#endif /* TPM_CHUNK_H */
