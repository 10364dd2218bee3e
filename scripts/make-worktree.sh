#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Make $SRC a git repository of the base (tag "base") with the series applied
# as commits on branch "series", the tree you edit.  Run again, it keeps your
# tree when it already matches patches/ or holds work not yet exported, and
# re-applies the series when patches/ changed under an untouched tree.
# FORCE=1 discards unexported work and re-applies patches/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_cmd git
[ -d "$PRISTINE/qemu" ] || die "base not fetched: run 'make fetch'"

apply_series() {
    log "applying the series (${#list[@]} patches) to branch 'series'"
    src_git checkout -q -f -B series base
    src_git clean -q -f -d
    [ ${#list[@]} = 0 ] ||
        (cd "$PATCHES" && src_git am -q --keep-cr "${list[@]/#/$PATCHES/}") ||
        { src_git am --abort || true; die "a patch of the series does not apply to the base (see above)"; }
    record_sync
}

mapfile -t list < <(series_patches)
for p in "${list[@]}"; do
    [ -f "$PATCHES/$p" ] || die "patches/series names $p, which does not exist"
done

if [ ! -d "$SRC/.git" ]; then
    log "creating the working tree $SRC from qemu $(fetched_version)"
    rm -rf "$SRC.tmp"
    cp -a "$PRISTINE/qemu" "$SRC.tmp"
    rm -rf "$SRC.tmp/.pc"
    git -C "$SRC.tmp" init -q -b series
    git -C "$SRC.tmp" config user.name >/dev/null ||
        git -C "$SRC.tmp" config user.name "qemu-pqc harness"
    git -C "$SRC.tmp" config user.email >/dev/null ||
        git -C "$SRC.tmp" config user.email "harness@localhost"
    # -f: QEMU's .gitignore hides subprojects the +ds tarball ships.
    git -C "$SRC.tmp" add -A -f
    GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
        git -C "$SRC.tmp" commit -q --no-verify \
        -m "Debian qemu $(fetched_version) source package, Debian patches applied"
    git -C "$SRC.tmp" tag base
    mv "$SRC.tmp" "$SRC"
    apply_series
    exit 0
fi

if series_matches_branch; then
    [ -z "$(src_git status --porcelain --untracked-files=no)" ] ||
        warn "$SRC has uncommitted changes: they are built and tested, but they are not in patches/"
    record_sync
    log "working tree: branch 'series' matches patches/ (${#list[@]} patches)"
    exit 0
fi

read -r synced_tip synced_hash synced_from <"$WORK/src.synced" 2>/dev/null || true
# Another checkout that shares $WORK (QPQC_WORK) has other patches/: applying
# them would throw away the series that the first one exported.
[ "${FORCE:-0}" = 1 ] || [ "${synced_from:-$PATCHES}" = "$PATCHES" ] ||
    die "$SRC was last synced with $synced_from, not $PATCHES: use one checkout per QPQC_WORK, or FORCE=1 to apply these patches"
untouched=0
[ "$(git -C "$SRC" rev-parse HEAD)" = "${synced_tip:-}" ] &&
    [ -z "$(src_git status --porcelain --untracked-files=no)" ] && untouched=1

if [ "${FORCE:-0}" = 1 ] || { [ $untouched = 1 ] && [ "$(patches_hash)" != "${synced_hash:-}" ]; }; then
    apply_series
elif [ "$(patches_hash)" = "${synced_hash:-}" ]; then
    warn "$SRC holds work that is not in patches/ yet: building and testing it; run 'make export' to keep it"
else
    die "patches/ changed and $SRC holds work that is not in patches/: run 'make export' to keep that work, or 'make worktree FORCE=1' to discard it"
fi
