# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the test guest's /init when the kernel command line has
# qpqc.mode=MODE: TPM work through the guest-side driver tpm-chunk, which
# drives the TPM's registers through /dev/mem (the kernel's own driver is
# kept off the device with initcall_blacklist=crb_acpi_driver_init or
# initcall_blacklist=init_tis).  Uses step/step_refused of /init and sets
# its $failed.
#   tools    the tpm2-tools steps of the kernel-driver run, over
#            TPM2TOOLS_TCTI=cmd:tpm-chunk
#   mldsa    tpm-mldsa87: an ML-DSA-87 key, signature, verification and
#            refused forgeries (needs a TPM with ML-DSA)
#   nochunk  a CRB without CapCRBChunk: what fits the window works, a
#            larger command is refused by the driver, cleanly
export TPM_CHUNK_LOG=/tmp/chunk.log
: >"$TPM_CHUNK_LOG"

if [ -e /dev/tpm0 ]; then
    echo "GUEST: FAIL the kernel's TPM driver holds the device (/dev/tpm0)"
    failed=1
fi
info=$(tpm-chunk --info 2>&1) || failed=1
echo "GUEST: driver: $info"
window=$(echo "$info" | sed -n 's/.*window \([0-9]*\) bytes (command).*/\1/p')

# One line from the driver's per-command log: sums, counts, maxima.
summary() {
    awk '
    function v(k,  i, a) {
        for (i = 1; i <= NF; i++) {
            split($i, a, "=")
            if (a[1] == k) return a[2] + 0
        }
        return 0
    }
    {
        n++
        if (!v("local")) {
            # timings of what went through the device
            t++; tot += v("total_us"); exec += v("exec_us")
            mv += v("send_us") + v("recv_us")
            mch += v("cmd_chunks") + v("rsp_chunks")
        }
        ch += v("cmd_chunks") + v("rsp_chunks")
        if (v("cmd_chunks") > 1 || v("rsp_chunks") > 1) multi++
        if (v("cmd") > maxc) { maxc = v("cmd"); maxcc = v("cmd_chunks") }
        if (v("rsp") > maxr) { maxr = v("rsp"); maxrc = v("rsp_chunks") }
        if (v("local")) loc++
        retries += v("retries")
        unit = $1 == "if=tis" ? "FIFO bursts" : "chunks"
    }
    END {
        if (!t) { print n + 0 " commands, none through the device"; exit }
        printf "%d commands (%d in several %s), %d %s; largest command %d B" \
            " in %d, largest response %d B in %d; %d retries, %d driver errors;" \
            " of the %d that reached the device: per command %.0f us (TPM execution" \
            " %.0f us), per piece moved %.1f us\n",
            n, multi, unit, ch, unit, maxc, maxcc, maxr, maxrc, retries, loc + 0,
            t, tot / t, exec / t, mv / mch
    }' "$TPM_CHUNK_LOG"
}

# Run a tpm2 tool, then flush the transient objects it left: tpm-chunk is
# a driver, not a resource manager (the kernel's /dev/tpmrm0 is both).
tool() {
    "$@" && tpm2_flushcontext -t
}

