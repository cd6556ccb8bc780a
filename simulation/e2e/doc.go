// Package e2e holds the simulator's end-to-end tests, which need the whole
// loop: a synthetic world streamed through Kafka (kfake) into ClickHouse
// (chDB) by the ingestor, a calibration snapshot fitted on it with one
// campaign held out and published on the compacted topic, and simulators
// answering over Kafka request/reply and HTTP. The world takes a minute and
// about 5 GB to build, so scripts/test.sh runs these tests once, without the
// race detector (the packages they drive have their own race-checked tests).
package e2e
