#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate patches/*.patch and patches/series from branch "series" of the
# working tree.  Deterministic: an unchanged branch changes no file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -d "$SRC/.git" ] || die "no working tree: run 'make worktree'"
[ -z "$(src_git status --porcelain --untracked-files=no)" ] ||
    warn "$SRC has uncommitted changes; only commits on branch 'series' are exported"
[ "$(git -C "$SRC" symbolic-ref -q --short HEAD || true)" = series ] ||
    warn "HEAD of $SRC is not branch 'series'; exporting branch 'series'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export_to_dir "$tmp"

changed=0
for f in "$tmp"/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    if ! cmp -s "$f" "$PATCHES/$name"; then
        cp "$f" "$PATCHES/$name"
        log "wrote patches/$name"
        changed=1
    fi
done
for f in "$PATCHES"/*.patch; do
    [ -e "$f" ] || continue
    [ -e "$tmp/$(basename "$f")" ] || { rm "$f"; log "removed patches/$(basename "$f")"; changed=1; }
done
record_sync
[ $changed = 1 ] || log "patches/ already matches branch 'series' ($(series_patches | wc -l) patches)"
