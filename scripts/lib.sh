# SPDX-License-Identifier: GPL-2.0-or-later
# Shared paths and helpers for the scripts in this directory.  Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${QPQC_WORK:-$TOP/.work}         # everything generated: downloads, trees, builds
DOWNLOAD=$WORK/download
PRISTINE=$WORK/pristine               # dpkg-source -x output (read-only reference)
SRC=$WORK/src                         # git tree: tag "base", branch "series" = base + patches
BUILD=$WORK/build                     # patched build of $SRC
# Every build dir sits next to its source tree under the name "src", so
# that the compiler sees the same relative paths in all of them and ccache
# (see ccache_env) reuses what an identical file compiled in another tree.
BASE_SRC=$WORK/base/src               # git worktree of tag "base"
BASE_BUILD=$WORK/base/build           # unpatched build, for comparisons
PREFIX_SRC=$WORK/prefix/src           # git worktree walked through the series prefixes
PREFIX_BUILD=$WORK/prefix/build
# (build_table lists the builds of these trees.)
GUEST=$WORK/guest                     # guest kernel and initramfs
PATCHES=$TOP/patches
BASE_VERSION_FILE=$TOP/base-version
SYS_PYTHON=/usr/bin/python3           # Debian's python: it sees Debian's meson and pycotap
APT_ETC=${APT_ETC:-/etc/apt}

# "==> [time since the script started] message"
log() { printf '==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

need_cmd() {
    command -v "$1" >/dev/null 2>&1 || die "no $1 on PATH: run 'make deps'"
}

# The version the base is pinned to (Debian's epoch:upstream-revision form).
base_version() {
    sed -n '/^[^#]/{p;q}' "$BASE_VERSION_FILE"
}

# The version actually fetched (may differ from the pin, see fetch-base.sh).
fetched_version() {
    cat "$PRISTINE/.version" 2>/dev/null || die "base not fetched: run 'make fetch'"
}

# Patch file names in series order, comments and blank lines skipped.
series_patches() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$PATCHES/series"
}

build_jobs() {
    nproc 2>/dev/null || echo 2
}

# git with the settings that make exports reproducible whatever the
# user's own git configuration says.
repro_git() {
    git -c core.abbrev=12 -c diff.noprefix=false \
        -c diff.mnemonicPrefix=false -c diff.relative=false \
        -c format.numbered=false -c format.signOff=false \
        -c format.coverLetter=false -c format.thread=false "$@"
}

# git in the working tree.
src_git() {
    repro_git -C "$SRC" "$@"
}

