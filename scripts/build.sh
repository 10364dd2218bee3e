#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the minimal qemu-system-x86_64 and the test programs of
# tests/upstream-tests.  "build.sh" builds the patched tree, for x86_64 and
# for aarch64 (the Arm-only TIS variants), "build.sh base" the unpatched
# base for x86_64 next to it, "build.sh sanitizers" the patched tree with
# ASan and UBSan, "build.sh fuzz" its libFuzzer qemu-fuzz-x86_64.
# Incremental: an unchanged tree rebuilds nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

which=${1:-patched}
case "$which" in
patched)
    "$TOP/scripts/make-worktree.sh"
    builds="patched patched-aarch64"
    ;;
base)
    [ -d "$SRC/.git" ] || "$TOP/scripts/make-worktree.sh"
    if [ ! -d "$BASE_SRC" ]; then
        git -C "$SRC" worktree prune
        git -C "$SRC" worktree add -q --detach "$BASE_SRC" base
    fi
    # Self-healing: whatever was checked out here, build the base.
    git -C "$BASE_SRC" checkout -q --detach base
    builds=unpatched
    ;;
sanitizers|fuzz)
    "$TOP/scripts/make-worktree.sh"
    builds=$which
    ;;
*) die "usage: build.sh [patched|base|sanitizers|fuzz]" ;;
esac
need_cmd ninja
[ -x "$SYS_PYTHON" ] || die "no $SYS_PYTHON: run 'make deps'"

for b in $builds; do
    configure_build "$(build_field "$b" src)" "$(build_field "$b" dir)"
    build_targets "$(build_field "$b" dir)" "$b"
done
