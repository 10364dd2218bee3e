#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/sanitized.sh can fail: a command that passes, but one of whose
# processes makes an AddressSanitizer or an UndefinedBehaviorSanitizer
# report (and aborts), fails with the report in its output; one that makes
# none passes.
. "$(dirname "$0")/../lib/common.sh"

cat >"$TEST_TMP/bad.c" <<'C'
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    char *p = malloc(8);
    int big = 0x7fffffff;

    if (argc > 1 && !strcmp(argv[1], "overflow")) {
        p[8] = 1;
    }
    if (argc > 1 && !strcmp(argv[1], "ubsan")) {
        big += argc;
    }
    free(p);
    return big == 0;
}
C
gcc -fsanitize=address,undefined -g -o "$TEST_TMP/bad" "$TEST_TMP/bad.c" ||
    fail "cannot build a test program with ASan and UBSan"

n=0
check() { # WHAT WANT ARG
    local rc=0 out
    n=$((n + 1))
    out=$("$TOP/scripts/sanitized.sh" sh -c "\"\$0\" \"\$1\" || true" "$TEST_TMP/bad" "$3" 2>&1) || rc=$?
    if [ "$2" = fail ] && [ $rc = 1 ] && grep -q "sanitizer report" <<<"$out" &&
        grep -q "FAIL: sanitizer reports" <<<"$out" &&
        grep -qE "$4" <<<"$out"; then
        echo "ok $n - $1"
    elif [ "$2" = pass ] && [ $rc = 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1: exit status $rc"
        sed 's/^/    /' <<<"$out" | tail -n 20
        bad=1
    fi
}
bad=0
check "a heap overflow fails a passing command, with ASan's report" fail overflow "heap-buffer-overflow"
check "a signed overflow fails a passing command, with UBSan's report" fail ubsan "signed integer overflow"
check "no report, no failure" pass none
[ $bad = 0 ]
