// Package deploy holds what runs Preflight in containers: the Dockerfile for
// the services, the compose stack (Kafka in KRaft mode, ClickHouse, the
// ingestor, Prometheus and Grafana) and the Prometheus and Grafana files it
// mounts.
//
// The package has no code of its own. Its tests parse compose.yaml, the
// Dockerfile and the Prometheus and Grafana files and check that they agree:
// service names, ports, environment, mounts, data source uids and metric
// names. They also run promtool (Debian package prometheus) on the alert
// rules, their unit tests, the Prometheus configuration and the dashboard
// queries.
package deploy
