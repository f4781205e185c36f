#!/usr/bin/env bash
# Runs every native fuzz target of the module for a given time each, one after another (Go
# fuzzes one target per `go test` invocation), or in parallel groups with -j. For each target
# it prints the figures of go test's last progress line (executions, execs/s, new interesting
# inputs, corpus size), then a summary table; it exits non-zero if any target failed.
#
#   scripts/fuzz.sh 5m                 every target for 5 minutes
#   scripts/fuzz.sh -j 2 5m            two targets at a time (each with half the CPUs)
#   scripts/fuzz.sh 3s                 CI: a few seconds each
#   scripts/fuzz.sh -run 'Decide|Sim' 1m
#   scripts/fuzz.sh -list              list the targets and exit
#
# Options:
#   -j N       run N targets at a time (default 1)
#   -p N       fuzzing workers per target (go test -parallel; default: CPUs / N)
#   -m LIMIT   -fuzzminimizetime per new input (default 30x: whole-system targets find many
#              new inputs and each run takes milliseconds, so minimizing them by time stalls
#              the search; a failing input is still minimized that many times)
#   -run RE    only the targets whose name matches the extended regexp RE
#   -pkg RE    only the packages whose import path matches RE
#   -o DIR     keep each target's log in DIR (default: a temporary directory, removed)
#   -list      print the targets and exit
# A failing input is written by go test to the package's testdata/fuzz/<Target>/ (keep it:
# it is a regression case); FuzzSim also writes the failing run's tape, see fuzz/simfuzz/sim.go.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

jobs=1 workers="" minimize="30x" run_re="" pkg_re="" logdir="" list=0 fuzztime=""
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs="${2:?}"; shift 2 ;;
    -p) workers="${2:?}"; shift 2 ;;
    -m) minimize="${2:?}"; shift 2 ;;
    -run) run_re="${2:?}"; shift 2 ;;
    -pkg) pkg_re="${2:?}"; shift 2 ;;
    -o) logdir="${2:?}"; shift 2 ;;
    -list) list=1; shift ;;
    -h|-help|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$fuzztime" ] || usage; fuzztime="$1"; shift ;;
  esac
done
[ "$list" = 1 ] || [ -n "$fuzztime" ] || usage
case "$jobs" in ''|*[!0-9]*|0) echo "fuzz.sh: -j wants a positive number" >&2; exit 2 ;; esac
if [ -z "$workers" ]; then
  cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
  workers=$(( cpus / jobs )); [ "$workers" -ge 1 ] || workers=1
fi

# discover: "package target" lines, from go test -list (which prints a package's fuzz
# targets before its "ok" line).
if ! listing=$(go test -list '^Fuzz' ./... 2>&1); then
  echo "fuzz.sh: go test -list failed:" >&2
  grep -v '^ok' <<<"$listing" | tail -40 >&2
  exit 1
fi
targets=()
while read -r pkg target; do
  [[ -z "$pkg_re" || "$pkg" =~ $pkg_re ]] || continue
  [[ -z "$run_re" || "$target" =~ $run_re ]] || continue
  targets+=("$pkg $target")
done < <(awk '
  /^Fuzz[A-Za-z0-9_]*$/ { names[n++] = $1; next }
  /^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }' <<<"$listing")
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets match" >&2; exit 1
fi
if [ "$list" = 1 ]; then
  printf '%s\n' "${targets[@]}"; exit 0
fi

keep=1
if [ -z "$logdir" ]; then logdir=$(mktemp -d); keep=0; fi
mkdir -p "$logdir"
cleanup() { [ "$keep" = 1 ] || rm -rf "$logdir"; }
trap cleanup EXIT

echo "fuzzing ${#targets[@]} targets for $fuzztime each, $jobs at a time, $workers workers each, minimize $minimize"

