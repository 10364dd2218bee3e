#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Prepare the test guest in $GUEST: Debian's cloud kernel (downloaded and
# unpacked, not installed) and an initramfs of busybox-static, tpm2-tools
# and the libraries they load, the guest-side TPM driver tpm-chunk and the
# ML-DSA-87 program tpm-mldsa87 (guest/driver, static, built here with
# Debian's gcc), with guest/init as /init.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_cmd apt-get
need_cmd cpio
need_cmd gcc
need_cmd make
[ -f "$(gcc -print-file-name=libc.a)" ] || die "no static libc (libc.a): run 'make deps' (libc6-dev)"
[ -x /bin/busybox ] || die "no /bin/busybox: run 'make deps' (busybox-static)"
command -v tpm2 >/dev/null || die "no tpm2-tools on PATH: run 'make deps'"
mkdir -p "$GUEST" "$DOWNLOAD/kernel"

if [ ! -f "$GUEST/vmlinuz" ]; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
    [ -n "$pkg" ] || die "apt knows no linux-image-cloud-amd64: run 'make deps' (it runs apt-get update)"
    log "downloading guest kernel $pkg (about 25 MB, not installed)"
    (cd "$DOWNLOAD/kernel" && apt-get download -q "$pkg" 2>&1 |
        grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb=$(ls "$DOWNLOAD/kernel/${pkg}"_*.deb 2>/dev/null | head -n1)
    [ -f "$deb" ] || die "download of $pkg failed"
    rm -rf "$DOWNLOAD/kernel/x"
    dpkg-deb -x "$deb" "$DOWNLOAD/kernel/x"
    cp "$DOWNLOAD/kernel/x"/boot/vmlinuz-* "$GUEST/vmlinuz.tmp"
    mv "$GUEST/vmlinuz.tmp" "$GUEST/vmlinuz"
    echo "$pkg" >"$GUEST/kernel-package"
    rm -rf "$DOWNLOAD/kernel/x"
fi

# The driver: make rebuilds it when a source changes.
drv=$GUEST/driver
mkdir -p "$drv"
make -s -C "$TOP/guest/driver" O="$drv" all >&2 ||
    die "building the guest driver (guest/driver) failed"

# The initramfs is rebuilt when /init, the driver or the host's tools change.
stamp=$( (sha256sum "$TOP/guest/init" "$TOP/guest/crb-chunk.sh" \
    "$TOP/guest/guest-driver.sh" \
    "$drv/tpm-chunk" "$drv/tpm-mldsa87"
    ls -l --time-style=+%s /bin/busybox \
    "$(readlink -f "$(command -v tpm2)")") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$GUEST/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "building the guest initramfs (busybox-static, tpm2-tools and their libraries)"
    root=$GUEST/root
    rm -rf "$root"
    mkdir -p "$root"/{bin,usr/bin,proc,sys,dev,tmp,etc}
    cp /bin/busybox "$root/bin/"
    tpm2=$(readlink -f "$(command -v tpm2)")
    cp "$tpm2" "$root/usr/bin/tpm2"
    for t in $(cd /usr/bin && ls tpm2_*); do ln -s tpm2 "$root/usr/bin/$t"; done
    # the dlopen()ed TCTIs: device (the kernel's driver), cmd (tpm-chunk)
    tcti=$(ls /usr/lib/*/libtss2-tcti-device.so.0 | head -n1)
    tcti_cmd=$(ls /usr/lib/*/libtss2-tcti-cmd.so.0 2>/dev/null | head -n1 || true)
    [ -f "$tcti_cmd" ] || die "no libtss2-tcti-cmd.so.0: run 'make deps' (libtss2-tcti-cmd0)"
    # Every library ldd names, plus the dlopen()ed TCTIs.
    for f in $(ldd "$tpm2" "$tcti" "$tcti_cmd" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && NF == 2 { print $1 }' | sort -u) "$tcti" "$tcti_cmd"; do
        mkdir -p "$root$(dirname "$f")"
        cp -L "$f" "$root$f"
    done
    cp "$TOP/guest/init" "$root/init"
    cp "$TOP/guest/crb-chunk.sh" "$TOP/guest/guest-driver.sh" "$root/"
    cp "$drv/tpm-chunk" "$drv/tpm-mldsa87" "$root/bin/"
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$GUEST/initrd.tmp"
    mv "$GUEST/initrd.tmp" "$GUEST/initrd.gz"
    echo "$stamp" >"$GUEST/initrd.stamp"
    rm -rf "$root"
    log "guest initramfs: $(du -h "$GUEST/initrd.gz" | cut -f1)"
fi
log "guest: $(cat "$GUEST/kernel-package"), initramfs ready in $GUEST"
