package ingest

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Metrics are the ingestor's Prometheus instruments.
type Metrics struct {
	records        *prometheus.CounterVec
	dlq            *prometheus.CounterVec
	insertErrors   *prometheus.CounterVec
	commitErrors   prometheus.Counter
	dlqErrors      prometheus.Counter
	batchRows      prometheus.Histogram
	insertDuration *prometheus.HistogramVec
	flushDuration  prometheus.Histogram
	lag            *prometheus.GaugeVec
	lastFlush      prometheus.Gauge
	eventLag       prometheus.Histogram
}

// forgetLag deletes the lag series of partitions this member no longer
// owns. It has the signature of kgo.OnPartitionsRevoked.
func (m *Metrics) forgetLag(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	for topic, parts := range gone {
		for _, p := range parts {
			m.lag.DeleteLabelValues(topic, strconv.Itoa(int(p)))
		}
	}
}

// NewMetrics creates the ingestor's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingest_records_total",
			Help: "Kafka records read, by topic and result: ok (stored), duplicate (event_id already stored), invalid (sent to the DLQ).",
		}, []string{"topic", "result"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingest_dlq_records_total",
			Help: "Records written to the dead-letter topic, by reason kind.",
		}, []string{"kind"}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ingest_insert_errors_total",
			Help: "Failed ClickHouse insert attempts (each is retried), by table.",
		}, []string{"table"}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingest_commit_errors_total",
			Help: "Failed Kafka offset commits; the records are redelivered and deduplicated.",
		}),
		dlqErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ingest_dlq_produce_errors_total",
			Help: "Failed attempts to write records to the dead-letter topic (each is retried).",
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ingest_batch_rows",
			Help:    "Records per flushed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		insertDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ingest_insert_duration_seconds",
			Help:    "Duration of one successful ClickHouse insert (dedup lookup included), by table.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"table"}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ingest_flush_duration_seconds",
			Help:    "Duration of a whole flush: inserts, DLQ writes and the offset commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ingest_consumer_lag_records",
			Help: "Records in the partition not yet consumed (high watermark minus next offset).",
		}, []string{"topic", "partition"}),
		lastFlush: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ingest_last_flush_timestamp_seconds",
			Help: "Unix time of the last successful flush.",
		}),
		eventLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ingest_event_to_stored_seconds",
			Help:    "Per batch, time from the oldest record's Kafka timestamp to the batch being durable and queryable in ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
	}
	reg.MustRegister(m.records, m.dlq, m.insertErrors, m.commitErrors, m.dlqErrors, m.batchRows, m.insertDuration, m.flushDuration, m.lag, m.lastFlush, m.eventLag)
	return m
}
