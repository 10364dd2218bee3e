#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the post-quantum TPM used by the tests: wolfSSL 5.9.2 (static, with
# ML-DSA) and wolfTPM 4.1.0's fwtpm_server, from the checksummed upstream
# tarballs in the vendor directory, outside QEMU's tree, once per machine.
#
# The result lives in a per-user cache keyed on the tarballs' sha256 (and
# on the build recipe below), so a fresh clone on the same machine finds it:
#   ${QPQC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-pqc}/fwtpm-<key>/bin/fwtpm_server
# It is built in a temporary directory beside it and renamed into place only
# on success: an interrupted build never looks finished.
#
#   build-pqc-tpm.sh     prints the path of fwtpm_server on stdout (logs on
#                        stderr); returns at once when it is already built.
# Exit status: 0 built or cached; 2 the vendor directory or one of its files
# is missing (a line "MISSING: no FILE: ..." on stderr says which); 1 any
# other failure (checksum mismatch, build error).
# QPQC_VENDOR overrides the vendor directory (default ../shared/vendor
# beside the checkout), QPQC_CACHE the cache directory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WOLFSSL_TAR=wolfssl_5.9.2.orig.tar.gz
WOLFTPM_TAR=wolftpm-4.1.0.tar.gz
# The configure flags measured in the vendor README.  Part of the cache key:
# changing them builds anew.
WOLFSSL_FLAGS="--enable-static --disable-shared --enable-wolftpm
    --enable-pkcallbacks --enable-keygen --enable-mldsa --enable-mlkem
    --enable-harden --disable-examples --disable-crypttests --disable-benchmark"
WOLFTPM_FLAGS="--enable-fwtpm-only --enable-swtpm --enable-v185 --disable-shared"
WOLFTPM_LIBS="-lm -lpthread"

vendor=${QPQC_VENDOR:-$TOP/../shared/vendor}
cache=${QPQC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qemu-pqc}

# The vendor path as a user reads it: relative to the checkout for the
# default, as given otherwise.
if [ -z "${QPQC_VENDOR:-}" ]; then
    shown=../shared/vendor
else
    shown=$vendor
fi
missing() {
    printf 'MISSING: no %s: the PQC TPM cannot be built\n' "$1" >&2
    exit 2
}
[ -d "$vendor" ] || missing "$shown"
for f in SHA256SUMS "$WOLFSSL_TAR" "$WOLFTPM_TAR"; do
    [ -f "$vendor/$f" ] || missing "$shown/$f"
done
for f in "$WOLFSSL_TAR" "$WOLFTPM_TAR"; do
    grep -qE "^[0-9a-f]{64}  $f\$" "$vendor/SHA256SUMS" ||
        die "$shown/SHA256SUMS has no checksum for $f"
done

# Verify before anything is unpacked (about 0.1 s for both tarballs).
sums=$(grep -E "  ($WOLFSSL_TAR|$WOLFTPM_TAR)\$" "$vendor/SHA256SUMS")
(cd "$vendor" && sha256sum --quiet --strict -c - <<<"$sums" >&2) ||
    die "checksum mismatch in $shown (see above): refusing to build"

key=$(printf '%s\n%s\n%s\n%s\n' "$sums" "$WOLFSSL_FLAGS" "$WOLFTPM_FLAGS" "$WOLFTPM_LIBS" |
    sha256sum | cut -c1-16)
final=$cache/fwtpm-$key
server=$final/bin/fwtpm_server
if [ -x "$server" ]; then
    echo "$server"
    exit 0
fi

for c in gcc make autoconf automake libtoolize tar; do need_cmd "$c"; done
mkdir -p "$cache"
# One build per key at a time; a second caller waits and then finds it.
exec 9>"$cache/.fwtpm-$key.lock"
if ! flock -n 9; then
    log "another build of fwtpm-$key is running; waiting for it"
    flock 9
fi
if [ -x "$server" ]; then
    echo "$server"
    exit 0
fi
# Under the lock, any temporary directory of this key is left over from an
# interrupted build.
rm -rf "$cache/.tmp-fwtpm-$key".*
tmp=$(mktemp -d "$cache/.tmp-fwtpm-$key.XXXXXX")
buildlog=$cache/fwtpm-$key.build.log
: >"$buildlog"

