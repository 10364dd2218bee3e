#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A Debian unstable chroot in $WORK/sid with upstream QEMU (>= 11.1) from
# Debian's qemu-system-x86, the peer of the interoperability test.  Made
# once; prints the QEMU version.  Needs root (debootstrap, chroot).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

root=$WORK/sid
if [ -f "$root/.qpqc-qemu-version" ]; then
    log "sid chroot: qemu-system-x86 $(cat "$root/.qpqc-qemu-version")"
    exit 0
fi
[ "$(id -u)" = 0 ] || die "making the sid chroot needs root (debootstrap, chroot)"
need_cmd debootstrap
. /etc/os-release
mirror=$(mirror_for_suite "${VERSION_CODENAME:?}" | head -n1)
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt for $VERSION_CODENAME"

rm -rf "$root.tmp"
log "debootstrap --variant=minbase sid from $mirror (about 30 s)"
debootstrap --variant=minbase sid "$root.tmp" "$mirror" >"$WORK/sid-debootstrap.log" 2>&1 ||
    die "debootstrap failed (log: $WORK/sid-debootstrap.log)"
# The mirror may serve a snapshot of unstable whose Release has expired.
apt_sid=(chroot "$root.tmp" apt-get -q -o Acquire::Check-Valid-Until=false)
log "installing qemu-system-x86 from unstable in the chroot (about 1 minute)"
{ "${apt_sid[@]}" update && DEBIAN_FRONTEND=noninteractive "${apt_sid[@]}" install -y \
    --no-install-recommends qemu-system-x86 seabios ipxe-qemu; } >"$WORK/sid-apt.log" 2>&1 ||
    die "installing qemu-system-x86 in the sid chroot failed (log: $WORK/sid-apt.log)"
version=$(chroot "$root.tmp" dpkg-query -W -f '${Version}' qemu-system-x86)
dpkg --compare-versions "$version" ge 1:11.1 ||
    die "Debian unstable serves qemu-system-x86 $version; the interop test needs >= 11.1"
echo "$version" >"$root.tmp/.qpqc-qemu-version"
mv "$root.tmp" "$root"
log "sid chroot: qemu-system-x86 $version"
