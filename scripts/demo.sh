#!/usr/bin/env bash
# Runs the Preflight demo on a fresh machine with no servers: fetches Go
# modules and the embedded ClickHouse engine (libchdb.so), then runs
# `preflight demo` (embedded Kafka broker + embedded ClickHouse).
# Arguments go to `preflight demo`, e.g. --source hillstrom.
set -euo pipefail
cd "$(dirname "$0")/.."
CHDB_LIB_PATH="$(scripts/install-chdb.sh)"; export CHDB_LIB_PATH
go run ./cmd/preflight demo "$@"
