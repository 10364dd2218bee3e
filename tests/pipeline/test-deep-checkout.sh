#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The tests run from a checkout whose path is 150 characters deep, with
# TMPDIR as deep: no unix socket path may depend on either (the limit is
# 108 bytes).  A copy of the checked-out files is made there; its .work
# links the builds, the guest image and the upstream QEMU chroot of this
# one, so nothing is built.  Runs a migration test, a guest test and,
# when the chroot exists, the interoperability test from the copy.
. "$(dirname "$0")/../lib/common.sh"

deep=$TEST_TMP/deep
while [ ${#deep} -lt 145 ]; do
    deep=$deep/$(printf 'd%.0s' {1..30})
done
top=$deep/main
mkdir -p "$top/.work" "$deep/tmp"
[ ${#top} -ge 150 ] || fail "checkout path ${#top} characters long"
echo "checkout: $top (${#top} characters)"
(cd "$TOP" && git ls-files -z | tar --null -T - -cf -) | tar -C "$top" -xf -
ln -s "$(realpath "$TOP/../shared")" "$deep/shared" 2>/dev/null || true
for d in build build-aarch64 base guest src pristine sid; do
    [ ! -e "$WORK/$d" ] || ln -s "$WORK/$d" "$top/.work/$d"
done

n=0 bad=0
from_deep() { # WHAT TEST: run TEST of the copy, without this run's build variables
    local what=$1 t=$2 rc=0
    n=$((n + 1))
    env -u QPQC_WORK $(env | sed -n 's/^\(QPQC_\(BUILD\|QEMU\|SRC\)_[A-Z0-9_]*\)=.*/-u \1/p') \
        TMPDIR="$deep/tmp" timeout 600 "$top/$t" >"$TEST_TMP/out.$n" 2>&1 || rc=$?
    sed 's/^/    /' "$TEST_TMP/out.$n"
    if [ $rc = 0 ]; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what, exit status $rc: $(grep -m1 -E 'FAIL|Error|not ok' "$TEST_TMP/out.$n")"
        bad=$((bad + 1))
    fi
}

from_deep "migration across builds from the deep checkout" tests/harness/test-migrate-cross-version.py
from_deep "guest test from the deep checkout" tests/guest/test-guest-tpm-crb.sh
if [ -e "$WORK/sid" ]; then
    from_deep "interoperability test from the deep checkout" tests/interop/test-interop-qemu-11.1.py
else
    n=$((n + 1))
    echo "ok $n - interoperability test from the deep checkout # SKIP no upstream QEMU chroot: ${QPQC_SID_MISSING:-run 'make interop'}"
fi
[ $bad = 0 ]
