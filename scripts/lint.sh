#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the base's scripts/checkpatch.pl over every patch of the series (or
# over the patch files given as arguments).  Errors fail; warnings are shown.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -f "$PRISTINE/qemu/scripts/checkpatch.pl" ] || die "base not fetched: run 'make fetch'"
need_cmd perl
if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -t files < <(series_patches | sed "s|^|$PATCHES/|")
fi
if [ ${#files[@]} = 0 ]; then
    log "lint: the series is empty, nothing to check"
    exit 0
fi

bad=0
for f in "${files[@]}"; do
    [ -f "$f" ] || die "no such patch: $f"
    # checkpatch.pl recognises the tree by the current directory.
    if out=$(cd "$PRISTINE/qemu" && perl scripts/checkpatch.pl "$(realpath "$f")" 2>&1); then
        log "lint: ok   $(basename "$f")$(grep -q '^WARNING' <<<"$out" && echo ' (with warnings)')"
        grep -A3 '^WARNING' <<<"$out" | sed 's/^/    /' >&2 || true
    else
        log "lint: FAIL $(basename "$f")"
        sed 's/^/    /' <<<"$out" >&2
        bad=1
    fi
done
exit $bad
