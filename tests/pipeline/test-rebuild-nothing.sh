#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Running the pipeline again without changes rebuilds nothing: the working
# tree step keeps the tree (no file touched) and the build compiles and
# links no file.
. "$(dirname "$0")/../lib/common.sh"

[ -f "$QPQC_BUILD_PATCHED/build.ninja" ] || fail "no patched build: run 'make build'"
"$TOP/scripts/build.sh" patched >"$TEST_TMP/first.log" 2>&1 || fail "build failed: $(tail -n 5 "$TEST_TMP/first.log")"
"$TOP/scripts/build.sh" patched >"$TEST_TMP/second.log" 2>&1 || fail "build failed: $(tail -n 5 "$TEST_TMP/second.log")"
cat "$TEST_TMP/second.log"
for what in patched patched-aarch64; do
    grep -q "build ($what): 0 files compiled or linked" "$TEST_TMP/second.log" ||
        fail "a second $what build without changes did work"
done
for build in "$QPQC_BUILD_PATCHED" "$QPQC_BUILD_PATCHED_AARCH64"; do
    if grep -qE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$build/ninja.out"; then
        fail "ninja compiled or linked in $build: $(grep -E 'Compiling|Linking' "$build/ninja.out" | head -n 5)"
    fi
done
