#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The lint step can fail: checkpatch.pl accepts a clean patch and rejects
# one with a style error and one without Signed-off-by.
. "$(dirname "$0")/../lib/common.sh"

make_patch() { # FILE SIGNOFF LINE
    cat >"$1" <<X
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Test Author <test@example.org>
Date: Sat, 1 Jan 2000 00:00:00 +0000
Subject: [PATCH] hw/tpm: lint test

A body that says why.
$2
---
 hw/tpm/tpm_util.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/hw/tpm/tpm_util.c b/hw/tpm/tpm_util.c
--- a/hw/tpm/tpm_util.c
+++ b/hw/tpm/tpm_util.c
@@ -1,3 +1,4 @@
$3
 /*
  * TPM utility functions
  *
X
}
sob="Signed-off-by: Test Author <test@example.org>"
make_patch "$TEST_TMP/good.patch" "$sob" "+/* lint test */"
make_patch "$TEST_TMP/style.patch" "$sob" "+int lint_test(void) { return 1;  }   "
make_patch "$TEST_TMP/nosob.patch" "" "+/* lint test */"

"$TOP/scripts/lint.sh" "$TEST_TMP/good.patch" || fail "lint rejected a clean patch"
for bad in style nosob; do
    if "$TOP/scripts/lint.sh" "$TEST_TMP/$bad.patch"; then
        fail "lint accepted $bad.patch"
    fi
    echo "ok: $bad.patch rejected"
done
