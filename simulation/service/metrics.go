package service

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/preflight-hq/preflight/simulation"
	"github.com/preflight-hq/preflight/simulation/api"
)

// Transports, the values of the transport label.
const (
	TransportHTTP  = "http"
	TransportKafka = "kafka"
)

// Results of a simulate request, the values of the result label of
// simulator_requests_total.
const (
	ResultCompleted    = "completed"    // 200, a completed response
	ResultValidation   = "validation"   // 400/422: the request breaks the contract or the calibration
	ResultLimit        = "limit"        // 413: body or work limit
	ResultUnauthorized = "unauthorized" // 401: no valid API key
	ResultRateLimited  = "rate_limited" // 429: over the per-key rate
	ResultNoSnapshot   = "no_snapshot"  // 503: the scope has no calibration yet
	ResultTimeout      = "timeout"      // 504: the simulation missed its deadline
	ResultInternal     = "internal"     // 500: anything else
)

var results = []string{ResultCompleted, ResultValidation, ResultLimit, ResultUnauthorized, ResultRateLimited, ResultNoSnapshot, ResultTimeout, ResultInternal}

// Metrics are the simulator's Prometheus instruments. Every family is
// documented in docs/operations.md; deploy/simulator_test.go holds the
// contract with the dashboards and alert rules.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	engine   prometheus.Histogram
	inFlight *prometheus.GaugeVec
	work     prometheus.Histogram
	version  *prometheus.GaugeVec
	created  *prometheus.GaugeVec
	accuracy *prometheus.GaugeVec
	drift    *prometheus.GaugeVec
	loads    prometheus.Counter
	loadErrs prometheus.Counter
	ready    prometheus.Gauge
	cache    *simulation.Cache
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). cache is the engines' judgement cache (nil: none).
func NewMetrics(reg prometheus.Registerer, cache *simulation.Cache) *Metrics {
	m := &Metrics{cache: cache,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "simulator_requests_total",
			Help: "Simulate requests answered, by transport (http, kafka) and result (completed, validation, limit, unauthorized, rate_limited, no_snapshot, timeout, internal).",
		}, []string{"transport", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "simulator_request_duration_seconds",
			Help:    "Time from a request's body being read to its response being ready, by transport.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 18),
		}, []string{"transport"}),
		engine: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "simulator_engine_duration_seconds",
			Help:    "Time the engine spent on one admitted request: judgements, configuration search and Monte Carlo.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 18),
		}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "simulator_in_flight_requests",
			Help: "Simulate requests being computed now, by transport.",
		}, []string{"transport"}),
		work: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "simulator_request_work_units",
			Help:    "num_personas × monte_carlo_runs × time_horizon_days of admitted requests.",
			Buckets: prometheus.ExponentialBuckets(1000, 4, 10),
		}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "simulator_snapshot_version",
			Help: "Version of the calibration snapshot the simulator answers from, by scope.",
		}, []string{"scope"}),
		created: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "simulator_snapshot_created_timestamp_seconds",
			Help: "Unix time at which the loaded calibration snapshot was made, by scope.",
		}, []string{"scope"}),
		accuracy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "simulator_calibration_historical_accuracy_ratio",
			Help: "historical_accuracy of the loaded snapshot (1 − backtest MAPE of the conversion rate), by scope.",
		}, []string{"scope"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "simulator_calibration_drift_detected",
			Help: "1 when the loaded snapshot reports drift in its window, else 0, by scope.",
		}, []string{"scope"}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "simulator_snapshot_loads_total",
			Help: "Calibration snapshots installed (a newer version of a scope).",
		}),
		loadErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "simulator_snapshot_errors_total",
			Help: "Records of the calibration topic that could not be installed (undecodable or unusable snapshots).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "simulator_ready",
			Help: "1 once the calibration topic has been read to its end at start, else 0.",
		}),
	}
	for _, tr := range []string{TransportHTTP, TransportKafka} {
		for _, r := range results {
			m.requests.WithLabelValues(tr, r)
		}
		m.duration.WithLabelValues(tr)
		m.inFlight.WithLabelValues(tr)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.engine, m.inFlight, m.work, m.version, m.created,
			m.accuracy, m.drift, m.loads, m.loadErrs, m.ready, cacheCollector{m.cache})
	}
	return m
}

var (
	judgementsDesc = prometheus.NewDesc("simulator_judgements_total",
		"Persona judgements needed by simulations, by result: hit (from the cache) or miss (asked of the reasoner).",
		[]string{"result"}, nil)
	cacheEntriesDesc = prometheus.NewDesc("simulator_judgement_cache_entries",
		"Persona judgements held in the cache.", nil, nil)
)

// cacheCollector reads the judgement cache's counters at scrape time.
type cacheCollector struct{ c *simulation.Cache }

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- judgementsDesc
	ch <- cacheEntriesDesc
}

func (k cacheCollector) Collect(ch chan<- prometheus.Metric) {
	var hits, misses uint64
	var n int
	if k.c != nil {
		hits, misses = k.c.Stats()
		n = k.c.Len()
	}
	ch <- prometheus.MustNewConstMetric(judgementsDesc, prometheus.CounterValue, float64(hits), "hit")
	ch <- prometheus.MustNewConstMetric(judgementsDesc, prometheus.CounterValue, float64(misses), "miss")
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(n))
}

// result classifies an answer for simulator_requests_total.
func result(status int, e *api.Error) string {
	switch {
	case e == nil:
		return ResultCompleted
	case e.Kind == api.KindUnauthorized:
		return ResultUnauthorized
	case status == 429:
		return ResultRateLimited
	case e.Kind == api.KindLimit:
		return ResultLimit
	case e.Kind == api.KindValidation:
		return ResultValidation
	case e.Kind == api.KindTimeout:
		return ResultTimeout
	case status == 503:
		return ResultNoSnapshot
	}
	return ResultInternal
}

// snapshotLoaded records a newly installed snapshot.
func (m *Metrics) snapshotLoaded(scope string, version uint64, created time.Time, accuracy float64, drift bool) {
	m.loads.Inc()
	m.version.WithLabelValues(scope).Set(float64(version))
	if !created.IsZero() {
		m.created.WithLabelValues(scope).Set(float64(created.UnixNano()) / 1e9)
	}
	m.accuracy.WithLabelValues(scope).Set(accuracy)
	d := 0.0
	if drift {
		d = 1
	}
	m.drift.WithLabelValues(scope).Set(d)
}
