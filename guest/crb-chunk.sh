# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the test guest's /init when the kernel command line has
# qpqc.crbchunk: chunked CRB transfers driven from guest userspace through
# /dev/mem with busybox devmem, as a PTP 1.07 driver would do them.  The
# kernel's CRB driver is kept off the device with
# initcall_blacklist=crb_acpi_driver_init.  Sets $failed of /init on a failure.

CRB=0xFED40000
rd() { devmem "$(printf '0x%X' $((CRB + $1)))" 32; }
wr() { devmem "$(printf '0x%X' $((CRB + $1)))" 32 "$2"; }
WIN=0x80

# Write hex string $1 to the window, four bytes (little endian) at a time.
put() {
    local h=$1 off=0 w
    while [ -n "$h" ]; do
        w=${h:0:8}
        while [ ${#w} -lt 8 ]; do w=${w}00; done
        wr $((WIN + off)) "0x${w:6:2}${w:4:2}${w:2:2}${w:0:2}"
        h=${h:8} off=$((off + 4))
    done
}

# Print $1 bytes of the window as a hex string.
get() {
    local off=0 out= v
    while [ $off -lt "$1" ]; do
        v=$(rd $((WIN + off)))
        v=${v#0x}
        while [ ${#v} -lt 8 ]; do v=0$v; done
        out=$out${v:6:2}${v:4:2}${v:2:2}${v:0:2}
        off=$((off + 4))
    done
    echo "${out:0:$(($1 * 2))}"
}

# Set CRB_CTRL_START bits $1 and wait (bounded) until they clear.
start() {
    local t=0
    wr 0x4C "$1"
    while [ $(($(rd 0x4C) & $1)) -ne 0 ]; do
        t=$((t + 1))
        [ $t -lt 10000 ] || return 1
    done
}

# Send hex command $1: a nextChunk after each full chunk, Start at the end.
send() {
    local h=$1 c=$((CHUNK * 2))
    while [ ${#h} -gt $c ]; do
        put "${h:0:$c}" && start 4 || return 1
        h=${h:$c}
    done
    put "$h" && start 1
}

# Print the whole response as hex: the first chunk, then nextChunk each.
recv() {
    local hdr size n r got
    hdr=$(get 10)
    size=$((0x${hdr:4:8}))
    n=$((size < CHUNK ? size : CHUNK))
    r=$(get $n) got=$n
    while [ $got -lt $size ]; do
        start 4 || return 1
        n=$((size - got))
        [ $n -le $CHUNK ] || n=$CHUNK
        r=$r$(get $n) got=$((got + n))
    done
    echo "$r"
}

expect() { # NAME GOT WANT
    if [ "$2" = "$3" ]; then
        echo "GUEST: PASS $1"
    else
        echo "GUEST: FAIL $1: got ${2:0:80} want ${3:0:80}"
        failed=1
    fi
}

wr 0x08 1                                   # request locality 0
wr 0x40 1                                   # cmdReady
intf=$(rd 0x30)
CHUNK=$(($(rd 0x58)))
expect "CapCRBChunk set in CRB_INTF_ID ($intf)" $((intf & 0x400)) 1024
echo "GUEST: window (CRB_CTRL_CMD_SIZE) is $CHUNK bytes"

# GetRandom(32): one chunk each way
send 80010000000C0000017B0020
rsp=$(recv)
expect "GetRandom(32): a 44-byte success response" "${rsp:0:20}" \
    80010000002C00000000

# TPM2_Hash of 982 bytes of counter text (every byte's place matters) in
# a 1000-byte command: four chunks at 256.  The digest swtpm answers must
# be the guest's own sha256sum of the same bytes: the command arrived whole.
data=$(i=0; while [ $i -lt 246 ]; do printf '%04d' $i; i=$((i + 1)); done | cut -c1-982)
send "8001000003E80000017D03D6$(printf '%s' "$data" | sed 's/./3&/g')000B40000007"
rsp=$(recv)
expect "TPM2_Hash: a 52-byte success response with a SHA-256 digest" \
    "${rsp:0:24}" 800100000034000000000020
want=$(printf '%s' "$data" | sha256sum | cut -c1-64 | tr a-f A-F)
expect "1000-byte command in four chunks reaches swtpm byte for byte" \
    "${rsp:24:64}" "$want"

# PCR_Read(sha256: PCRs 0-7) answers 300 bytes: two chunks back
send 8001000000140000017E00000001000B03FF0000
rsp=$(recv)
expect "PCR_Read: a 300-byte success response in two chunks" \
    "${rsp:0:20}" 80010000012C00000000
expect "PCR_Read: eight SHA-256 digests" "${rsp:48:12}" 000000080020
echo "GUEST: PCR 0: ${rsp:60:64}"
# crbRspRetry puts the first chunk back in the window
start 2
expect "crbRspRetry replays the first chunk" "$(get "$CHUNK")" \
    "${rsp:0:$((CHUNK * 2))}"
