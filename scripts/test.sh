#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs what the tests need
# (Debian's clickhouse-server 18.16, kcat, promtool; libchdb.so for the
# embedded engine), starts ClickHouse on loopback, then runs go test.
# Extra arguments go to `go test` (e.g. -run TestEndToEnd -v).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/clickhouse-server ] || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
command -v kcat >/dev/null || need+=(kcat)
installed_prometheus=0
command -v promtool >/dev/null || { need+=(prometheus); installed_prometheus=1; }
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's prometheus package starts the server it ships; we only need
# promtool, so stop the one we just installed.
if [ "$installed_prometheus" = 1 ]; then
  pkill -x -u prometheus prometheus 2>/dev/null || true
fi

CHDB_LIB_PATH="$(scripts/install-chdb.sh)"; export CHDB_LIB_PATH
scripts/clickhouse-server.sh start >/dev/null
trap 'scripts/clickhouse-server.sh stop >/dev/null 2>&1 || true' EXIT
export PREFLIGHT_TEST_CLICKHOUSE_DSN="$(scripts/clickhouse-server.sh dsn)"

go vet ./...
# The race detector runs on the packages that start goroutines
# (simulation/e2e drives them on a large world; it runs once, below).
go test -race -count=1 -timeout 15m ./ingest/... ./streams/... ./eventsink/... ./cmd/... ./internal/demo/... \
	./causal/mcmc/ ./causal/gbdt/ ./persona/... ./calibration/... \
	./simulation/ ./simulation/api/ ./simulation/service/ ./simulation/client/ "$@"
# In package causal the goroutines (arms, folds, bootstrap resamples) are the
# same in every test; under the race detector its unit tests cover them, and
# the slow validation fits (TestPlantedCATE, TestHillstrom*) run in the full
# run below. The MMM's goroutines are causal/mcmc's chains.
go test -race -count=1 -timeout 15m -run 'Test[^PH]' ./causal/ "$@"
# The simulator benchmark's load generators (open and closed loops).
go test -race -count=1 -timeout 15m -run 'OpenLoop|ClosedLoop|VariedMix|SimulateSmoke' ./internal/bench/ "$@"
go test -count=1 -timeout 15m ./... "$@"
