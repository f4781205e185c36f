#!/usr/bin/env bash
# Measures the simulator's speed in a base commit and in the working tree, side by side in one
# run, and prints the paired ratios (working tree / base, median [min, max] over the rounds):
# simulated messages/s in the default scenario and in steady traffic, allocations per simulated
# message, cluster-workload seeds/s, FuzzSim executions/s. See scripts/simspeed/main.go.
#
#   scripts/simspeed.sh BASE_COMMIT [-rounds N] [-scale F] [-kinds default,steady,cluster,fuzz]
#
# e.g. scripts/simspeed.sh b2f9f92 -rounds 5 (the commit before the issue-18 simulator work).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
base="$1"
shift
exec go run ./scripts/simspeed -base "$base" "$@"
