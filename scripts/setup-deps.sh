#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install everything the pipeline needs, from Debian's registry only.
# Idempotent: when every package is present and the apt sources are in place
# it changes nothing and returns at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BUILD_PKGS="gcc libc6-dev make pkg-config ninja-build flex bison git perl
    libglib2.0-dev libfdt-dev python3 python3-venv dpkg-dev xz-utils
    ca-certificates ccache autoconf automake libtool"  # last three: build-pqc-tpm.sh
# libFuzzer and the profile tools of make fuzz (scripts/fuzz-guest.sh)
BUILD_PKGS="$BUILD_PKGS clang llvm libclang-rt-dev"
# tpm2-tools brings the cmd TCTI that the guest driver tpm-chunk serves:
# libtss2-tctildr0 depends on libtss2-tcti-cmd0 (...t64 on Debian 13).
RUN_PKGS="swtpm swtpm-tools tpm2-tools seabios qemu-system-data ipxe-qemu
    busybox-static cpio gzip procps socat debootstrap"
# meson >= 1.5 and pycotap: bookworm-backports on Debian 12, main on 13.
NEW_PKGS="meson python3-pycotap"

[ "$(id -u)" = 0 ] || { command -v sudo >/dev/null || die "run as root (or install sudo)"; exec sudo -E "$0" "$@"; }
[ -r /etc/os-release ] || die "not a Debian system (no /etc/os-release)"
. /etc/os-release
[ "${ID:-}" = debian ] || die "this harness supports Debian 12 and 13, found ${ID:-unknown}"
codename=${VERSION_CODENAME:?}
case "$codename" in
bookworm|trixie) ;;
*) warn "untested Debian release '$codename'; continuing as for trixie" ;;
esac

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
sources_changed=0

# Write an apt source file if its content differs; remember to update.
put_source() {
    local file=/etc/apt/sources.list.d/$1 content=$2
    if [ ! -f "$file" ] || [ "$(cat "$file")" != "$content" ]; then
        log "apt source: $file"
        printf '%s\n' "$content" >"$file"
        sources_changed=1
    fi
}

mirror=$(mirror_for_suite "$codename" | head -n1)
[ -n "$mirror" ] || die "cannot find the Debian mirror for '$codename' in /etc/apt; add one (deb ... $codename main) and retry"
security=$(mirror_for_suite "$codename-security" | head -n1)

# deb-src for trixie: the base is Debian 13's qemu source package.
suites="trixie trixie-updates"
content="Types: deb-src
URIs: $mirror
Suites: $suites
Components: main
Signed-By: $keyring"
if [ -n "$security" ]; then
    content="$content

Types: deb-src
URIs: $security
Suites: trixie-security
Components: main
Signed-By: $keyring"
fi
put_source qemu-pqc-trixie-src.sources "$content"

new_target=
if [ "$codename" = bookworm ]; then
    put_source qemu-pqc-bookworm-backports.sources "Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: $keyring"
    new_target="-t bookworm-backports"
fi

missing=()
for p in $BUILD_PKGS $RUN_PKGS $NEW_PKGS; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing+=("$p")
done
if [ "$codename" = bookworm ] && dpkg --compare-versions \
    "$(dpkg-query -W -f '${Version}' meson 2>/dev/null || echo 0)" lt 1.5; then
    missing+=(meson)
fi

if [ "$sources_changed" = 0 ] && [ ${#missing[@]} = 0 ]; then
    log "dependencies: all present, nothing to do"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update (sources: $mirror${security:+, $security})"
apt-get update -q -o APT::Update::Error-Mode=any >/dev/null ||
    die "apt-get update failed: check network access to $mirror"
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    # shellcheck disable=SC2086
    apt-get install -q -y --no-install-recommends $BUILD_PKGS $RUN_PKGS
    # shellcheck disable=SC2086
    apt-get install -q -y --no-install-recommends $new_target $NEW_PKGS
fi
log "dependencies: done"
