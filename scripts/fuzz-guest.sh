#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run libFuzzer's generic-fuzz targets of the TPM interfaces (the series'
# tests/qtest/fuzz configs: tpm-crb-chunk, tpm-crb-chunk64, tpm-tis-ext)
# on the fuzz build, from the seed corpus of tests/fuzz/tpm-fuzz-seeds.py
# and the corpus that earlier runs kept.  Prints, per target, the
# executions, libFuzzer's coverage, the crashes and hangs, and the lines
# of hw/tpm/*.c that the run covered (clang's profile of the fuzz build);
# each crash or hang of this run is kept with the qtest trace that replays
# it (tests/fuzz/replay-qtest-trace.py), and fails the run.
#   fuzz-guest.sh [SECONDS_PER_TARGET [TARGET...]]      (default 300, all)
# HANG_SECONDS (default 60): an input that runs longer is a hang.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seconds=${1:-300}
shift || true
targets=${*:-tpm-crb-chunk tpm-crb-chunk64 tpm-tis-ext}
need_cmd clang
need_cmd llvm-profdata
need_cmd llvm-cov
"$TOP/scripts/build.sh" fuzz
fuzzer=$(build_field fuzz dir)/qemu-fuzz-x86_64
dir=$WORK/fuzz/guest
rm -rf "$dir/seeds" "$dir/profile"
mkdir -p "$dir/profile"
"$TOP/tests/fuzz/tpm-fuzz-seeds.py" "$dir/seeds"

# "EXECUTIONS COV CRASHES TIMEOUTS" from the last status line of a fork run
fork_stats() {
    sed -n 's/^#\([0-9]*\): cov: \([0-9]*\) .*oom\/timeout\/crash: [0-9]*\/\([0-9]*\)\/\([0-9]*\).*/\1 \2 \4 \3/p' "$1" | tail -n1
}

# libFuzzer's -timeout never fires in QEMU (its main loop takes SIGALRM),
# and generic-fuzz has no timer of its own.  But -fork runs its workers
# (and the merge of the corpus) through sh, and each stops after the last
# -max_total_time it was given (at most 300s for a worker) and the input
# it is running: one that lives HANG_SECONDS longer is stuck in an input.
# It gets SIGSEGV, so ASan prints where it was and libFuzzer keeps the
# input as a crash.
hang_seconds=${HANG_SECONDS:-60}
watch_hangs() {
    local pid ppid age limit
    while sleep 5; do
        for pid in $(pgrep -f -- "^$fuzzer "); do
            read -r ppid age < <(ps -o ppid=,etimes= -p "$pid") || continue
            [ "$(ps -o comm= -p "$ppid")" = sh ] || continue
            limit=$(tr '\0' '\n' <"/proc/$pid/cmdline" |
                    sed -n 's/^-max_total_time=//p' | tail -n1) &&
                [ -n "$limit" ] || continue
            [ "$age" -gt $((limit + hang_seconds)) ] || continue
            kill -SEGV "$pid" 2>/dev/null &&
                echo "worker $pid still ran after ${age}s, past its ${limit}s"
        done
    done
}

rc=0
for t in $targets; do
    corpus=$dir/corpus/$t crashes=$dir/crashes/$t
    mkdir -p "$corpus" "$crashes"
    log "generic-fuzz-$t: ${seconds}s on $(build_jobs) workers (log: ${dir#"$TOP"/}/$t.log)"
    started=$dir/$t.started hangs=$dir/$t.hangs
    touch "$started"
    watch_hangs >"$hangs" &
    watcher=$!
    # %2m: the workers merge their profiles into two files as they exit.
    # No leak check: QEMU keeps what it allocates from input to input, and
    # LeakSanitizer's scan after each input took 95% of the time.
    LLVM_PROFILE_FILE="$dir/profile/$t-%2m.profraw" \
        "$fuzzer" --fuzz-target="generic-fuzz-$t" -fork="$(build_jobs)" \
        -ignore_crashes=1 -ignore_timeouts=1 -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 \
        -max_len=40000 -max_total_time="$seconds" -artifact_prefix="$crashes/" \
        "$corpus" "$dir/seeds/$t" >"$dir/$t.log" 2>&1 || true
    kill "$watcher"
    wait "$watcher" || true
    read -r execs cov _ _ < <(fork_stats "$dir/$t.log") ||
        { tail -n 20 "$dir/$t.log" >&2; die "generic-fuzz-$t did not run"; }
    # generic-fuzz's workers survive the inputs they run, so libFuzzer's
    # own crash count stays 0: count what they left in $crashes
    found=$(find "$crashes" -name 'crash-*' ! -name '*.*' -newer "$started" | sort)
    echo "generic-fuzz-$t: $execs executions, cov $cov (libFuzzer's edges of hw/), $(echo -n "$found" | grep -c ^) crashes, of which $(wc -l <"$hangs") hangs, corpus $(ls "$corpus" | wc -l) inputs"
    for c in $found; do
        rc=1
        # (a hang hangs here too: the trace up to it is what it wrote)
        LLVM_PROFILE_FILE=$dir/replay.profraw QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 \
            timeout -s KILL 120 "$fuzzer" \
                --fuzz-target="generic-fuzz-$t" -runs=1 "$c" 2>"$c.trace" >/dev/null || true
        "$SYS_PYTHON" "$SRC/scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py" "$c.trace" >"$c.qtest"
        echo "  finding ${c#"$TOP"/}: replay with tests/fuzz/replay-qtest-trace.py $t $c.qtest"
    done
done

log "coverage of hw/tpm/*.c by these runs"
llvm-profdata merge -sparse "$dir"/profile/*.profraw -o "$dir/fuzz.profdata"
llvm-cov export -summary-only -instr-profile="$dir/fuzz.profdata" "$fuzzer" \
    >"$dir/coverage.json"
"$TOP/tests/fuzz/tpm-coverage.py" "$dir/coverage.json"
exit $rc
