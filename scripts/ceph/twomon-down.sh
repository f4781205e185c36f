#!/usr/bin/env bash
# twomon-down.sh DIR [-9] — stop the mon.a that twomon-up.sh started in DIR, by the pid in
# DIR/mon.a.pid and only if that process is a ceph-mon: TERM, then KILL after 10 s (-9: KILL
# at once, as a crash would). The store stays in DIR, so twomon-up.sh -r can restart it.
set -uo pipefail
dir=${1:?usage: twomon-down.sh DIR [-9]}
pidf="$dir/mon.a.pid"
# alive PID: the process exists and is not a zombie (a daemon's zombie waits for init).
alive() { [[ -r /proc/$1/stat ]] && [[ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" != Z ]]; }
[[ -s "$pidf" ]] || exit 0
pid=$(cat "$pidf")
if [[ "$(cat /proc/"$pid"/comm 2>/dev/null)" != ceph-mon ]]; then
  rm -f "$pidf"
  exit 0
fi
if [[ "${2:-}" == -9 ]]; then
  kill -KILL "$pid"
else
  kill -TERM "$pid"
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -KILL "$pid"
fi
for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
rm -f "$pidf"