# Write the commits base..$2 (default: branch "series") of repository $3
# (default: the working tree) as format-patch files 0001-*.patch ... and a
# file "series" into directory $1.
export_to_dir() {
    local out=$1 branch=${2:-series} repo=${3:-$SRC}
    mkdir -p "$out"
    repro_git -C "$repo" format-patch -q --no-signature --zero-commit \
        --full-index --no-numbered --subject-prefix=PATCH \
        --diff-algorithm=myers --no-renames -o "$out" "base..$branch" >/dev/null
    (cd "$out" && ls -1 ./*.patch 2>/dev/null | sed 's|^\./||' >series) || true
}

# Hash of the committed description of the series (patches/).
patches_hash() {
    (cd "$PATCHES" && cat series $(series_patches)) | sha256sum | cut -d' ' -f1
}

# Does the series in patches/ match branch "series" of the working tree?
series_matches_branch() {
    local tmp rc=0
    tmp=$(mktemp -d)
    export_to_dir "$tmp"
    diff -q "$tmp/series" "$PATCHES/series" >/dev/null || rc=1
    if [ $rc = 0 ]; then
        for p in $(series_patches); do
            cmp -s "$tmp/$p" "$PATCHES/$p" || { rc=1; break; }
        done
    fi
    rm -rf "$tmp"
    return $rc
}

# Remember that the branch tip and patches/ agree (see make-worktree.sh).
record_sync() {
    printf '%s %s %s\n' "$(git -C "$SRC" rev-parse series)" "$(patches_hash)" "$PATCHES" \
        >"$WORK/src.synced"
}

# The minimal build: qemu-system-x86_64 with TPM, KVM and TCG, nothing else.
# The +ds source has no firmware: QEMU finds Debian's seabios,
# qemu-system-data and ipxe-qemu through the firmware path.
CONFIGURE_FLAGS="--target-list=x86_64-softmmu --without-default-features
    --enable-tpm --enable-kvm --enable-tcg --disable-docs
    --disable-install-blobs --disable-relocatable --disable-download
    --firmwarepath=/usr/share/seabios:/usr/share/qemu:/usr/lib/ipxe/qemu
    --python=$SYS_PYTHON"

# The aarch64 build: the virt machine (tpm-tis-device) and an Aspeed BMC
# (tpm-tis-i2c), with the devices listed in scripts/aarch64-tpm.mak.
# configure only takes a device list from the source tree's configs/, so
# the option names ours by a path relative to that directory.
aarch64_flags() {
    local src=$1 rel
    rel=$(realpath -m --relative-to="$src/configs/devices/aarch64-softmmu" "$TOP/scripts/aarch64-tpm.mak")
    echo "--target-list=aarch64-softmmu --without-default-features
    --without-default-devices --with-devices-aarch64=${rel%.mak}
    --enable-tpm --enable-tcg --disable-docs
    --disable-install-blobs --disable-relocatable --disable-download
    --python=$SYS_PYTHON"
}

# The builds, defined here only: name, source tree, build dir, target;
# their configure flags are those of build_flags.  Each patched tree also
# gets an aarch64 build for the TIS variants that only Arm machines have
# (tpm-tis-device, tpm-tis-i2c), and the patched tree a build with
# AddressSanitizer and UndefinedBehaviorSanitizer, and one of libFuzzer's
# qemu-fuzz-x86_64 (clang, ASan, coverage profile); "mutant" is the copy of
# the patched tree that tests/mutation/mutation-test.py breaks on purpose.
# Tests get the binaries and build dirs through the variables of build_env.
build_table() {
    cat <<EOF
patched $SRC $BUILD x86_64
patched-aarch64 $SRC $BUILD-aarch64 aarch64
sanitizers $SRC $BUILD-sanitizers x86_64
fuzz $SRC $BUILD-fuzz x86_64
mutant $WORK/mutant/src $WORK/mutant/build x86_64
unpatched $BASE_SRC $BASE_BUILD x86_64
prefix $PREFIX_SRC $PREFIX_BUILD x86_64
prefix-aarch64 $PREFIX_SRC $PREFIX_BUILD-aarch64 aarch64
EOF
}

# Field $2 (name, src, dir, arch) of the build named or placed at $1.
build_field() {
    local name src dir arch
    while read -r name src dir arch; do
        if [ "$1" = "$name" ] || [ "$(realpath -m "$1")" = "$(realpath -m "$dir")" ]; then
            case $2 in
            name) echo "$name" ;; src) echo "$src" ;; dir) echo "$dir" ;; arch) echo "$arch" ;;
            esac
            return 0
        fi
    done < <(build_table)
    die "no build $1 in build_table"
}

# The target of build dir $1.
build_arch() {
    build_field "$1" arch
}

# The QEMU binary of the build named or placed at $1.
build_qemu() {
    echo "$(build_field "$1" dir)/qemu-system-$(build_field "$1" arch)"
}

# Export what the tests read about the builds: QPQC_BUILD_<NAME> (the build
# dir, where the test programs are), QPQC_QEMU_<NAME> (its binary) and
# QPQC_SRC_<NAME> (its source tree), with NAME upper-cased and "-" as "_",
# e.g. QPQC_QEMU_UNPATCHED.
build_env() {
    local name src dir arch var
    while read -r name src dir arch; do
        var=$(echo "$name" | tr 'a-z-' 'A-Z_')
        export "QPQC_BUILD_$var=$dir" "QPQC_QEMU_$var=$dir/qemu-system-$arch" \
            "QPQC_SRC_$var=$src"
    done < <(build_table)
}

# Compile through ccache (Debian's /usr/lib/ccache wrappers named like the
# compilers, ahead on PATH at configure and at build time).  The cache is
# the user's (~/.cache/ccache), so a second clone on the machine reuses it.
# Paths under $WORK are hashed relative to the build dir and the build dir
# itself is not hashed: the same file with the same flags compiles once
# for the base, the prefix trees and the patched tree.
ccache_env() {
    [ -d /usr/lib/ccache ] || die "no /usr/lib/ccache: run 'make deps' (ccache)"
    case ":$PATH:" in *:/usr/lib/ccache:*) ;; *) export PATH=/usr/lib/ccache:$PATH ;; esac
    export CCACHE_BASEDIR=$WORK CCACHE_NOHASHDIR=1
}

# ccache's counters: "HITS CALLS" (a build logs the difference).
ccache_counts() {
    ccache --print-stats 2>/dev/null | awk '
        $1 ~ /^(direct|preprocessed)_cache_hit$/ { h += $2 }
        $1 ~ /^(direct|preprocessed)_cache_hit$|^cache_miss$/ { c += $2 }
        END { print h + 0, c + 0 }'
}

# Configure build dir $2 for source tree $1, unless it already is, and
# give it the firmware.
# The configure flags of the build named $1 (source tree $2).
build_flags() {
    case $1 in
    *-aarch64) aarch64_flags "$2" ;;
    sanitizers) echo "$CONFIGURE_FLAGS --enable-asan --enable-ubsan" ;;
    # libFuzzer's generic-fuzz; profiled, for the coverage that fuzz.sh reports
    fuzz) echo "$CONFIGURE_FLAGS --cc=clang --cxx=clang++ --enable-fuzzing
    --enable-asan --extra-cflags=-fprofile-instr-generate
    --extra-cflags=-fcoverage-mapping --extra-ldflags=-fprofile-instr-generate" ;;
    *) echo "$CONFIGURE_FLAGS" ;;
    esac
}

configure_build() {
    local src=$1 build=$2 flags
    ccache_env
    flags=$(build_flags "$(build_field "$build" name)" "$src")
    if [ -f "$build/build.ninja" ] && [ "$(cat "$build/.flags" 2>/dev/null)" = "$flags" ]; then
        link_firmware "$build"
        return 0
    fi
    log "configuring ${build#"$TOP"/} (${src#"$TOP"/})"
    mkdir -p "$build"
    # shellcheck disable=SC2086
    (cd "$build" && "$src/configure" $flags >configure.out 2>&1) ||
        { tail -n 30 "$build/configure.out" >&2; die "configure failed (log: $build/configure.out); missing packages? run 'make deps'"; }
    printf '%s' "$flags" >"$build/.flags"
    link_firmware "$build"
}

# Run from its build directory, QEMU looks for the firmware path under
# qemu-bundle/: link Debian's firmware directories there.
link_firmware() {
    local build=$1 d
    for d in /usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu; do
        [ -d "$d" ] || die "no $d: run 'make deps' (seabios, qemu-system-data, ipxe-qemu)"
        mkdir -p "$build/qemu-bundle$(dirname "$d")"
        ln -sfn "$d" "$build/qemu-bundle$d"
    done
}

# The test programs (ninja targets) of build dir $1 that tests/upstream-tests
# may name: in an aarch64 build the qtests only (unit tests run on x86_64).
# Prints "PATTERN<TAB>target" for each match and "PATTERN<TAB>" for a pattern
# of those directories that matches nothing.
match_test_targets() {
    local build=$1 pat dirs='qtest|unit' all t found
    [ "$(build_arch "$build")" = x86_64 ] || dirs=qtest
    all=$(ninja -C "$build" -t targets all | sed -n 's/: .*//p' | grep -E "^tests/($dirs)/[^/.]+\$" | sort -u)
    while read -r pat; do
        case "$pat" in ''|'#'*) continue ;; esac
        [[ "$pat" =~ ^tests/($dirs)/ ]] || continue
        found=
        for t in $all; do
            # shellcheck disable=SC2254
            case "$t" in $pat) printf '%s\t%s\n' "$pat" "$t"; found=1 ;; esac
        done
        [ -n "$found" ] || printf '%s\t\n' "$pat"
    done <"$TOP/tests/upstream-tests"
}

