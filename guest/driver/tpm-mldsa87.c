/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpm-mldsa87: an ML-DSA-87 signature from the TPM, through the
 * tpm-chunk driver (tpm-crb with chunking, or tpm-tis with its
 * 8192-byte buffer): CreatePrimary (ML-DSA-87, owner hierarchy), sign
 * with SignSequenceStart/SignSequenceComplete (a 4655-byte response),
 * verify with VerifySequenceStart/SequenceUpdate/VerifySequenceComplete
 * (a 4662-byte command), then the same verification over a tampered
 * message and with a tampered signature, which the TPM must refuse with
 * TPM_RC_SIGNATURE.  TPM 2.0 library revision 1.85 commands; tpm2-tools
 * cannot send them (its buffers stop at 4096 bytes).
 *
 * Prints one line per command (sizes, chunks, time) and a verdict; exit
 * status 0 when every step passed.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-io.h"

#define TPM_ST_SESSIONS         0x8002
#define TPM_ST_MESSAGE_VERIFIED 0x8026
#define TPM_RH_OWNER            0x40000001
#define TPM_RS_PW               0x40000009
#define TPM_ALG_SHA256          0x000b
#define TPM_ALG_MLDSA           0x00a1
#define TPM_MLDSA_87            0x0003
#define TPM_CC_CREATE_PRIMARY   0x131
#define TPM_CC_SEQUENCE_UPDATE  0x15c
#define TPM_CC_FLUSH_CONTEXT    0x165
#define TPM_CC_VERIFY_SEQUENCE_COMPLETE 0x1a3
#define TPM_CC_SIGN_SEQUENCE_COMPLETE   0x1a4
#define TPM_CC_VERIFY_SEQUENCE_START    0x1a9
#define TPM_CC_SIGN_SEQUENCE_START      0x1aa
#define TPM_RC_SIGNATURE        0x09b
/* fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign */
#define MLDSA_ATTRIBUTES        0x00040072
#define MLDSA87_PUBLIC_SIZE     2592
#define MLDSA87_SIG_SIZE        4627

typedef struct Buf {
    uint8_t data[TPM_CHUNK_MAX_XFER];
    size_t len;
} Buf;

static TpmDev dev;
static Buf rsp;
static FILE *log_file;      /* $TPM_CHUNK_LOG: one line per command */
static int failed;
static uint64_t sign_us, verify_us;

static void put8(Buf *b, uint8_t v)
{
    b->data[b->len++] = v;
}

static void put16(Buf *b, uint16_t v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(Buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v);
}

