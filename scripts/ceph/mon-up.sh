#!/usr/bin/env bash
# mon-up.sh DIR PORT [ID] — start a throw-away Ceph monitor bound ONLY to msgr1 on
# 127.0.0.1:PORT with auth none, its state in DIR (wiped first). Waits until `ceph health`
# answers over msgr1, then prints "pid=… addr=v1:127.0.0.1:PORT". Stop it with mon-down.sh DIR.
# Used by the interoperability tests; needs ceph-mon and ceph-common (Debian packages).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:?usage: mon-up.sh DIR PORT [ID]}
port=${2:?usage: mon-up.sh DIR PORT [ID]}
id=${3:-a}
case "$dir" in /tmp/*) ;; *) echo "mon-up.sh: DIR must be under /tmp" >&2; exit 2 ;; esac

rm -rf "$dir"
mkdir -p "$dir/run"
fsid=$(cat /proc/sys/kernel/random/uuid)
conf="$dir/ceph.conf"
{
  mon_global_conf "$dir" "$fsid" "v1:127.0.0.1:$port" none
  cat <<CONF

[mon.$id]
public_addr = 127.0.0.1:$port
CONF
} >"$conf"

ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --clobber --fsid "$fsid" --addv "$id" "[v1:127.0.0.1:$port]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i "$id" --monmap "$dir/monmap" --keyring "$dir/keyring" >"$dir/mkfs.out" 2>&1 \
  || { cat "$dir/mkfs.out" >&2; exit 1; }
ceph-mon -c "$conf" -i "$id" >"$dir/mon.stdout" 2>&1   # daemonizes, writes the pid file

deadline=$(( $(date +%s) + ${MON_UP_WAIT_S:-60} ))
until timeout 10 ceph -c "$conf" --connect-timeout 5 health >/dev/null 2>&1; do
  if (( $(date +%s) >= deadline )); then
    echo "mon-up.sh: monitor did not answer; see $dir/ceph-mon.$id.log" >&2; exit 1
  fi
  sleep 0.2
done
echo "pid=$(cat "$dir/mon.$id.pid") addr=v1:127.0.0.1:$port"
