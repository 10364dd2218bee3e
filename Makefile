# SPDX-License-Identifier: GPL-2.0-or-later
# Thin front end: every target calls one script of scripts/.
.PHONY: help setup deps fetch worktree export build build-base build-sanitizers \
	guest lint check-series check check-sanitizers fuzz interop demo bench \
	pqc-tpm clean

help:                 ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: deps fetch worktree build guest ## everything the demo and the tests need

deps:                 ## install the Debian packages (root; idempotent)
	scripts/setup-deps.sh

fetch:                ## download and unpack the pinned Debian qemu source
	scripts/fetch-base.sh

worktree:             ## git tree .work/src: base + patches/ as commits
	scripts/make-worktree.sh

export:               ## regenerate patches/ from branch 'series' of .work/src
	scripts/export-series.sh

build:                ## build the patched qemu-system-x86_64, qemu-system-aarch64 and test programs
	scripts/build.sh patched

build-base:           ## build the unpatched base next to it
	scripts/build.sh base

build-sanitizers:     ## build the patched tree with ASan and UBSan
	scripts/build.sh sanitizers

guest:                ## download the guest kernel, build its initramfs
	scripts/fetch-guest.sh

pqc-tpm:              ## build the PQC TPM (wolfTPM fwtpm_server) from ../shared/vendor, once per machine
	scripts/build-pqc-tpm.sh

lint:                 ## checkpatch.pl over every patch
	scripts/lint.sh

check-series:         ## build and test every prefix of the series
	scripts/check-series.sh

check:                ## run every test (T=pattern to select)
	scripts/run-tests.sh $(T)

check-sanitizers:     ## the device's tests on the ASan/UBSan build only
	scripts/run-tests.sh sanitizers

fuzz:                 ## generic-fuzz the TPM interfaces (FUZZ_TIME=s per target), then the migration stream (LOADS=per state)
	scripts/fuzz.sh $(or $(FUZZ_TIME),300) $(or $(LOADS),300)

interop:              ## migrate mid-transfer to/from upstream QEMU 11.1 (sid chroot)
	scripts/make-sid-chroot.sh
	scripts/run-tests.sh interop

demo:                 ## main job: a real Linux guest uses the TPM via CRB and TIS
	scripts/demo.sh

bench:                ## time GetRandom (unpatched vs patched) and ML-DSA-87 sign+verify
	scripts/bench.sh

clean:                ## remove .work (downloads, trees, builds)
	rm -rf .work