# Each step runs in a session of its own, so that an interrupt (Ctrl-C,
# SIGTERM) stops the whole step before the temporary tree is removed.
child=
on_signal() {
    [ -z "$child" ] || kill -TERM -- "-$child" 2>/dev/null || true
    [ -z "$child" ] || wait "$child" 2>/dev/null || true
    log "interrupted: nothing installed in $final"
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'rm -rf "$tmp"' EXIT

# Run "$@" in directory $2 with its output in the build log and a progress
# line every 30 s.
step() {
    local what=$1 dir=$2 rc=0 start=$SECONDS next=$((SECONDS + 30))
    shift 2
    printf '\n### %s: %s\n' "$what" "$*" >>"$buildlog"
    (cd "$dir" && exec setsid "$@") >>"$buildlog" 2>&1 &
    child=$!
    while kill -0 "$child" 2>/dev/null; do
        sleep 1
        [ $SECONDS -ge $next ] || continue
        next=$((next + 30))
        log "  ... $what, $((SECONDS - start))s"
    done
    wait "$child" || rc=$?
    child=
    if [ $rc != 0 ]; then
        tail -n 30 "$buildlog" >&2
        die "$what failed (exit $rc; log: $buildlog)"
    fi
}

t0=$SECONDS
jobs=$(build_jobs)
log "building the PQC TPM (wolfSSL 5.9.2 + wolfTPM 4.1.0 fwtpm_server, 1-2 minutes on 2 cores) in $final"
mkdir -p "$tmp/src" "$tmp/wolfssl" "$tmp/out/bin"
tar -xzf "$vendor/$WOLFSSL_TAR" -C "$tmp/src"
tar -xzf "$vendor/$WOLFTPM_TAR" -C "$tmp/src"
ssl=$(echo "$tmp"/src/wolfssl-*/)
tpm=$(echo "$tmp"/src/wolftpm-*/)
if [ ! -f "$ssl/autogen.sh" ] || [ ! -f "$tpm/autogen.sh" ]; then
    die "unexpected tarball layout under $tmp/src"
fi

log "wolfSSL: autogen, configure, make install (static, ML-DSA)"
step "wolfSSL autogen" "$ssl" ./autogen.sh
# shellcheck disable=SC2086
step "wolfSSL configure" "$ssl" ./configure --prefix="$tmp/wolfssl" $WOLFSSL_FLAGS
step "wolfSSL build" "$ssl" make -j "$jobs" install
log "wolfSSL: done after $((SECONDS - t0))s"

log "wolfTPM: autogen, configure, make (fwtpm_server only)"
step "wolfTPM autogen" "$tpm" ./autogen.sh
# shellcheck disable=SC2086
step "wolfTPM configure" "$tpm" ./configure --with-wolfcrypt="$tmp/wolfssl" $WOLFTPM_FLAGS LIBS="$WOLFTPM_LIBS"
step "wolfTPM build" "$tpm" make -j "$jobs"
[ -x "$tpm/src/fwtpm/fwtpm_server" ] || die "wolfTPM built no src/fwtpm/fwtpm_server (log: $buildlog)"

# libtool may leave a wrapper script; take the real binary.
bin=$tpm/src/fwtpm/fwtpm_server
[ ! -x "$tpm/src/fwtpm/.libs/fwtpm_server" ] || bin=$tpm/src/fwtpm/.libs/fwtpm_server
cp "$bin" "$tmp/out/bin/fwtpm_server"
cp "$buildlog" "$tmp/out/build.log"
{
    echo "fwtpm_server of wolfTPM 4.1.0 on wolfSSL 5.9.2, built $(date -u +%FT%TZ) in $((SECONDS - t0))s"
    echo "$sums"
    # shellcheck disable=SC2086
    echo "wolfSSL configure:" $WOLFSSL_FLAGS
    echo "wolfTPM configure: $WOLFTPM_FLAGS LIBS=\"$WOLFTPM_LIBS\""
} >"$tmp/out/BUILD-INFO"
version=$("$tmp/out/bin/fwtpm_server" --version 2>&1) ||
    die "the new fwtpm_server does not run: $version"
echo "$version" >>"$tmp/out/BUILD-INFO"
# The atomic step: a rename on the same file system (under the lock, a
# directory already there has no fwtpm_server: it is not a finished build).
rm -rf "$final"
mv -T "$tmp/out" "$final"
log "PQC TPM built in $((SECONDS - t0))s: $server"
echo "$server"
