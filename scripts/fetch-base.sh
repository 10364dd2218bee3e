#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Download Debian 13's qemu source package at the pinned version and unpack
# it with Debian's patches applied into $PRISTINE/qemu.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pin=$(base_version)
if [ -f "$PRISTINE/.version" ] && [ -d "$PRISTINE/qemu" ]; then
    got=$(cat "$PRISTINE/.version")
    [ "$got" = "$pin" ] || warn "unpacked base is $got, not the pinned $pin (the pinned version was not served when it was fetched)"
    log "base: qemu $got already unpacked in $PRISTINE/qemu"
    exit 0
fi
need_cmd apt-get
need_cmd dpkg-source

version=$(apt-cache showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | pick_base_version "$pin")
[ -n "$version" ] || die "apt serves no qemu 10.0.x source: run 'make deps' (it adds trixie deb-src)"
[ "$version" = "$pin" ] ||
    warn "pinned base qemu $pin is no longer served; using the newest trixie 10.0.x, $version"

mkdir -p "$DOWNLOAD/qemu-src"
cd "$DOWNLOAD/qemu-src"
noepoch=${version#*:}
if [ ! -f "qemu_$noepoch.dsc" ]; then
    log "downloading source package qemu $version (about 40 MB)"
    # apt checks every file against the hashes in the signed Sources index.
    apt-get source -q --download-only "qemu=$version" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2
fi
log "apt verified the downloads against the signed trixie Sources index"

log "unpacking with Debian's patches applied (dpkg-source -x, checks the .dsc hashes)"
rm -rf "$PRISTINE"
mkdir -p "$PRISTINE"
dpkg-source -x "qemu_$noepoch.dsc" "$PRISTINE/qemu.tmp" 2>&1 >/dev/null |
    grep -v -e "cannot verify inline signature" -e "no OpenPGP backend" -e "^gpgv:" -e "^$" >&2 || true
mv "$PRISTINE/qemu.tmp" "$PRISTINE/qemu"
echo "$version" >"$PRISTINE/.version"
log "base: qemu $version unpacked in $PRISTINE/qemu"
