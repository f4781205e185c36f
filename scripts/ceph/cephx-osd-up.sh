#!/usr/bin/env bash
# cephx-osd-up.sh DIR PORT — add one throw-away OSD (osd.0, memstore, no disk) to the cephx
# monitor cephx-mon-up.sh started in DIR, bound ONLY to msgr1 on 127.0.0.1 with its ports in
# [PORT, PORT+9]. Its key is DIR/osd-0/keyring. Waits until the osdmap shows osd.0 up, then
# prints "pid=… addr=v1:127.0.0.1:P/NONCE". Stop it with: osd-down (kill the pid in
# DIR/osd.0.pid), or mon-down.sh's sibling below:
#   cephx-osd-up.sh DIR stop
# Needs ceph-osd (Debian package ceph-osd) besides ceph-mon and ceph-common.
set -euo pipefail
dir=${1:?usage: cephx-osd-up.sh DIR PORT|stop}
port=${2:?usage: cephx-osd-up.sh DIR PORT|stop}
case "$dir" in /tmp/*) ;; *) echo "cephx-osd-up.sh: DIR must be under /tmp" >&2; exit 2 ;; esac
conf="$dir/ceph.conf"
pidf="$dir/osd.0.pid"

if [[ "$port" == stop ]]; then
  [[ -s "$pidf" ]] || exit 0
  pid=$(cat "$pidf")
  [[ "$(cat /proc/$pid/comm 2>/dev/null)" == ceph-osd ]] || { rm -f "$pidf"; exit 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$pidf"
  exit 0
fi

admin=(-c "$conf" -k "$dir/client.admin.keyring" -n client.admin --connect-timeout 10)
uuid=$(cat /proc/sys/kernel/random/uuid)
id=$(ceph "${admin[@]}" osd new "$uuid")
[[ "$id" == 0 ]] || { echo "cephx-osd-up.sh: got osd.$id, want osd.0 (a fresh cluster)" >&2; exit 1; }
mkdir -p "$dir/osd-0"
ceph "${admin[@]}" auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' \
  -o "$dir/osd-0/keyring" >/dev/null
cat >> "$conf" <<CONF

[osd.0]
osd_objectstore = memstore
memstore_device_bytes = 268435456
osd_data = $dir/osd-0
keyring = $dir/osd-0/keyring
pid_file = $pidf
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_port_min = $port
ms_bind_port_max = $((port + 9))
CONF
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$uuid" >"$dir/osd-mkfs.out" 2>&1 \
  || { cat "$dir/osd-mkfs.out" >&2; exit 1; }
ceph-osd -c "$conf" -i 0 >"$dir/osd.stdout" 2>&1   # daemonizes, writes the pid file

deadline=$(( $(date +%s) + ${OSD_UP_WAIT_S:-60} ))
until line=$(ceph "${admin[@]}" osd dump 2>/dev/null | grep '^osd\.0 up'); do
  if (( $(date +%s) >= deadline )); then
    echo "cephx-osd-up.sh: osd.0 did not come up; see $dir/ceph-osd.0.log" >&2; exit 1
  fi
  sleep 0.2
done
addr=$(grep -o 'v1:127\.0\.0\.1:[0-9]*/[0-9]*' <<<"$line" | head -1)
echo "pid=$(cat "$pidf") addr=$addr"
