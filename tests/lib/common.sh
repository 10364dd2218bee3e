# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers for the shell tests under tests/: sourced, not run.  A test exits
# 0 to pass, 77 to skip (after "SKIP: <reason>" on stdout), anything else to
# fail.  Every process a test starts is stopped when it exits.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"

build_env
QEMU=${QEMU:-$QPQC_QEMU_PATCHED}
BASE_QEMU=${BASE_QEMU:-$QPQC_QEMU_UNPATCHED}
# Under /tmp whatever TMPDIR says: unix sockets go here, and their paths
# must stay short (108 bytes) even for a checkout or TMPDIR deep down.
TEST_TMP=$(mktemp -d /tmp/qpqc-test.XXXXXX)
_cleanup_pids=()

_cleanup() {
    local pid
    for pid in "${_cleanup_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${_cleanup_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TEST_TMP"
}
trap _cleanup EXIT

skip() {
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL: $*"
    exit 1
}

# Wait up to $2 seconds (default 10) for command $1 to succeed.
wait_for() {
    local cond=$1 limit=${2:-10} i
    for ((i = 0; i < limit * 10; i++)); do
        eval "$cond" && return 0
        sleep 0.1
    done
    return 1
}

# Start swtpm for a TPM 2.0 with fresh state in $TEST_TMP/$1; sets SWTPM_SOCK
# to the control socket QEMU's emulator backend connects to.
start_swtpm() {
    local name=$1 dir=$TEST_TMP/$1
    command -v swtpm >/dev/null || skip "no swtpm on PATH (run 'make deps')"
    mkdir -p "$dir"
    SWTPM_SOCK=$dir/ctrl.sock
    swtpm socket --tpm2 --tpmstate dir="$dir" \
        --ctrl type=unixio,path="$SWTPM_SOCK" \
        --log file="$dir/swtpm.log" >"$dir/swtpm.out" 2>&1 &
    _cleanup_pids+=($!)
    wait_for "[ -S '$SWTPM_SOCK' ]" 10 || fail "swtpm did not create $SWTPM_SOCK (see $dir/swtpm.out)"
}

# -accel for this host: KVM only when the CPU really has vmx/svm (the
# nested /dev/kvm some machines offer without them cannot run a guest).
accel() {
    if [ -w /dev/kvm ] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
        echo kvm
    else
        echo tcg
    fi
}

need_qemu() {
    [ -x "$1" ] || fail "no $1: run 'make build'"
}
