#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bisectability: apply the patches of patches/ one by one to the base and,
# after each, build incrementally and run the test programs (those that
# were relinked, when the QEMU binary did not change).  The last
# prefix is the full series, which the patched build covers, so it is not
# repeated.  Prefixes already checked with identical patches are reused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mapfile -t list < <(series_patches)
n=${#list[@]}
if [ "$n" -le 1 ]; then
    log "series prefixes: $n patches, the full build is the only prefix"
    exit 0
fi
[ -d "$SRC/.git" ] || "$TOP/scripts/make-worktree.sh"
if [ ! -d "$PREFIX_SRC" ]; then
    git -C "$SRC" worktree prune
    git -C "$SRC" worktree add -q --detach "$PREFIX_SRC" base
fi

# $WORK/prefix.stamp: one line "sha256-of-patch commit" per checked prefix.
stamp=$WORK/prefix.stamp
done_lines=()
[ ! -f "$stamp" ] || mapfile -t done_lines <"$stamp"
start=base
j=0
while [ $j -lt $((n - 1)) ] && [ $j -lt ${#done_lines[@]} ]; do
    sum=$(sha256sum <"$PATCHES/${list[$j]}" | cut -d' ' -f1)
    read -r done_sum done_commit <<<"${done_lines[$j]}"
    [ "$sum" = "$done_sum" ] || break
    start=$done_commit
    j=$((j + 1))
done
if [ $j = $((n - 1)) ]; then
    log "series prefixes: 1..$j of $n already checked with these exact patches"
    exit 0
fi

log "series prefixes: checking $((j + 1))..$((n - 1)) of $n (earlier ones unchanged)"
printf '%s\n' "${done_lines[@]:0:$j}" | sed '/^$/d' >"$stamp"
git -C "$PREFIX_SRC" checkout -q -f --detach "$start"
git -C "$PREFIX_SRC" clean -q -f -d
prefix_builds="$(build_field prefix dir) $(build_field prefix-aarch64 dir)"
for build in $prefix_builds; do
    configure_build "$PREFIX_SRC" "$build"
done
for ((k = j; k < n - 1; k++)); do
    p=${list[$k]}
    log "prefix $((k + 1))/$n: $p"
    git -C "$PREFIX_SRC" am -q --keep-cr "$PATCHES/$p" ||
        { git -C "$PREFIX_SRC" am --abort || true; die "$p does not apply on top of the patches before it"; }
    for build in $prefix_builds; do
        build_targets "$build" "prefix $((k + 1))/$n $(build_arch "$build")"
        # With the QEMU binary unchanged only the relinked test programs can
        # give other results than for the prefix before (which passed).
        only=
        if [ $k -gt $j ] && ! grep -q "Linking target qemu-system-" "$build/ninja.out"; then
            only=$(sed -n 's/.*Linking target \(tests\/[a-z]*\/[^ ]*\)$/\1/p' "$build/ninja.out" | tr '\n' ' ')
            log "prefix $((k + 1))/$n $(build_arch "$build"): QEMU unchanged, running only the relinked test programs: ${only:-none}"
            [ -n "$only" ] || continue
        fi
        QPQC_QTESTS=$only "$TOP/scripts/run-qtests.sh" "$build" >"$build/prefix-$((k + 1)).results" ||
            { grep '^FAIL' "$build/prefix-$((k + 1)).results" >&2;
              die "tests fail with the series applied up to $p ($(build_arch "$build"))"; }
    done
    printf '%s %s\n' "$(sha256sum <"$PATCHES/$p" | cut -d' ' -f1)" \
        "$(git -C "$PREFIX_SRC" rev-parse HEAD)" >>"$stamp"
done
log "series prefixes: every prefix builds and passes its tests"
