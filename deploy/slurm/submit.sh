#!/bin/sh
# Submits a sharded msgr-sim sweep to Slurm: a job array of SHARDS tasks (sweep.sbatch, one
# shard each), then merge.sbatch once every task succeeded. Prints the two job ids.
#
#   SEEDS=1-1000000 SHARDS=100 RESULTS=/shared/sweep MSGR_SIM=/shared/bin/msgr-sim \
#     deploy/slurm/submit.sh [sbatch options for both jobs, e.g. --partition=batch]
#
# RESULTS and MSGR_SIM must be visible on every node. When the merge job has finished,
# RESULTS/merged.txt holds the whole sweep's report (its last line the JSON summary);
# RESULTS/shard-N.log the tasks' logs. A failed task cancels the merge (--kill-on-invalid-dep).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${SEEDS:=1-1000000}" "${SHARDS:=100}" "${RESULTS:=$PWD/msgr-sim-results}" "${MSGR_SIM:=msgr-sim}"
SWEEP_FLAGS=${SWEEP_FLAGS:-}
export SEEDS SHARDS RESULTS MSGR_SIM SWEEP_FLAGS
mkdir -p "$RESULTS"

array=$(sbatch --parsable --array="0-$((SHARDS - 1))" --output="$RESULTS/shard-%a.log" "$@" "$here/sweep.sbatch")
array=${array%%;*} # --parsable prints id[;cluster]
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$RESULTS/merge.log" "$@" "$here/merge.sbatch")
echo "${array} ${merge%%;*}"
