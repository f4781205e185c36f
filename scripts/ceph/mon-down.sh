#!/usr/bin/env bash
# mon-down.sh DIR [ID] — stop the monitor mon-up.sh started in DIR (TERM, then KILL after 10 s).
set -uo pipefail
dir=${1:?usage: mon-down.sh DIR [ID]}
pidf="$dir/mon.${2:-a}.pid"
[[ -s "$pidf" ]] || exit 0
pid=$(cat "$pidf")
[[ "$(cat /proc/$pid/comm 2>/dev/null)" == ceph-mon ]] || { rm -f "$pidf"; exit 0; }
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
rm -f "$pidf"