drv_tools() {
    export TPM2TOOLS_TCTI=cmd:tpm-chunk
    step "random bytes (tpm2_getrandom 32)" tpm2_getrandom --hex 32
    step "PCR read (sha256 PCR 0-7)" tpm2_pcrread -o pcrs sha256:0,1,2,3,4,5,6,7
    step "create primary (ECC P-256, owner hierarchy)" \
        tool tpm2_createprimary -Q -C o -g sha256 -G ecc256 -c primary.ctx
    step "create signing key (ECDSA P-256)" \
        tool tpm2_create -Q -C primary.ctx -G ecc256:ecdsa -u key.pub -r key.priv
    step "load signing key" \
        tool tpm2_load -Q -C primary.ctx -u key.pub -r key.priv -c key.ctx
    echo "the quick brown fox" >msg
    step "sign message (SHA-256)" tool tpm2_sign -c key.ctx -g sha256 -o sig msg
    step "verify signature" \
        tool tpm2_verifysignature -c key.ctx -g sha256 -m msg -s sig
    echo "the quick brown fix" >tampered
    step_refused "verify signature over tampered message" "signature is not valid" \
        tool tpm2_verifysignature -c key.ctx -g sha256 -m tampered -s sig
    tpm2_flushcontext -t >/dev/null 2>&1
    # The PCR_Read response (300 bytes) again, its read abandoned after the
    # first chunk and replayed (crbRspRetry; responseRetry on TIS).
    if [ -z "$window" ] || [ "$window" -lt 300 ]; then
        : >/tmp/retry.log
        step "PCR read with an interrupted response read, read again" \
            env TPM_CHUNK_INTERRUPT=1 TPM_CHUNK_LOG=/tmp/retry.log \
            tpm2_pcrread -o pcrs2 sha256:0,1,2,3,4,5,6,7
        if cmp -s pcrs pcrs2 && grep -q 'cc=0x17e .* retries=1 ' /tmp/retry.log; then
            echo "GUEST: PASS the replayed response is the PCR values read before"
        else
            echo "GUEST: FAIL the interrupted read: $(grep 'cc=0x17e' /tmp/retry.log)"
            failed=1
        fi
        cat /tmp/retry.log >>"$TPM_CHUNK_LOG"
    fi
    if grep -q 'local=1' "$TPM_CHUNK_LOG"; then
        echo "GUEST: FAIL the driver made error responses:"
        grep 'local=1' "$TPM_CHUNK_LOG" | sed 's/^/    | /' | head -n 5
        failed=1
    fi
    if [ -n "$window" ] && [ "$window" -lt 1000 ] &&
        ! grep -q 'rsp_chunks=[2-9]' "$TPM_CHUNK_LOG"; then
        echo "GUEST: FAIL no response needed several chunks in a $window-byte window"
        failed=1
    fi
}

drv_mldsa() {
    local rc=0
    tpm-mldsa87 >/tmp/mldsa.out 2>&1 || rc=$?
    sed -e 's/^\(PASS\|FAIL\|INFO\|TIME\|RESULT\) /GUEST: \1 /' \
        -e '/^GUEST: /!s/^/    | /' /tmp/mldsa.out | grep -v '^GUEST: RESULT'
    [ $rc = 0 ] && grep -q '^RESULT PASS' /tmp/mldsa.out || failed=1
}

drv_nochunk() {
    local rsp pad size expect
    rsp=$(tpm-chunk --hex 80010000000c0000017b0020 2>/tmp/err)
    case $rsp in
    80010000002c00000000*) echo "GUEST: PASS GetRandom(32): a 44-byte answer" ;;
    *) echo "GUEST: FAIL GetRandom(32): $rsp $(cat /tmp/err)"; failed=1 ;;
    esac
    # GetRandom padded beyond the device's limit: the 3968-byte window of a
    # CRB without chunking, the 4096-byte buffer of tpm-tis without
    # x-allow-ext-buffer
    if [ -n "$window" ]; then
        size=4000 expect="cannot chunk"
    else
        size=5000 expect="takes no more than 4096 bytes"
    fi
    pad=80010000$(printf %04x $size)0000017b0010
    while [ ${#pad} -lt $((size * 2)) ]; do pad=${pad}00000000; done
    rsp=$(tpm-chunk --hex "${pad:0:$((size * 2))}" 2>/tmp/err)
    if [ "$rsp" = 80010000000a00000142 ] && grep -q "$expect" /tmp/err; then
        echo "GUEST: PASS a $size-byte command refused by the driver with TPM_RC_COMMAND_SIZE"
        sed 's/^/    | /' /tmp/err
    else
        echo "GUEST: FAIL the $size-byte command: $rsp $(cat /tmp/err)"
        failed=1
    fi
    export TPM2TOOLS_TCTI=cmd:tpm-chunk
    step "random bytes through tpm2-tools afterwards (tpm2_getrandom 32)" \
        tpm2_getrandom --hex 32
}

case $mode in
tools) drv_tools ;;
mldsa) drv_mldsa ;;
nochunk) drv_nochunk ;;
*) echo "GUEST: FAIL unknown qpqc.mode=$mode"; failed=1 ;;
esac
echo "GUEST: INFO driver log: $(summary)"
# the commands that took several CRB chunks or that exceed 4096 bytes
awk '{
    for (i = 1; i <= NF; i++) { split($i, a, "="); f[a[1]] = a[2] + 0 }
    if ($1 == "if=crb" && (f["cmd_chunks"] > 1 || f["rsp_chunks"] > 1) ||
        f["cmd"] > 4096 || f["rsp"] > 4096) print "    | " $0
}' "$TPM_CHUNK_LOG" | head -n 12
