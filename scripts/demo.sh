#!/usr/bin/env bash
# Runs the Preflight demo on a fresh machine with no servers: fetches Go
# modules and the embedded ClickHouse engine (libchdb.so), then runs
# `preflight demo` (embedded Kafka broker + embedded ClickHouse).
# Arguments go to `preflight demo`, e.g. --source hillstrom.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/install-chdb.sh --env)"
go run ./cmd/preflight demo "$@"
