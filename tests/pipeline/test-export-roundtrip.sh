#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The export is deterministic and lossless: exporting a branch twice gives
# the same bytes, and applying an export with "git am" onto the base and
# exporting again gives the same bytes.  Checked on patches/ and on a
# throwaway two-patch series (so that it means something while the series
# is still empty).
. "$(dirname "$0")/../lib/common.sh"

[ -d "$SRC/.git" ] || fail "no working tree: run 'make worktree'"
wt=$TEST_TMP/wt
git -C "$SRC" worktree add -q --detach "$wt" base
trap 'git -C "$SRC" worktree remove --force "$wt"; git -C "$SRC" branch -q -D qpqc-roundtrip-a qpqc-roundtrip-s qpqc-roundtrip-b 2>/dev/null; _cleanup' EXIT

# 1. patches/ -> git am -> export == patches/
git -C "$wt" checkout -q -b qpqc-roundtrip-a base
mapfile -t list < <(series_patches)
[ ${#list[@]} = 0 ] || git -C "$wt" am -q --keep-cr "${list[@]/#/$PATCHES/}" ||
    fail "patches/ does not apply to the base with git am"
export_to_dir "$TEST_TMP/out1" qpqc-roundtrip-a "$wt"
diff -r "$TEST_TMP/out1" "$PATCHES" || fail "re-export of patches/ differs (above)"
echo "patches/ (${#list[@]} patches) survives git am + export byte for byte"

# 2. a synthetic series on the bare base: edits, a new file, a removal
git -C "$wt" checkout -q -b qpqc-roundtrip-s base
printf 'roundtrip\n' >>"$wt/README.rst"
git -C "$wt" commit -q -a -m "roundtrip: first" -m "Body." -m "Signed-off-by: T <t@example.org>"
printf 'new\n' >"$wt/roundtrip.txt"
git -C "$wt" rm -q VERSION
git -C "$wt" add roundtrip.txt
git -C "$wt" commit -q -m "roundtrip: second" -m "Signed-off-by: T <t@example.org>"
export_to_dir "$TEST_TMP/s1" qpqc-roundtrip-s "$wt"
export_to_dir "$TEST_TMP/s2" qpqc-roundtrip-s "$wt"
diff -r "$TEST_TMP/s1" "$TEST_TMP/s2" || fail "two exports of one branch differ"
git -C "$wt" checkout -q -b qpqc-roundtrip-b base
# A different committer and date must not change the export.
(cd "$TEST_TMP/s1" && GIT_COMMITTER_DATE="2030-01-01T00:00:00Z" \
    git -C "$wt" -c user.name=Other -c user.email=o@example.org am -q --keep-cr \
    $(sed "s|^|$TEST_TMP/s1/|" series)) || fail "git am of the synthetic export failed"
export_to_dir "$TEST_TMP/s3" qpqc-roundtrip-b "$wt"
diff -r "$TEST_TMP/s1" "$TEST_TMP/s3" || fail "export -> git am -> export changed the files"
[ "$(wc -l <"$TEST_TMP/s1/series")" = 2 ] || fail "the synthetic export does not have 2 patches"
echo "synthetic 2-patch series: export is repeatable and survives git am"
