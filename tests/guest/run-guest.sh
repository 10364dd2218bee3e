#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boot the test guest (scripts/fetch-guest.sh) on qemu-system-x86_64 with a
# TPM device backed by a fresh swtpm, let its /init do real TPM 2.0 work
# through the kernel driver, print the transcript and a verdict.
#   run-guest.sh tpm-crb|tpm-tis [extra qemu arguments...]
# QEMU=path selects the binary (default: the patched build); GUEST_APPEND
# adds to the kernel command line; GUEST_TPM=pqc puts the PQC TPM (wolfTPM's
# fwtpm_server with ML-DSA, behind tests/lib/pqc-bridge.py: $QPQC_PQC_BRIDGE,
# exported by scripts/run-tests.sh) in swtpm's place.
. "$(dirname "$0")/../lib/common.sh"

device=${1:?usage: run-guest.sh tpm-crb|tpm-tis [qemu args...]}
shift
need_qemu "$QEMU"
[ -f "$GUEST/vmlinuz" ] && [ -f "$GUEST/initrd.gz" ] || fail "no guest image: run 'make guest'"
if [ "${GUEST_TPM:-swtpm}" = pqc ]; then
    [ -n "${QPQC_PQC_BRIDGE:-}" ] || skip "no PQC TPM: ${QPQC_PQC_MISSING:-QPQC_PQC_BRIDGE is not set (scripts/run-tests.sh sets it)}"
    eval "bridge=($QPQC_PQC_BRIDGE)"
    SWTPM_SOCK=$TEST_TMP/pqc/ctrl.sock
    mkdir -p "$TEST_TMP/pqc"
    "${bridge[@]}" --ctrl "$SWTPM_SOCK" --state "$TEST_TMP/pqc/state" \
        >"$TEST_TMP/pqc/bridge.out" 2>"$TEST_TMP/pqc/bridge.log" &
    _cleanup_pids+=($!)
    wait_for "[ -S '$SWTPM_SOCK' ]" 30 ||
        fail "pqc-bridge did not get ready: $(tail -n 5 "$TEST_TMP/pqc/bridge.log")"
    tpm_name="PQC TPM: wolfTPM fwtpm_server (ML-DSA) via pqc-bridge.py, ${QPQC_FWTPM:-?}"
else
    start_swtpm tpm
    tpm_name="swtpm: $(swtpm --version 2>&1 | head -n1)"
fi
acc=$(accel)
serial=$TEST_TMP/serial.log
limit=${GUEST_TIMEOUT:-240}

echo "guest: $(cat "$GUEST/kernel-package"), device $device, accel $acc${*:+, $*}"
echo "$tpm_name"
start=$(date +%s%N)
timeout "$limit" "$QEMU" -machine q35 -accel "$acc" -m 256 -nodefaults \
    -display none -serial "file:$serial" -no-reboot \
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1${GUEST_APPEND:+ $GUEST_APPEND}" \
    -chardev socket,id=chrtpm,path="$SWTPM_SOCK" \
    -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device "$device,tpmdev=tpm0" "$@" >"$TEST_TMP/qemu.out" 2>&1 &
qpid=$!
_cleanup_pids+=($qpid)
rc=0
wait $qpid || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
secs=$((ms / 1000)).$(printf %03d $((ms % 1000)))

grep '^GUEST:\|^    |' "$serial" 2>/dev/null | sed 's/^GUEST: /  /' || true
if [ $rc = 124 ]; then
    echo "qemu did not finish within ${limit}s; last serial lines:"
    tail -n 15 "$serial" 2>/dev/null | sed 's/^/    /'
fi
if [ -s "$TEST_TMP/qemu.out" ]; then
    echo "qemu said:"
    sed 's/^/    /' "$TEST_TMP/qemu.out"
fi
if grep -q '^GUEST: RESULT PASS' "$serial" 2>/dev/null && [ $rc = 0 ]; then
    echo "VERDICT: PASS ($device, ${secs}s from power-on to power-off)"
    exit 0
fi
echo "VERDICT: FAIL ($device, qemu exit status $rc)"
exit 1
