#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test case of the qtests that the series adds for new behaviour (CRB
# chunking, the 8192-byte TIS buffer, ML-DSA-87 through both) tells the
# feature from its absence, for the reason it tests:
#  - on the patched build with the features switched off (cap-chunk and
#    x-allow-ext-buffer rewritten to "off" on QEMU's command line) it must
#    fail, after QEMU started;
#  - on the unpatched build it must fail too, where QEMU starts there; a
#    case whose command line the base refuses (an unknown property) is
#    not counted as a check of the base.
# Contrast cases, which check behaviour without the features (paths with
# "/unchunked/" or "/unchanged/", names ending in "-no-chunking" or
# "-no-ext-buffer"), must pass wherever QEMU starts; cases of the
# series' other fixes pass with the features off and fail on the base.  A case that skips
# (no TPM with ML-DSA) fails this test: it would check nothing.
. "$(dirname "$0")/../lib/common.sh"

need_qemu "$QEMU"
need_qemu "$BASE_QEMU"
BUILD=$QPQC_BUILD_PATCHED
# (qtest takes the target from the binary's name)
off=$TEST_TMP/features-off/qemu-system-x86_64
mkdir -p "$(dirname "$off")"
cat >"$off" <<WRAP
#!/bin/sh
# $QEMU with the series' features switched off
for a; do
    shift
    set -- "\$@" "\$(echo "\$a" | sed -e 's/cap-chunk=on/cap-chunk=off/g' \\
        -e 's/x-allow-ext-buffer=on/x-allow-ext-buffer=off/g')"
done
exec "$QEMU" "\$@"
WRAP
chmod +x "$off"

# Does a QEMU command line in qtest output $1 ("# starting QEMU: exec ...")
# set a device property that the unpatched build does not have?
base_lacks_property() {
    local arg dev props prop
    for arg in $(sed -n 's/^# starting QEMU: exec //p' "$1"); do
        case $arg in
        tpm-*.*=*) dev=${arg%%.*} props=${arg#*.} props=${props%%=*} ;;   # -global
        tpm-*,*) dev=${arg%%,*} props=$(tr ',' '\n' <<<"${arg#*,}" | sed 's/=.*//') ;;
        *) continue ;;
        esac
        [ -n "${help[$dev]:-}" ] || help[$dev]=$("$BASE_QEMU" -device "$dev,help" 2>&1)
        for prop in $props; do
            grep -q "^  $prop=" <<<"${help[$dev]}" || return 0
        done
    done
    return 1
}
declare -A help

# Run case $2 of program $1 against QEMU $3: prints pass, fail (an
# assertion of the case failed), refused (QEMU did not accept its command
# line), skip, or broken (the program failed otherwise).
run_case() {
    local prog=$1 path=$2 qemu=$3 rc=0
    # (the braces keep bash's "Aborted" notices out of the log; the
    # private TMPDIR finds the swtpm an aborted case leaves behind)
    mkdir -p "$TEST_TMP/case"
    { (cd "$BUILD" && TMPDIR=$TEST_TMP/case QTEST_QEMU_BINARY=$qemu \
        timeout 120 "./$prog" --tap -p "$path") >"$TEST_TMP/out" 2>&1; } \
        2>/dev/null || rc=$?
    pkill -f -- "$TEST_TMP/case/" || true
    if [ "$qemu" = "$BASE_QEMU" ] && base_lacks_property "$TEST_TMP/out"; then
        echo refused
    elif [ $rc = 0 ] && grep -q '^ok .* # SKIP' "$TEST_TMP/out"; then
        echo skip
    elif [ $rc = 0 ] && grep -q '^ok ' "$TEST_TMP/out"; then
        echo pass
    elif grep -qE '^(not ok |Bail out!)' "$TEST_TMP/out"; then
        echo fail
    else
        echo broken
    fi
}

listed=0 feature=0 contrast=0 other_fix=0 base_checked=0 base_refused=0 bad=0
for prog in $(cd "$BUILD" && ls tests/qtest/tpm-crb-chunk*-test tests/qtest/tpm-tis-ext-test \
    tests/qtest/tpm-pqc-test); do
    for path in $(cd "$BUILD" && QTEST_QEMU_BINARY=$QEMU "./$prog" -l | grep '^/'); do
        listed=$((listed + 1))
        name="$(basename "$prog") $path"
        case "$path" in
        */unchunked/* | */unchanged/* | *-no-chunking | *-no-ext-buffer)
            want_off=pass want_base=pass kind=contrast ;;
        # other fixes of the series, which hold without the features:
        # nextChunk refused with cap-chunk off, a clean failure for a
        # response larger than the buffer, the x-chunk-size window for a
        # command that fits it, the x-allow-chunk-migration switchover, a
        # TIS transfer of exactly 4096 bytes, the STS burst count over an
        # overwritten response
        */refused/cap-chunk-off | */backend-oversize-response/off | \
        */window64/startup | */migrate/switchover | */migrate/switchover/window | \
        */migrate/switchover/unchunked | */tis/padded-4096 | */overwritten-response)
            want_off=pass want_base=fail kind=other_fix ;;
        *) want_off=fail want_base=fail kind=feature ;;
        esac
        for build in features-off unpatched; do
            qemu=$off want=$want_off
            [ $build = features-off ] || qemu=$BASE_QEMU want=$want_base
            got=$(run_case "$prog" "$path" "$qemu")
            if [ $build = unpatched ] && [ "$got" = refused ]; then
                base_refused=$((base_refused + 1))
                continue
            fi
            [ $build = features-off ] || base_checked=$((base_checked + 1))
            if [ "$got" != $want ]; then
                echo "WRONG: $name on the $build build: $got, must $want"
                sed 's/^/    /' "$TEST_TMP/out" | tail -n 20
                bad=$((bad + 1))
            fi
        done
        eval "$kind=\$(($kind + 1))"
    done
done
echo "$listed cases: $feature of new behaviour, failing with the features off;" \
    "$other_fix of other fixes and $contrast contrast cases, passing there;" \
    "$base_checked also checked against the unpatched build ($base_refused not:" \
    "it does not have a property they set)"
[ $bad = 0 ] || fail "$bad checks wrong"
# the counts of the series as of this writing: fewer means lost coverage
[ "$listed" -ge 77 ] && [ "$feature" -ge 65 ] && [ "$base_checked" -ge 6 ] ||
    fail "fewer cases checked than the series has"
