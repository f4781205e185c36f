#!/usr/bin/env bash
# cephx-capture.sh OUTDIR PORT — record real cephx conversations on loopback for test vectors.
# Starts tshark on 127.0.0.1 ports PORT..PORT+19, then two msgr1-only monitors with cephx
# (cephx-mon-up.sh, mon.a on PORT, mon.b on PORT+1: they open authenticated mon<->mon sessions
# with cephx authorizers, the CEPHX_V2 challenge round and signed messages) and one OSD
# (cephx-osd-up.sh, ports from PORT+10: it authenticates as osd.0 and fetches its rotating
# secrets), then runs
#   ceph -s                  with the right client.admin key (MAuth handshake, tickets)
#   ceph tell osd.0 version  (an authorizer for the OSD, its challenge, signed MCommand)
#   ceph -s                  with a wrong client.admin key (refused)
# against mon.a only, stops everything and writes to OUTDIR:
#   capture.pcap             the whole capture
#   keyring                  mon. and client.admin keys of that throw-away cluster
#   osd.0.keyring            the OSD's key
#   wrong.keyring            the wrong client.admin key
#   streamN.c2s.bin / .s2c.bin   each TCP connection's bytes, one file per direction
#                            (c2s: from the side that sent the SYN)
#   streams.txt              one line per stream: index, client port, server port, byte counts
# Needs root (tshark on lo), tshark, ceph-mon, ceph-common, xxd. Everything lives under /tmp.
set -euo pipefail
out=${1:?usage: cephx-capture.sh OUTDIR PORT}
port=${2:?usage: cephx-capture.sh OUTDIR PORT}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/cephx-capture.XXXXXX)
mon="$work/mon"
tlog="$work/tshark.log"
cleanup() {
  "$here/cephx-osd-up.sh" "$mon" stop || true
  "$here/mon-down.sh" "$mon" a || true
  "$here/mon-down.sh" "$mon" b || true
  [[ -n "${tpid:-}" ]] && kill -INT "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

tshark -i lo -f "tcp portrange $port-$((port + 19))" -F pcap -w "$out/capture.pcap" >"$tlog" 2>&1 &
tpid=$!
for _ in $(seq 1 100); do grep -q "Capturing on" "$tlog" && break; sleep 0.05; done
grep -q "Capturing on" "$tlog" || { cat "$tlog" >&2; exit 1; }
sleep 0.5

"$here/cephx-mon-up.sh" "$mon" "$port" 2 >/dev/null
"$here/cephx-osd-up.sh" "$mon" $((port + 10)) >/dev/null
cp "$mon/keyring" "$out/keyring"
cp "$mon/osd-0/keyring" "$out/osd.0.keyring"
ceph-authtool --create-keyring "$out/wrong.keyring" --gen-key -n client.admin >/dev/null
sleep 1   # let the mon<->mon sessions carry a few signed messages
ceph --conf /dev/null -m "v1:127.0.0.1:$port" -n client.admin -k "$mon/client.admin.keyring" \
  --connect-timeout 10 -s >"$work/good.out" 2>&1 || { cat "$work/good.out" >&2; exit 1; }
ceph --conf /dev/null -m "v1:127.0.0.1:$port" -n client.admin -k "$mon/client.admin.keyring" \
  --connect-timeout 10 tell osd.0 version >"$work/tell.out" 2>&1 || { cat "$work/tell.out" >&2; exit 1; }
if timeout 20 ceph --conf /dev/null -m "v1:127.0.0.1:$port" -n client.admin -k "$out/wrong.keyring" \
  --connect-timeout 3 -s >"$work/wrong.out" 2>&1; then
  echo "cephx-capture.sh: the wrong key was accepted" >&2; exit 1
fi
sleep 0.5
"$here/cephx-osd-up.sh" "$mon" stop
"$here/mon-down.sh" "$mon" b
"$here/mon-down.sh" "$mon" a
sleep 0.5
kill -INT "$tpid"; wait "$tpid" || true
tpid=

: >"$out/streams.txt"
n=$(tshark -r "$out/capture.pcap" -T fields -e tcp.stream 2>/dev/null | sort -n | tail -1)
for s in $(seq 0 "$n"); do
  tshark -r "$out/capture.pcap" -q -z "follow,tcp,raw,$s" 2>/dev/null >"$work/follow.txt"
  # follow,tcp,raw prints node 0 (the side that sent first: the client, which sent the SYN)
  # unindented and node 1 indented by a tab, one hex line per segment.
  awk '/^[0-9a-f]+$/ {print}' "$work/follow.txt" | xxd -r -p >"$out/stream$s.c2s.bin"
  awk '/^\t[0-9a-f]+$/ {sub(/^\t/, ""); print}' "$work/follow.txt" | xxd -r -p >"$out/stream$s.s2c.bin"
  nodes=$(awk '/^Node [01]:/ {printf "%s ", $3}' "$work/follow.txt")
  echo "stream$s $nodes$(wc -c <"$out/stream$s.c2s.bin") $(wc -c <"$out/stream$s.s2c.bin")" >>"$out/streams.txt"
done
cat "$out/streams.txt"
