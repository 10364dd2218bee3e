#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boot the test guest (scripts/fetch-guest.sh) on qemu-system-x86_64 with a
# TPM device backed by a fresh swtpm, let its /init do real TPM 2.0 work
# through the kernel driver, print the transcript and a verdict.
#   run-guest.sh tpm-crb|tpm-tis [extra qemu arguments...]
# QEMU=path selects the binary (default: the patched build); GUEST_APPEND
# adds to the kernel command line.
. "$(dirname "$0")/../lib/common.sh"

device=${1:?usage: run-guest.sh tpm-crb|tpm-tis [qemu args...]}
shift
need_qemu "$QEMU"
[ -f "$GUEST/vmlinuz" ] && [ -f "$GUEST/initrd.gz" ] || fail "no guest image: run 'make guest'"
start_swtpm tpm
acc=$(accel)
serial=$TEST_TMP/serial.log
limit=${GUEST_TIMEOUT:-240}

echo "guest: $(cat "$GUEST/kernel-package"), device $device, accel $acc${*:+, $*}"
echo "swtpm: $(swtpm --version 2>&1 | head -n1)"
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
