#!/usr/bin/env bash
# soak.sh [DURATION] [go test flags…] — issue 8's real-stack soak, long: Ceph's SyntheticWorkload
# over epoll loopback (40 messengers, 100+ connections per round; stateful_server/lossless_client,
# lossless_peer_reuse and stateless_server/lossy_client rounds, all with 1-in-30 injected socket
# failures), round after round for DURATION (default 10m). Every round must lose, duplicate or
# reorder no lossless message beyond what a reset or a drop accounts for, drain, leave nothing
# held or queued, and leak no goroutine; the last line gives the totals.
#
# Examples:
#   scripts/soak.sh 30m
#   scripts/soak.sh 1h -soak.ops=2000 -soak.payload=4194304    # Ceph's own 4 MiB payloads
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10m}
[ $# -gt 0 ] && shift
go test -count=1 -timeout 0 -run '^TestSoak$' ./workload/synthetic -v \
  -soak.duration="$dur" "$@" 2>&1 | grep -E 'round [0-9]+[: ]|soak_test.go|violation|soak totals|peak RSS|leak|FAIL|^ok|^---'
