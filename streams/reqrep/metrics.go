package reqrep

import "github.com/prometheus/client_golang/prometheus"

// Results of a request, the values of reqrep_requests_total's result label.
const (
	resultOK        = "ok"        // handler succeeded, reply written
	resultError     = "error"     // handler failed, error reply written
	resultInvalid   = "invalid"   // malformed headers, error reply written if possible
	resultExpired   = "expired"   // past its deadline, timeout reply written
	resultRefused   = "refused"   // reply topic outside the allow-list, nothing written
	resultDuplicate = "duplicate" // answered from the idempotency cache
	resultLost      = "lost"      // the reply could not be written
)

// metrics are a Server's Prometheus instruments.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	expired    prometheus.Counter
	duplicates prometheus.Counter
}

// newMetrics creates the metrics and registers them with reg (nil: not
// registered).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reqrep_requests_total",
			Help: "Request records read, by result: ok, error (handler error reply), invalid (bad headers), expired (past deadline), refused (reply topic not allowed), duplicate (answered from the idempotency cache), lost (reply could not be written).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reqrep_request_duration_seconds",
			Help:    "Time from reading a request to its reply being acknowledged by the broker.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reqrep_expired_requests_total",
			Help: "Requests read after their x-deadline-unix-ms, answered with a timeout error without calling the handler.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reqrep_duplicate_requests_total",
			Help: "Redelivered or re-sent requests (same correlation id and reply topic) answered from the idempotency cache.",
		}),
	}
	for _, r := range []string{resultOK, resultError, resultInvalid, resultExpired, resultRefused, resultDuplicate, resultLost} {
		m.requests.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.expired, m.duplicates)
	}
	return m
}
