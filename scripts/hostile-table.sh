#!/usr/bin/env bash
# Runs the hostile-peer suite (msgr TestHostilePeers: raw sockets against a messenger on the
# epoll stack) and prints its table: case, outcome, fault reason (count), peak RSS per case.
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(mktemp)
trap 'rm -f "$table"' EXIT
MSGRSIM_HOSTILE_TABLE="$table" go test -count=1 -run '^TestHostilePeers$' ./msgr/ >/dev/null
cat "$table"
