#!/usr/bin/env bash
# Side-by-side benchmark of causal/gbdt against XGBoost 1.7 hist trees:
# same data (64k-row Hillstrom visit task, 1M-row synthetic binary task),
# same settings (see bench/trees/main.go), 2 threads each. Prints train
# time and held-out AUC for both.
#
#   bench/trees.sh            # from the repo root
#   KEEP=1 bench/trees.sh     # keep the temp directory with the CSVs
#
# XGBoost runs with OMP_WAIT_POLICY=PASSIVE: on a shared machine OpenMP's
# default spin-waiting makes its 2-thread runs several times slower, and we
# want to compare against XGBoost at its best.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/trees-bench.XXXXXX")
if [[ -z "${KEEP:-}" ]]; then
	trap 'rm -rf "$dir"' EXIT
else
	echo "data in $dir"
fi

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$dir/trees" ./bench/trees
"$dir/trees" gen -dir "$dir" -hillstrom data/hillstrom.csv
GOMAXPROCS=2 "$dir/trees" train -dir "$dir"
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/xgb_trees.py "$dir"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
