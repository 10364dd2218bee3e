#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hold the skips of a test run to the checked-in list of expected ones.
#   check-skips.sh RESULTS [EXPECTED]
# RESULTS has lines "STATUS<TAB>name<TAB>reason" (scripts/run-tests.sh);
# EXPECTED (default tests/expected-skips) lines "name-glob<TAB>reason-glob".
# Rewrites RESULTS: a skip that no entry matches becomes a FAIL, and so does
# an entry whose test ran (its name is in RESULTS) without skipping that
# way, so that a repaired environment is noticed and the entry removed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

results=$1
expected=${2:-$TOP/tests/expected-skips}
names=() reasons=() used=()
while IFS=$'\t' read -r n r; do
    case "$n" in ''|'#'*) continue ;; esac
    names+=("$n") reasons+=("$r") used+=(0)
done <"$expected"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
while IFS=$'\t' read -r status name reason; do
    if [ "$status" = SKIP ]; then
        status=FAIL
        for i in "${!names[@]}"; do
            # shellcheck disable=SC2053
            if [[ "$name" == ${names[$i]} && "$reason" == ${reasons[$i]} ]]; then
                status=SKIP used[i]=1
                break
            fi
        done
        [ $status = SKIP ] || reason="unexpected skip (not in ${expected#"$TOP"/}): $reason"
    fi
    printf '%s\t%s\t%s\n' "$status" "$name" "$reason"
done <"$results" >"$out"
for i in "${!names[@]}"; do
    [ "${used[$i]}" = 0 ] || continue
    cut -f2 "$results" | while IFS= read -r name; do
        # shellcheck disable=SC2053
        [[ "$name" == ${names[$i]} ]] && { echo x; break; }
    done | grep -q x || continue
    printf 'FAIL\t%s\t%s\n' "${names[$i]}" \
        "expected skip no longer happens (remove it from ${expected#"$TOP"/}): ${reasons[$i]}" >>"$out"
done
cp "$out" "$results"