# run_one PKG TARGET: fuzz one target; its log and exit status go to $logdir.
run_one() {
  local pkg=$1 target=$2 log="$logdir/$2.log"
  local status=0
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
    -parallel "$workers" "$pkg" >"$log" 2>&1 || status=$?
  # Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" at the
  # -fuzztime boundary when its workers are starved (golang/go#75804, fixed in Go 1.27): no
  # input failed and none was written. That is not a finding; a failing input always is.
  if [ "$status" != 0 ] && grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"; then
    echo "deadline" >"$logdir/$2.note"
    status=0
  fi
  echo "$status" >"$logdir/$2.status"
}

# report TARGET PKG: one line from the target's last progress line.
report() {
  local target=$1 pkg=$2 log="$logdir/$1.log" status
  status=$(cat "$logdir/$target.status")
  local state=ok
  [ "$status" = 0 ] || state=FAIL
  [ -f "$logdir/$target.note" ] && state="ok*"
  awk -v t="$target" -v p="${pkg#github.com/msgrsim/msgrsim/}" -v s="$state" '
    function field(line, re, skip, cut) {
      if (!match(line, re)) return "-"
      return substr(line, RSTART + skip, RLENGTH - skip - cut)
    }
    # go test prints elapsed times as 59s, 1m0s, 1h2m3s.
    function seconds(d,   n, total) {
      total = 0
      while (match(d, /^[0-9]+[hms]/)) {
        n = substr(d, 1, RLENGTH - 1) + 0
        unit = substr(d, RLENGTH, 1)
        total += (unit == "h" ? 3600 : unit == "m" ? 60 : 1) * n
        d = substr(d, RLENGTH + 1)
      }
      return total
    }
    /^fuzz: elapsed: .*execs: / { prev = last; last = $0 }
    /gathering baseline coverage: / { base = field($0, "coverage: [0-9]+/[0-9]+", 10, 0) }
    END {
      el = ex = rate = ni = tot = avg = "-"
      if (last != "") {
        el = seconds(field(last, "elapsed: [0-9hms]+", 9, 0))
        ex = field(last, "execs: [0-9]+", 7, 0)
        rate = field(last, "[(][0-9]+/sec[)]", 1, 5)
        # go test ends with a summary line at 0/sec: the rate is that of the line before.
        if (rate == 0 && prev != "" && field(prev, "execs: [0-9]+", 7, 0) == ex)
          rate = field(prev, "[(][0-9]+/sec[)]", 1, 5)
        ni = field(last, "new interesting: [0-9]+", 17, 0)
        tot = field(last, "total: [0-9]+", 7, 0)
        if (el + 0 > 0) avg = int(ex / el)
      } else if (base != "") {
        ex = "baseline " base
      }
      printf "%-24s %-12s %-5s %8ss %14s %10s %10s %8s %8s\n", t, p, s, el, ex, rate, avg, ni, tot
    }' "$log"
}

running=0
for entry in "${targets[@]}"; do
  read -r pkg target <<<"$entry"
  echo "== $target ($pkg)"
  run_one "$pkg" "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

header=$(printf "%-24s %-12s %-5s %9s %14s %10s %10s %8s %8s" target package state elapsed execs "execs/s" "avg/s" "new" corpus)
echo
echo "$header"
failed=0
for entry in "${targets[@]}"; do
  read -r pkg target <<<"$entry"
  report "$target" "$pkg"
  [ "$(cat "$logdir/$target.status")" = 0 ] || failed=$((failed + 1))
done
echo "(execs/s: go test's last interval; avg/s: executions over the elapsed time, baseline included;"
echo " new: inputs that found new coverage in this run; corpus: inputs in the corpus at the end;"
echo " baseline i/n: the time ran out while go test was still running the corpus it had;"
echo " ok*: go test ended with Go 1.26's spurious \"context deadline exceeded\" (golang/go#75804), no input failed)"

if [ "$failed" -gt 0 ]; then
  echo
  for entry in "${targets[@]}"; do
    read -r pkg target <<<"$entry"
    [ "$(cat "$logdir/$target.status")" = 0 ] && continue
    echo "---- $target ($pkg) failed:"
    grep -v '^fuzz: elapsed' "$logdir/$target.log" | tail -40
  done
  echo "fuzz.sh: $failed of ${#targets[@]} targets failed"
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets passed"
