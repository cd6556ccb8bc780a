// Package deploy holds what runs Preflight in containers: the Dockerfile for
// the services, the compose stack (Kafka in KRaft mode, ClickHouse, the
// ingestor, the calibrator, Prometheus and Grafana) and the Prometheus and
// Grafana files it mounts: alert rules with their promtool unit tests, the
// data sources (Prometheus and the ClickHouse plugin) and the dashboards
// (ingest pipeline; drift and calibration).
//
// The package has no code of its own. Its tests parse compose.yaml, the
// Dockerfile and the Prometheus and Grafana files and check that they agree
// with each other and with the repository: service names, ports, environment,
// mounts, data source uids, metric names and labels (read from
// ingest/metrics.go and calibration/service/metrics.go), the tables and
// columns of the dashboards' ClickHouse queries (from the warehouse
// migrations), topic names (from package schemas), the chDB npm version
// (from scripts/install-chdb.sh) and which binaries import chdb-go (from go
// list, which decides between a static and a glibc runtime image). They also run
// promtool (Debian package prometheus) on the alert rules, their unit tests,
// the Prometheus configuration and the dashboard queries.
package deploy
