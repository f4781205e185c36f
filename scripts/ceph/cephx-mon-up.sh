#!/usr/bin/env bash
# cephx-mon-up.sh DIR PORT [N] — start N (1 or 2, default 1) throw-away Ceph monitors with cephx
# required everywhere, bound ONLY to msgr1 on 127.0.0.1:PORT (and PORT+1 for the second, mon.b),
# their state in DIR (wiped first). Keys are generated with ceph-authtool:
#   DIR/keyring               mon. and client.admin (what the monitors were created with)
#   DIR/client.admin.keyring  client.admin only (mon, osd, mgr, mds caps 'allow *')
#   DIR/ceph.conf             a conf a client can use: ceph -c DIR/ceph.conf -k DIR/client.admin.keyring
# Waits until `ceph health` answers with the admin key, then prints
# "pid=… addr=v1:127.0.0.1:PORT keyring=DIR/client.admin.keyring" (one line per monitor).
# Stop with: mon-down.sh DIR a (and mon-down.sh DIR b). Needs ceph-mon and ceph-common.
# The cephx counterpart of mon-up.sh (auth none); used by the msgr/auth/cephx interop tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:?usage: cephx-mon-up.sh DIR PORT [N]}
port=${2:?usage: cephx-mon-up.sh DIR PORT [N]}
n=${3:-1}
case "$dir" in /tmp/*) ;; *) echo "cephx-mon-up.sh: DIR must be under /tmp" >&2; exit 2 ;; esac
case "$n" in 1|2) ;; *) echo "cephx-mon-up.sh: N must be 1 or 2" >&2; exit 2 ;; esac

ids=(a b)
ids=("${ids[@]:0:$n}")
rm -rf "$dir"
mkdir -p "$dir/run"
fsid=$(cat /proc/sys/kernel/random/uuid)
hosts=""
for i in "${!ids[@]}"; do hosts+="${hosts:+,}v1:127.0.0.1:$((port + i))"; done
conf="$dir/ceph.conf"
mon_global_conf "$dir" "$fsid" "$hosts" cephx >"$conf"
for i in "${!ids[@]}"; do
  printf '\n[mon.%s]\npublic_addr = 127.0.0.1:%d\n' "${ids[$i]}" $((port + i)) >> "$conf"
done

admin="$dir/client.admin.keyring"
ceph-authtool --create-keyring "$admin" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --import-keyring "$admin" >/dev/null

mapargs=()
for i in "${!ids[@]}"; do mapargs+=(--addv "${ids[$i]}" "[v1:127.0.0.1:$((port + i))]"); done
monmaptool --create --clobber --fsid "$fsid" "${mapargs[@]}" "$dir/monmap" >/dev/null
for id in "${ids[@]}"; do
  ceph-mon -c "$conf" --mkfs -i "$id" --monmap "$dir/monmap" --keyring "$dir/keyring" >"$dir/mkfs.$id.out" 2>&1 \
    || { cat "$dir/mkfs.$id.out" >&2; exit 1; }
done
for id in "${ids[@]}"; do
  ceph-mon -c "$conf" -i "$id" >"$dir/mon.$id.stdout" 2>&1   # daemonizes, writes the pid file
done

deadline=$(( $(date +%s) + ${MON_UP_WAIT_S:-60} ))
until timeout 10 ceph -c "$conf" -k "$admin" -n client.admin --connect-timeout 5 health >/dev/null 2>&1; do
  if (( $(date +%s) >= deadline )); then
    echo "cephx-mon-up.sh: monitors did not answer; see $dir/ceph-mon.*.log" >&2; exit 1
  fi
  sleep 0.2
done
for i in "${!ids[@]}"; do
  echo "pid=$(cat "$dir/mon.${ids[$i]}.pid") addr=v1:127.0.0.1:$((port + i)) keyring=$admin"
done
