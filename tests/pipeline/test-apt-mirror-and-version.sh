#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# setup-deps.sh takes the mirror from the machine's own apt configuration
# (deb822 and one-line formats), and fetch-base.sh falls back to the newest
# trixie 10.0.x only when the pinned version is not served.
. "$(dirname "$0")/../lib/common.sh"

expect() { # WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    echo "ok: $1 -> '$3'"
}

export APT_ETC=$TEST_TMP/apt
mkdir -p "$APT_ETC/sources.list.d"
cat >"$APT_ETC/sources.list.d/debian.sources" <<'X'
Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main

Types: deb deb-src
URIs: http://mirror.example/debian  http://second.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
X
expect "deb822 suite" "$(mirror_for_suite bookworm | head -n1)" http://mirror.example/debian
expect "deb822 security suite" "$(mirror_for_suite bookworm-security | head -n1)" \
    http://mirror.example/debian-security
expect "unknown suite" "$(mirror_for_suite sid | head -n1)" ""

rm "$APT_ETC/sources.list.d/debian.sources"
cat >"$APT_ETC/sources.list" <<'X'
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main
deb http://one.example/security bookworm-security main
X
expect "one-line with options" "$(mirror_for_suite bookworm | head -n1)" http://one.example/debian
expect "one-line security" "$(mirror_for_suite bookworm-security | head -n1)" http://one.example/security

pin=1:10.0.13+ds-0+deb13u1
expect "pin served" "$(printf '1:10.0.12+ds-1\n%s\n1:9.2.1+ds-1\n' "$pin" | pick_base_version "$pin")" "$pin"
expect "pin gone, newest 10.0.x" \
    "$(printf '1:10.0.14+ds-0+deb13u1\n1:10.0.9+ds-1\n1:10.1.0+ds-1\n' | pick_base_version "$pin")" \
    1:10.0.14+ds-0+deb13u1
expect "no 10.0.x served" "$(printf '1:9.2.1+ds-1\n' | pick_base_version "$pin")" ""
