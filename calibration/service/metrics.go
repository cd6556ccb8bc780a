package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-hq/preflight/calibration"
)

// Metrics are the calibrator's Prometheus instruments. Their names are
// fixed: deploy/ dashboards and alert rules are written against them. The
// scope label takes the configured scopes, the moment label the bounded
// segment × channel × kind set of Config.MaxMoments.
type Metrics struct {
	driftStatistic   *prometheus.GaugeVec
	driftThreshold   *prometheus.GaugeVec
	driftAlarms      *prometheus.CounterVec
	lastCalibration  *prometheus.GaugeVec
	watermark        *prometheus.GaugeVec
	backtestMAPE     *prometheus.GaugeVec
	backtestCorr     *prometheus.GaugeVec
	backtestCoverage *prometheus.GaugeVec
	refreshDuration  *prometheus.HistogramVec
	refreshRows      *prometheus.CounterVec
	retunes          *prometheus.CounterVec
	eventToMoment    prometheus.Histogram
	ownedScopes      prometheus.Gauge
	snapshotVersion  *prometheus.GaugeVec
}

// NewMetrics creates the calibrator's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		driftStatistic: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_drift_statistic",
			Help: "Last value of a drift detector's statistic, by scope, moment stream and detector.",
		}, []string{"scope", "moment", "detector"}),
		driftThreshold: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_drift_threshold",
			Help: "Threshold a drift detector's statistic alarms at, by scope and detector.",
		}, []string{"scope", "detector"}),
		driftAlarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "calib_drift_alarms_total",
			Help: "Drift alarms published, by scope and detector.",
		}, []string{"scope", "detector"}),
		lastCalibration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_last_calibration_timestamp_seconds",
			Help: "Unix time the scope's current snapshot was made.",
		}, []string{"scope"}),
		watermark: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_watermark_timestamp_seconds",
			Help: "Ingestion time (Unix) up to which the scope's moments are refreshed.",
		}, []string{"scope"}),
		backtestMAPE: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_backtest_mape_ratio",
			Help: "Mean absolute percentage error of the current snapshot's backtest, as a ratio, by scope and metric.",
		}, []string{"scope", "metric"}),
		backtestCorr: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_backtest_correlation",
			Help: "Correlation of predicted and observed values in the current snapshot's backtest, by scope and metric.",
		}, []string{"scope", "metric"}),
		backtestCoverage: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_backtest_coverage_ratio",
			Help: "Share of backtest actuals inside the predicted interval, by scope and metric.",
		}, []string{"scope", "metric"}),
		refreshDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "calib_refresh_duration_seconds",
			Help:    "Duration of one refresh of a scope: watermark, moments refresh, detectors, publishing.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}, []string{"scope"}),
		refreshRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "calib_refresh_rows_total",
			Help: "New raw rows read by the scope's incremental moment refreshes.",
		}, []string{"scope"}),
		retunes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "calib_retunes_total",
			Help: "Calibrations run, by scope, reason (initial, schedule, drift) and result (ok, error).",
		}, []string{"scope", "reason", "result"}),
		eventToMoment: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "calib_event_to_moment_seconds",
			Help:    "Per refresh that read new rows, time from the newest row's ingested_at to its moments being refreshed.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}),
		ownedScopes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "calib_owned_scopes",
			Help: "Scopes whose loop runs in this member.",
		}),
		snapshotVersion: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "calib_snapshot_version",
			Help: "Version of the scope's current snapshot.",
		}, []string{"scope"}),
	}
	reg.MustRegister(m.driftStatistic, m.driftThreshold, m.driftAlarms, m.lastCalibration, m.watermark,
		m.backtestMAPE, m.backtestCorr, m.backtestCoverage, m.refreshDuration, m.refreshRows, m.retunes,
		m.eventToMoment, m.ownedScopes, m.snapshotVersion)
	return m
}

// snapshot sets the gauges that describe a scope's current snapshot.
func (m *Metrics) snapshot(s *calibration.Snapshot) {
	m.lastCalibration.WithLabelValues(s.Scope).Set(float64(s.CreatedAt.UnixNano()) / 1e9)
	m.snapshotVersion.WithLabelValues(s.Scope).Set(float64(s.Version))
	for metric, b := range s.Quality.Backtests {
		m.backtestMAPE.WithLabelValues(s.Scope, metric).Set(b.MAPE)
		m.backtestCorr.WithLabelValues(s.Scope, metric).Set(b.Correlation)
		m.backtestCoverage.WithLabelValues(s.Scope, metric).Set(b.Coverage)
	}
}

// forget deletes a scope's per-scope gauges when its loop stops here, so a
// dashboard does not show a stale value from a member that no longer owns
// it. Counters and the histogram stay: they are summed across members.
func (m *Metrics) forget(scope string) {
	l := prometheus.Labels{"scope": scope}
	m.driftStatistic.DeletePartialMatch(l)
	m.driftThreshold.DeletePartialMatch(l)
	m.lastCalibration.DeletePartialMatch(l)
	m.watermark.DeletePartialMatch(l)
	m.backtestMAPE.DeletePartialMatch(l)
	m.backtestCorr.DeletePartialMatch(l)
	m.backtestCoverage.DeletePartialMatch(l)
	m.snapshotVersion.DeletePartialMatch(l)
}