static void put_tpm2b(Buf *b, const uint8_t *p, size_t n)
{
    put16(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static uint16_t get16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static void begin(Buf *b, uint16_t tag, uint32_t cc)
{
    b->len = 0;
    put16(b, tag);
    put32(b, 0);                        /* size, set by finish() */
    put32(b, cc);
}

/* An authorization area of n password sessions with empty auth. */
static void pw_sessions(Buf *b, int n)
{
    put32(b, 9 * n);
    while (n--) {
        put32(b, TPM_RS_PW);
        put16(b, 0);                    /* nonce */
        put8(b, 0);                     /* attributes */
        put16(b, 0);                    /* hmac */
    }
}

static uint32_t rc_of(const Buf *r)
{
    return tpm_get_be32(r->data + 6);
}

/* Send b; print a line with what crossed the device.  The response code. */
static uint32_t run(const char *name, Buf *b)
{
    const TpmStats *s = &dev.stats;
    const char *unit = dev.kind == TPM_IF_CRB ? "chunk" : "FIFO burst";

    tpm_put_be32(b->data + 2, b->len);
    rsp.len = tpm_transmit(&dev, b->data, b->len, rsp.data,
                           sizeof(rsp.data));
    printf("  %-22s command %5u B in %2u %s%s, response %5u B in %2u %s%s,"
           " rc 0x%03x, %6.2f ms (exec %.2f)%s%s\n", name,
           s->cmd_size, s->cmd_chunks, unit, s->cmd_chunks == 1 ? "" : "s",
           s->rsp_size, s->rsp_chunks, unit, s->rsp_chunks == 1 ? "" : "s",
           s->rc, s->total_us / 1000.0, s->exec_us / 1000.0,
           s->local ? "; driver: " : "", s->local ? dev.error : "");
    if (log_file) {
        char line[512];

        tpm_stats_line(&dev, line, sizeof(line));
        fprintf(log_file, "%s\n", line);
        fflush(log_file);
    }
    return rc_of(&rsp);
}

static void result(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void result(bool ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s ", ok ? "PASS" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok) {
        failed = 1;
    }
}

static uint32_t flush(const char *name, uint32_t handle)
{
    Buf b;

    begin(&b, TPM_ST_NO_SESSIONS, TPM_CC_FLUSH_CONTEXT);
    put32(&b, handle);
    return run(name, &b);
}

/* After a failed Complete the TPM may have flushed the sequence or not. */
static void flush_sequence(uint32_t seq)
{
    flush("FlushContext(seq)", seq);
}

static int create_primary(uint32_t *key)
{
    Buf b, pub = { .len = 0 };
    uint16_t alg, unique;

    put16(&pub, TPM_ALG_MLDSA);
    put16(&pub, TPM_ALG_SHA256);
    put32(&pub, MLDSA_ATTRIBUTES);
    put16(&pub, 0);                     /* authPolicy */
    put16(&pub, TPM_MLDSA_87);          /* parameterSet */
    put8(&pub, 0);                      /* allowExternalMu */
    put16(&pub, 0);                     /* unique */

    begin(&b, TPM_ST_SESSIONS, TPM_CC_CREATE_PRIMARY);
    put32(&b, TPM_RH_OWNER);
    pw_sessions(&b, 1);
    put16(&b, 4);                       /* inSensitive: empty */
    put16(&b, 0);
    put16(&b, 0);
    put_tpm2b(&b, pub.data, pub.len);
    put16(&b, 0);                       /* outsideInfo */
    put32(&b, 0);                       /* creationPCR: none */
    if (run("CreatePrimary", &b) || rsp.len < 35) {
        result(false, "CreatePrimary(ML-DSA-87): rc 0x%x", rc_of(&rsp));
        return -1;
    }
    *key = tpm_get_be32(rsp.data + 10);
    /*
     * parameterSize, outPublic.size, type, nameAlg, attributes,
     * authPolicy, parameterSet, allowExternalMu, unique.size
     */
    alg = get16(rsp.data + 20);
    unique = get16(rsp.data + 33);
    result(alg == TPM_ALG_MLDSA && unique == MLDSA87_PUBLIC_SIZE,
           "ML-DSA-87 primary key 0x%08x: type 0x%04x, %u-byte public key",
           *key, alg, unique);
    return alg == TPM_ALG_MLDSA && unique == MLDSA87_PUBLIC_SIZE ? 0 : -1;
}

static uint32_t sequence_start(uint32_t cc, uint32_t key)
{
    Buf b;

    begin(&b, TPM_ST_NO_SESSIONS, cc);
    put32(&b, key);
    put16(&b, 0);                       /* auth */
    if (cc == TPM_CC_VERIFY_SEQUENCE_START) {
        put16(&b, 0);                   /* hint */
    }
    put16(&b, 0);                       /* context */
    if (run(cc == TPM_CC_SIGN_SEQUENCE_START ? "SignSequenceStart" :
            "VerifySequenceStart", &b) || rsp.len != 14) {
        return 0;
    }
    return tpm_get_be32(rsp.data + 10);
}

static int sign(uint32_t key, const uint8_t *msg, size_t n, uint8_t *sig)
{
    uint64_t t = guest_io_now_us();
    uint32_t seq = sequence_start(TPM_CC_SIGN_SEQUENCE_START, key);
    uint16_t alg, size;
    Buf b;

    if (!seq) {
        result(false, "SignSequenceStart: rc 0x%x", rc_of(&rsp));
        return -1;
    }
    begin(&b, TPM_ST_SESSIONS, TPM_CC_SIGN_SEQUENCE_COMPLETE);
    put32(&b, seq);
    put32(&b, key);
    pw_sessions(&b, 2);
    put_tpm2b(&b, msg, n);
    if (run("SignSequenceComplete", &b) || rsp.len < 18) {
        result(false, "SignSequenceComplete: rc 0x%x", rc_of(&rsp));
        flush_sequence(seq);
        return -1;
    }
    sign_us = guest_io_now_us() - t;
    alg = get16(rsp.data + 14);
    size = get16(rsp.data + 16);
    result(alg == TPM_ALG_MLDSA && size == MLDSA87_SIG_SIZE &&
           rsp.len == 18u + size + 10, "signed: a %u-byte ML-DSA-87 signature"
           " (sigAlg 0x%04x) in a %zu-byte response, %.1f ms for sign",
           size, alg, rsp.len, sign_us / 1000.0);
    if (alg != TPM_ALG_MLDSA || size != MLDSA87_SIG_SIZE) {
        return -1;
    }
    memcpy(sig, rsp.data + 18, size);
    return 0;
}

/* The response code of VerifySequenceComplete; the ticket tag in *tag. */
static uint32_t verify(uint32_t key, const uint8_t *msg, size_t n,
                       const uint8_t *sig, uint16_t *tag)
{
    uint64_t t = guest_io_now_us();
    uint32_t seq = sequence_start(TPM_CC_VERIFY_SEQUENCE_START, key), rc;
    Buf b;

    *tag = 0;
    if (!seq) {
        return rc_of(&rsp) ? rc_of(&rsp) : TPM_RC_FAILURE;
    }
    begin(&b, TPM_ST_SESSIONS, TPM_CC_SEQUENCE_UPDATE);
    put32(&b, seq);
    pw_sessions(&b, 1);
    put_tpm2b(&b, msg, n);
    rc = run("SequenceUpdate", &b);
    if (rc) {
        flush_sequence(seq);
        return rc;
    }
    begin(&b, TPM_ST_SESSIONS, TPM_CC_VERIFY_SEQUENCE_COMPLETE);
    put32(&b, seq);
    put32(&b, key);
    pw_sessions(&b, 1);
    put16(&b, TPM_ALG_MLDSA);
    put_tpm2b(&b, sig, MLDSA87_SIG_SIZE);
    rc = run("VerifySequenceComplete", &b);
    verify_us = guest_io_now_us() - t;
    if (rc) {
        flush_sequence(seq);
    } else if (rsp.len >= 16) {
        *tag = get16(rsp.data + 14);
    }
    return rc;
}

static bool is_signature_rc(uint32_t rc)
{
    /* format one: the error number, whatever parameter it names */
    return (rc & 0x80) && (rc & 0x3f) == (TPM_RC_SIGNATURE & 0x3f);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "crb", no_argument, NULL, 'c' },
        { "tis", no_argument, NULL, 't' },
        { "base", required_argument, NULL, 'b' },
        { "message", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    static uint8_t sig[MLDSA87_SIG_SIZE], bad_sig[MLDSA87_SIG_SIZE];
    const char *message = "the quick brown fox signs with ML-DSA-87";
    uint64_t base = TPM_DEFAULT_BASE, sign_verify_us;
    TpmIf want = TPM_IF_AUTO;
    char err[256], bad_msg[256];
    uint32_t key, rc;
    uint16_t tag;
    size_t n;
    TpmIo io;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
        case 'm':
            message = optarg;
            break;
        default:
            fprintf(stderr, "usage: tpm-mldsa87 [--crb|--tis] [--base ADDR]"
                    " [--message TEXT]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("TPM_CHUNK_LOG") && *getenv("TPM_CHUNK_LOG")) {
        log_file = fopen(getenv("TPM_CHUNK_LOG"), "a");
    }
    if (guest_io_open(&io, base, err, sizeof(err)) < 0) {
        result(false, "%s", err);
        return 1;
    }
    tpm_dev_init(&dev, &io, base);
    if (tpm_probe(&dev, want) < 0) {
        result(false, "%s", dev.error);
        return 1;
    }
    if (dev.kind == TPM_IF_CRB) {
        printf("INFO tpm-crb at 0x%llx: %u-byte window, CapCRBChunk %d\n",
               (unsigned long long)base, dev.cmd_window, dev.chunking);
    } else {
        printf("INFO tpm-tis at 0x%llx: %d-byte FIFO accesses\n",
               (unsigned long long)base, dev.fifo32 ? 4 : 1);
    }
    n = strlen(message);
    if (n >= sizeof(bad_msg)) {
        n = sizeof(bad_msg) - 1;
    }

    if (create_primary(&key) < 0) {
        return 1;
    }
    if (sign(key, (const uint8_t *)message, n, sig) == 0) {
        rc = verify(key, (const uint8_t *)message, n, sig, &tag);
        sign_verify_us = sign_us + verify_us;
        result(rc == 0 && tag == TPM_ST_MESSAGE_VERIFIED &&
               dev.stats.cmd_size == 4662, "verified: a %u-byte"
               " VerifySequenceComplete, rc 0x%x, ticket tag 0x%04x, %.1f ms"
               " for verify", dev.stats.cmd_size, rc, tag,
               verify_us / 1000.0);
        printf("TIME ML-DSA-87 sign %.1f ms + verify %.1f ms = %.1f ms\n",
               sign_us / 1000.0, verify_us / 1000.0, sign_verify_us / 1000.0);

        memcpy(bad_msg, message, n);
        bad_msg[0] ^= 0x01;
        rc = verify(key, (const uint8_t *)bad_msg, n, sig, &tag);
        result(is_signature_rc(rc), "tampered message refused by the TPM:"
               " rc 0x%x (TPM_RC_SIGNATURE is 0x%x)", rc, TPM_RC_SIGNATURE);

        memcpy(bad_sig, sig, sizeof(sig));
        bad_sig[100] ^= 0x01;
        rc = verify(key, (const uint8_t *)message, n, bad_sig, &tag);
        result(is_signature_rc(rc), "tampered signature (one bit) refused by"
               " the TPM: rc 0x%x", rc);
    }
    if (flush("FlushContext(key)", key)) {
        result(false, "FlushContext of the key: rc 0x%x", rc_of(&rsp));
    }
    printf("RESULT %s\n", failed ? "FAIL" : "PASS");
    return failed;
}