# The ninja targets of tests/upstream-tests that exist in build dir $1.
test_targets() {
    match_test_targets "$1" | cut -f2 | sed '/^$/d' | sort -u
}

# The patterns of tests/upstream-tests that match no target in build dir $1.
unmatched_patterns() {
    match_test_targets "$1" | awk -F'\t' '$2 == "" { print $1 }'
}

# Build the QEMU binary and the test programs in build dir $1, with a
# progress line every 30 seconds.  ("ninja -n" cannot tell "up to date":
# qemu-version.h is always regenerated, and restat makes that a no-op.)
build_targets() {
    local build=$1 what=$2 targets rc=0
    # Regenerate build.ninja first: a patch may have added a test program.
    ninja -C "$build" build.ninja >"$build/ninja.out" 2>&1 ||
        { tail -n 30 "$build/ninja.out" >&2; die "meson regeneration failed in $build"; }
    if [ "$(build_field "$build" name)" = fuzz ]; then
        targets=qemu-fuzz-$(build_arch "$build")
    else
        targets="qemu-system-$(build_arch "$build") $(test_targets "$build" | tr '\n' ' ')"
    fi
    log "building ($what): $targets"
    ccache_env
    local before after
    before=$(ccache_counts)
    # shellcheck disable=SC2086
    ninja -C "$build" -j "$(build_jobs)" $targets >"$build/ninja.out" 2>&1 &
    local pid=$! n start=$SECONDS next=$((SECONDS + 30))
    while kill -0 $pid 2>/dev/null; do
        sleep 1
        [ $SECONDS -ge $next ] || continue
        next=$((next + 30))
        n=$(grep -o '^\[[0-9]*/[0-9]*\]' "$build/ninja.out" | tail -n1)
        log "  ... $what build at step ${n:-[0/?]} after $((SECONDS - start))s"
    done
    wait $pid || rc=$?
    if [ $rc != 0 ]; then
        grep -A20 -m3 'error' "$build/ninja.out" >&2 || tail -n 40 "$build/ninja.out" >&2
        die "build ($what) failed (log: $build/ninja.out)"
    fi
    after=$(ccache_counts)
    log "build ($what): $(grep -cE '^\[[0-9]+/[0-9]+\] (Compiling|Linking)' "$build/ninja.out") files compiled or linked in $((SECONDS - start))s, ccache: $(echo "$before $after" | awk '{ printf "%d of %d from the cache", $3 - $1, $4 - $2 }')"
}

