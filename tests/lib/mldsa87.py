# SPDX-License-Identifier: GPL-2.0-or-later
"""ML-DSA-87 signing and verification as TPM 2.0 commands (revision 1.85).

Each function takes transfer, a callable that sends one command and
returns the whole response (a qemuvm.Machine's transfer, or a connection
straight to the TPM), and checks what the benchmark relies on; a wrong
answer raises RuntimeError.  Used by tests/bench/bench-mldsa.py and
tests/harness/test-pqc-mldsa-unpatched.py.

    key = create_primary(transfer)          # ML-DSA-87, owner hierarchy
    sig = sign(transfer, key, message)      # 2 commands, 4655-byte answer
    verify(transfer, key, message, sig)     # 3 commands, 4662-byte command
    verify(transfer, key, message, bad, tampered=True)      # must fail
"""

import struct

TPM_ST_NO_SESSIONS, TPM_ST_SESSIONS = 0x8001, 0x8002
TPM_ST_MESSAGE_VERIFIED = 0x8026
TPM_RC_SIGNATURE = 0x09B
TPM_RH_OWNER, TPM_RS_PW = 0x40000001, 0x40000009
TPM_ALG_SHA256, TPM_ALG_MLDSA, TPM_MLDSA_87 = 0x000B, 0x00A1, 0x0003
TPM_CC_CREATE_PRIMARY = 0x131
TPM_CC_SEQUENCE_UPDATE = 0x15C
TPM_CC_VERIFY_SEQUENCE_COMPLETE = 0x1A3
TPM_CC_SIGN_SEQUENCE_COMPLETE = 0x1A4
TPM_CC_VERIFY_SEQUENCE_START = 0x1A9
TPM_CC_SIGN_SEQUENCE_START = 0x1AA
# fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign
ATTRIBUTES = 0x00000002 | 0x00000010 | 0x00000020 | 0x00000040 | 0x00040000
PUBLIC_KEY_SIZE, SIGNATURE_SIZE = 2592, 4627
COMMANDS_PER_SIGN, COMMANDS_PER_VERIFY = 2, 3


def command(tag, cc, body):
    return struct.pack(">HII", tag, 10 + len(body), cc) + body


def tpm2b(data):
    return struct.pack(">H", len(data)) + data


def pw_sessions(n):
    """An authorization area of n password sessions with empty auth."""
    one = struct.pack(">IHBH", TPM_RS_PW, 0, 0, 0)
    return struct.pack(">I", n * len(one)) + one * n


def rc(rsp):
    return struct.unpack(">I", rsp[6:10])[0]


def ok(rsp, what, size=None):
    """rsp, checked: success, and size bytes long when size is given."""
    if len(rsp) < 10 or rc(rsp):
        raise RuntimeError(f"{what}: {rsp[:16].hex()}")
    if size is not None and len(rsp) != size:
        raise RuntimeError(f"{what}: {len(rsp)} bytes, not {size}")
    return rsp


def create_primary(transfer):
    """An ML-DSA-87 signing key under TPM_RH_OWNER: its handle."""
    public = struct.pack(">HHIHHBH", TPM_ALG_MLDSA, TPM_ALG_SHA256,
                         ATTRIBUTES, 0, TPM_MLDSA_87, 0, 0)
    body = (struct.pack(">I", TPM_RH_OWNER) + pw_sessions(1)
            + tpm2b(struct.pack(">HH", 0, 0))   # inSensitive: empty
            + tpm2b(public) + tpm2b(b"")        # outsideInfo
            + struct.pack(">I", 0))             # creationPCR: none
    rsp = ok(transfer(command(TPM_ST_SESSIONS, TPM_CC_CREATE_PRIMARY, body)),
             "CreatePrimary(ML-DSA-87)")
    handle, = struct.unpack(">I", rsp[10:14])
    # parameterSize, outPublic.size, type, nameAlg, attributes, authPolicy,
    # parameterSet, allowExternalMu, then unique.size
    alg, = struct.unpack(">H", rsp[20:22])
    unique, = struct.unpack(">H", rsp[33:35])
    if alg != TPM_ALG_MLDSA or unique != PUBLIC_KEY_SIZE:
        raise RuntimeError(f"CreatePrimary: type 0x{alg:x}, {unique}-byte "
                           f"key, not 0x{TPM_ALG_MLDSA:x}, {PUBLIC_KEY_SIZE}")
    return handle


def sequence_start(transfer, cc, key):
    body = struct.pack(">I", key) + tpm2b(b"")          # auth
    if cc == TPM_CC_VERIFY_SEQUENCE_START:
        body += tpm2b(b"")                              # hint
    body += tpm2b(b"")                                  # context
    rsp = ok(transfer(command(TPM_ST_NO_SESSIONS, cc, body)),
             f"sequence start 0x{cc:x}", 14)
    return struct.unpack(">I", rsp[10:14])[0]


def sign(transfer, key, message):
    """SignSequenceStart, SignSequenceComplete(message): the signature."""
    seq = sequence_start(transfer, TPM_CC_SIGN_SEQUENCE_START, key)
    body = struct.pack(">II", seq, key) + pw_sessions(2) + tpm2b(message)
    rsp = ok(transfer(command(TPM_ST_SESSIONS, TPM_CC_SIGN_SEQUENCE_COMPLETE,
                              body)), "SignSequenceComplete",
             10 + 4 + 2 + 2 + SIGNATURE_SIZE + 2 * 5)
    alg, size = struct.unpack(">HH", rsp[14:18])
    if alg != TPM_ALG_MLDSA or size != SIGNATURE_SIZE:
        raise RuntimeError(f"SignSequenceComplete: sigAlg 0x{alg:x}, "
                           f"{size} bytes")
    return rsp[18:18 + size]


def verify(transfer, key, message, signature, tampered=False):
    """VerifySequenceStart, SequenceUpdate(message),
    VerifySequenceComplete(signature): must give the verified ticket
    (with tampered, must fail: a check that verification is real)."""
    seq = sequence_start(transfer, TPM_CC_VERIFY_SEQUENCE_START, key)
    ok(transfer(command(TPM_ST_SESSIONS, TPM_CC_SEQUENCE_UPDATE,
                        struct.pack(">I", seq) + pw_sessions(1)
                        + tpm2b(message))), "SequenceUpdate")
    cmd = command(TPM_ST_SESSIONS, TPM_CC_VERIFY_SEQUENCE_COMPLETE,
                  struct.pack(">II", seq, key) + pw_sessions(1)
                  + struct.pack(">H", TPM_ALG_MLDSA) + tpm2b(signature))
    rsp = transfer(cmd)
    if tampered:
        # TPM_RC_SIGNATURE, whatever its parameter number
        if len(rsp) < 10 or rc(rsp) & ~0xF40 != TPM_RC_SIGNATURE:
            raise RuntimeError("VerifySequenceComplete of a tampered "
                               f"signature: {rsp[:10].hex()}, not "
                               "TPM_RC_SIGNATURE")
        return
    ok(rsp, "VerifySequenceComplete")
    tag, = struct.unpack(">H", rsp[14:16])
    if tag != TPM_ST_MESSAGE_VERIFIED:
        raise RuntimeError(f"VerifySequenceComplete: ticket tag 0x{tag:x}")
