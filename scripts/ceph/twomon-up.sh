#!/usr/bin/env bash
# twomon-up.sh [options] DIR PORT_A PORT_B — start a real ceph-mon "mon.a" on
# 127.0.0.1:PORT_A whose monmap has two monitors: mon.a (rank 0) and mon.b at
# v1:127.0.0.1:PORT_B (rank 1), which is meant to be the Go peer (msgr-node peer). The
# monitor speaks msgr1 only, with auth none; its state, conf, log and pid file live in DIR.
# Prints "pid=… addr=v1:127.0.0.1:PORT_A fsid=… log=…" once its admin socket answers (it
# cannot answer `ceph health`: two monitors need both for a quorum). Stop it with
# twomon-down.sh DIR (by the pid in DIR, nothing else).
#
# Options:
#   -d LEVEL   debug_ms (default 5: every received message with its seq, every reply tag,
#              session resets and old/skipped messages are logged)
#   -f N       ms_inject_socket_failures: fail one socket operation in N (default 0: off)
#   -o KEY=VAL an extra [global] option, e.g. -o ms_max_backoff=2 (repeatable)
#   -r         restart: start mon.a again on the store and conf already in DIR (after a
#              kill -9, say); ignores -d, -f and -o
#
# Needs ceph-mon and ceph-common (Debian packages).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
usage() { echo "usage: twomon-up.sh [-d LEVEL] [-f N] [-o KEY=VAL]... [-r] DIR PORT_A PORT_B" >&2; exit 2; }

debug=5 failures=0 restart=0 extra=()
while getopts "d:f:o:r" opt; do
  case $opt in
    d) debug=$OPTARG ;;
    f) failures=$OPTARG ;;
    o) extra+=("$OPTARG") ;;
    r) restart=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
(( $# == 3 )) || usage
dir=$1 port_a=$2 port_b=$3
case "$dir" in /tmp/?*) ;; *) echo "twomon-up.sh: DIR must be under /tmp" >&2; exit 2 ;; esac
conf="$dir/ceph.conf"
pidf="$dir/mon.a.pid"

if [[ -s "$pidf" ]] && [[ -r /proc/$(cat "$pidf")/stat ]] && [[ "$(awk '{print $3}' /proc/"$(cat "$pidf")"/stat)" != Z ]]; then
  echo "twomon-up.sh: mon.a already runs (pid $(cat "$pidf")); twomon-down.sh $dir first" >&2
  exit 1
fi

if (( ! restart )); then
  rm -rf "$dir"
  mkdir -p "$dir/run"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  {
    mon_global_conf "$dir" "$fsid" "v1:127.0.0.1:$port_a,v1:127.0.0.1:$port_b" none
    cat <<CONF
debug_ms = $debug
ms_inject_socket_failures = $failures
CONF
    for kv in "${extra[@]}"; do echo "${kv%%=*} = ${kv#*=}"; done
    cat <<CONF

[mon.a]
public_addr = 127.0.0.1:$port_a
CONF
  } >"$conf"
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v1:127.0.0.1:$port_a]" \
    --addv b "[v1:127.0.0.1:$port_b]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >"$dir/mkfs.out" 2>&1 \
    || { cat "$dir/mkfs.out" >&2; exit 1; }
fi
[[ -s "$conf" ]] || { echo "twomon-up.sh: no $conf to restart from" >&2; exit 1; }
fsid=$(sed -n 's/^fsid = //p' "$conf")

rm -f "$pidf"
ceph-mon -c "$conf" -i a >>"$dir/mon.stdout" 2>&1   # daemonizes, writes the pid file

deadline=$(( $(date +%s) + ${MON_UP_WAIT_S:-60} ))
until [[ -s "$pidf" ]] && timeout 10 ceph --admin-daemon "$dir/run/ceph-mon.a.asok" mon_status >/dev/null 2>&1; do
  if (( $(date +%s) >= deadline )); then
    echo "twomon-up.sh: mon.a did not come up; see $dir/ceph-mon.a.log" >&2; exit 1
  fi
  sleep 0.1
done
echo "pid=$(cat "$pidf") addr=v1:127.0.0.1:$port_a fsid=$fsid log=$dir/ceph-mon.a.log"
