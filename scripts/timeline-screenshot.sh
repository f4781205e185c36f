#!/usr/bin/env bash
# Renders a msgr-sim timeline page in headless Chromium and saves a screenshot (the README's
# docs/timeline.png): a canary build's failing seed, drawn with its violation.
#   scripts/timeline-screenshot.sh [SEED] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-19}
out=${2:-docs/timeline.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags canary -o "$tmp/msgr-sim-canary" ./cmd/msgr-sim
"$tmp/msgr-sim-canary" timeline -seed "$seed" -canary norequeue -o "$tmp/run.html" || true   # exit 1: the run failed, as intended
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --window-size=1400,720 \
  --screenshot="$out" "file://$tmp/run.html" >/dev/null 2>&1
echo "wrote $out"