# The URI apt already uses for suite $1 of the machine: deb822 first, then
# the one-line format.  No mirror host is written into this repository.
# APT_ETC (default /etc/apt) lets the harness tests use fixtures.
mirror_for_suite() {
    local suite=$1 f
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uri = ""; ok = 0; enabled = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); uri = u[1] }
                    if ($i ~ /^Suites:/) {
                        n = split(substr($i, 8), s, " ")
                        for (j = 1; j <= n; j++) if (s[j] == suite) ok = 1
                    }
                    if ($i ~ /^Enabled: *no/) enabled = 0
                }
                if (ok && enabled && uri != "") { print uri; exit }
            }' "$f"
    done
    { cat "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list 2>/dev/null || true; } |
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
        awk -v suite="$suite" '($1 == "deb" || $1 == "deb-src") && $3 == suite { print $2; exit }'
}

# The base version to fetch: the pin $1 when it is among the served versions
# (stdin, one per line), else the newest served 10.0.x.  Prints nothing when
# no 10.0.x is served.
pick_base_version() {
    local pin=$1 served
    served=$(grep -E '^1:10\.0\.' | sort -u -r -V || true)
    if grep -qxF "$pin" <<<"$served"; then
        echo "$pin"
    else
        head -n1 <<<"$served"
    fi
}

# Build the PQC TPM (scripts/build-pqc-tpm.sh; its messages go to stderr
# and to LOG) and export what the tests that use it read: QPQC_FWTPM,
# QPQC_PQC_BRIDGE (the bridge command without --ctrl and --state) and
# QTEST_TPM_EMULATOR (the same, for the series' qtests), or
# QPQC_PQC_MISSING with the reason.  Returns the build script's status:
# 0 built, 2 no ../shared/vendor (or a file of it), anything else failed.
pqc_tpm_env() {
    local log=$1 rc
    "$TOP/scripts/build-pqc-tpm.sh" 2>&1 >"$log.path" | tee "$log" >&2
    rc=${PIPESTATUS[0]}
    case $rc in
    0) export QPQC_FWTPM QPQC_PQC_BRIDGE QTEST_TPM_EMULATOR
       QPQC_FWTPM=$(cat "$log.path")
       QPQC_PQC_BRIDGE=$(printf '%q ' "$SYS_PYTHON" "$TOP/tests/lib/pqc-bridge.py" \
                         --fwtpm "$QPQC_FWTPM")
       QTEST_TPM_EMULATOR=$QPQC_PQC_BRIDGE ;;
    2) export QPQC_PQC_MISSING
       QPQC_PQC_MISSING=$(sed -n 's/^MISSING: //p' "$log" | tail -n1) ;;
    *) export QPQC_PQC_MISSING="the PQC TPM build failed (exit $rc, log: $log)" ;;
    esac
    return "$rc"
}
