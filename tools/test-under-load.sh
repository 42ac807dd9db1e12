#!/usr/bin/env bash
# Runs the whole suite N times in a row (default 3) beside a CPU hog, stopping at the first
# failure: the check that the suite holds on a busy machine. Needs stress-ng (Debian package).
# Usage: tools/test-under-load.sh [runs]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
command -v stress-ng >/dev/null 2>&1 || { echo "stress-ng is not installed: apt-get install -y stress-ng" >&2; exit 2; }
stress-ng --cpu 4 --timeout 0 >/dev/null 2>&1 &
hog=$!
trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
mkdir -p test-results
for i in $(seq 1 "$runs"); do
  started=$(date +%s)
  npm test >"test-results/under-load-$i.log" 2>&1
  rc=$?
  echo "run $i of $runs: exit $rc in $(( $(date +%s) - started )) s (log: test-results/under-load-$i.log)"
  [ "$rc" -ne 0 ] && exit "$rc"
done
echo "the suite passed $runs times in a row beside stress-ng --cpu 4"
