#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# x-chunk-size accepts multiples of 4 from 64 to 3968; any other value
# makes realize fail with an error naming the range (spec section 3).
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"

run_with() { # VALUE -> exit status; output in $TEST_TMP/out
    start_swtpm "tpm-$1"
    rc=0
    timeout 30 "$QEMU" -machine q35 -accel qtest -display none -nodefaults \
        -chardev socket,id=c,path="$SWTPM_SOCK" -tpmdev emulator,id=t,chardev=c \
        -device tpm-crb,tpmdev=t,cap-chunk=on,x-chunk-size="$1" \
        -qmp stdio >"$TEST_TMP/out" 2>&1 <<<'{"execute": "qmp_capabilities"}
{"execute": "quit"}' || rc=$?
    return $rc
}

for v in 0 60 62 66 3970 3972 4096; do
    if run_with "$v"; then
        fail "x-chunk-size=$v was accepted"
    fi
    grep -q "'x-chunk-size' must be a multiple of 4 from 64 to 3968" "$TEST_TMP/out" ||
        fail "x-chunk-size=$v: no error naming the range: $(cat "$TEST_TMP/out")"
    echo "ok: x-chunk-size=$v refused"
done
for v in 64 256 3968; do
    run_with "$v" || fail "x-chunk-size=$v refused: $(cat "$TEST_TMP/out")"
    echo "ok: x-chunk-size=$v accepted"
done
