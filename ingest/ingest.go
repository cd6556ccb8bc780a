// Package ingest moves CRM events from Kafka into ClickHouse: a franz-go
// consumer group over the five event topics decodes and validates each
// record, sends bad ones to the dead-letter topic with their reason, batches
// the rest by rows and time, inserts them idempotently, and commits offsets
// only after the batch is durable.
//
// Delivery is effectively once. Offsets are committed after the insert, so
// a crash between insert and commit redelivers the batch; the warehouse
// skips rows whose event_id is already stored, so the redelivery (and any
// producer-side re-send of the same event) changes no count and no moment.
// The check is race-free because records are keyed by entity id and a
// partition is owned by one group member at a time; rebalances are blocked
// while a batch is open (kgo.BlockRebalanceOnPoll) so ownership cannot move
// between a batch's dedup check and its insert.
package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

// Config configures an Ingestor. Zero values take the documented defaults,
// except the booleans, whose zero value is false.
type Config struct {
	// Kafka says how to reach the brokers.
	Kafka streams.KafkaConfig
	// Topics gives the topic names (prefix default "preflight.").
	Topics streams.Topics
	// Group is the consumer group id (default "preflight-ingestor").
	Group string
	// BatchRows closes a batch at this many records (default 10000).
	BatchRows int
	// BatchInterval closes a batch this long after its first record
	// (default 1s).
	BatchInterval time.Duration
	// MaxRecordBytes sends larger record values to the DLQ as oversize
	// (default 1 MiB).
	MaxRecordBytes int
	// RetryMin and RetryMax bound the exponential backoff between insert
	// retries (defaults 100ms and 10s). Retries never give up: a batch is
	// never dropped. While a batch is retried the loop builds at most two
	// more, then stops polling, so fetching pauses (backpressure).
	RetryMin, RetryMax time.Duration
	// ShutdownTimeout bounds, after the context ends, the jobs in flight
	// and the flush of the open batch together (default 30s). If it
	// expires their offsets are not committed, so nothing is lost.
	ShutdownTimeout time.Duration
	// CreateTopics creates the event and DLQ topics at start if missing,
	// with TopicPartitions partitions (default 4). cmd/ingestor sets it
	// unless -create-topics=false.
	CreateTopics    bool
	TopicPartitions int32
	// OnStored, when set, is called after each flush with the Kafka
	// timestamps of the records it made durable and the time it finished,
	// for latency benchmarks. It runs on a job goroutine: keep it
	// cheap.
	OnStored func(recordTimes []time.Time, stored time.Time)
}

func (c *Config) setDefaults() {
	if c.Topics.Prefix == "" {
		c.Topics.Prefix = schemas.DefaultTopicPrefix
	}
	if c.Group == "" {
		c.Group = "preflight-ingestor"
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 10000
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = time.Second
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 1 << 20
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.TopicPartitions <= 0 {
		c.TopicPartitions = 4
	}
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate()}
	if c.BatchRows > 1_000_000 {
		errs = append(errs, fmt.Errorf("batch rows: %d is more than 1,000,000", c.BatchRows))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry max %s is below retry min %s", c.RetryMax, c.RetryMin))
	}
	return errors.Join(errs...)
}

// Stats are running totals, for the CLI and tests.
type Stats struct {
	Stored, Duplicates, Invalid, Batches int64
}

// Ingestor is one member of the ingestor consumer group. Run owns the
// consume loop and the job goroutines it starts (at most two), and
// returns only after both ended; it closes the Kafka client. An Ingestor is
// used for one Run.
type Ingestor struct {
	cfg Config
	wh  warehouse.Warehouse
	log *slog.Logger
	m   *Metrics
	cl  *kgo.Client

	ready                            atomic.Bool
	lastLoop                         atomic.Int64
	stored, dups, invalid, batchesOK atomic.Int64
	buffered                         atomic.Int64 // records in the open batch

	// afterInsert, when set by tests, runs after the inserts of a batch
	// and before its offsets are committed; an error leaves the batch
	// uncommitted and makes Run return it, as a crash would.
	afterInsert func() error
}

// New builds an Ingestor. It connects lazily; Run does the work.
func New(cfg Config, wh warehouse.Warehouse, log *slog.Logger, m *Metrics) (*Ingestor, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid ingestor config: %w", err)
	}
	opts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topics.Events()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(8<<20),
		kgo.ProducerBatchMaxBytes(int32(max(2*cfg.MaxRecordBytes, 1<<20))),
		// A partition that leaves this member takes its lag series along,
		// so a dashboard never shows a stale lag for it from here.
		kgo.OnPartitionsRevoked(m.forgetLag),
		kgo.OnPartitionsLost(m.forgetLag),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	return &Ingestor{cfg: cfg, wh: wh, log: log, m: m, cl: cl}, nil
}

// Ready returns nil once the ingestor has joined its group and polled, and
// the warehouse answers.
func (in *Ingestor) Ready(ctx context.Context) error {
	if !in.ready.Load() {
		return errors.New("ingestor has not polled kafka yet")
	}
	if member, _ := in.cl.GroupMetadata(); member == "" {
		return fmt.Errorf("ingestor has not joined consumer group %s", in.cfg.Group)
	}
	return in.wh.Ping(ctx)
}

// Healthy returns an error if the consume loop has not turned for a minute
// (longer than any batch interval plus insert retry should take without
// logging).
func (in *Ingestor) Healthy() error {
	last := in.lastLoop.Load()
	if last == 0 {
		return nil
	}
	if age := time.Since(time.Unix(0, last)); age > time.Minute+in.cfg.RetryMax {
		return fmt.Errorf("consume loop stalled for %s", age.Round(time.Second))
	}
	return nil
}

// Stats returns running totals.
func (in *Ingestor) Stats() Stats {
	return Stats{Stored: in.stored.Load(), Duplicates: in.dups.Load(), Invalid: in.invalid.Load(), Batches: in.batchesOK.Load()}
}

// batch collects the records read since the last flush.
type batch struct {
	rows    map[schemas.Type][]warehouse.Row
	dlq     []*kgo.Record
	kinds   []string
	offsets map[string]map[int32]kgo.EpochOffset
	n       int
	opened  time.Time
	oldest  time.Time   // Kafka timestamp of the oldest record
	times   []time.Time // record timestamps, only when Config.OnStored is set
}

func newBatch() *batch {
	return &batch{rows: map[schemas.Type][]warehouse.Row{}, offsets: map[string]map[int32]kgo.EpochOffset{}}
}

func (b *batch) mark(r *kgo.Record) {
	if b.n == 0 {
		b.opened = time.Now()
	}
	b.n++
	if b.oldest.IsZero() || r.Timestamp.Before(b.oldest) {
		b.oldest = r.Timestamp
	}
	ps := b.offsets[r.Topic]
	if ps == nil {
		ps = map[int32]kgo.EpochOffset{}
		b.offsets[r.Topic] = ps
	}
	ps[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
}

// Run consumes until ctx ends, then flushes what it holds, commits, leaves
// the group and returns. It returns an error only if it could not do so.
func (in *Ingestor) Run(ctx context.Context) error {
	defer func() {
		// Leaving the group waits for rebalances that BlockRebalanceOnPoll
		// holds back; nothing uncommitted is committed by leaving.
		in.cl.AllowRebalance()
		in.cl.Close()
	}()
	if in.cfg.CreateTopics {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := streams.EnsureTopics(tctx, in.cl, in.cfg.TopicPartitions, -1, append(in.cfg.Topics.Events(), in.cfg.Topics.DLQ())...)
		cancel()
		if err != nil {
			return err
		}
	}
	in.log.Info("ingestor starting", "kafka", in.cfg.Kafka.String(), "group", in.cfg.Group,
		"topics", in.cfg.Topics.Events(), "batch_rows", in.cfg.BatchRows, "batch_interval", in.cfg.BatchInterval, "warehouse", in.wh.Backend())
	// Batches go to ClickHouse as jobs (see job) on goroutines of their own
	// while this loop decodes the next batch; at most two are in flight.
	// Rebalances are allowed only when no batch is open or in flight.
	fctx, stopFlushes := context.WithCancel(context.WithoutCancel(ctx))
	var jobs []*job // in flight, oldest first
	// reap forgets finished jobs, first waiting until at most keep remain,
	// and returns the first error.
	reap := func(keep int) error {
		for len(jobs) > 0 {
			j := jobs[0]
			if len(jobs) > keep {
				<-j.done
			} else {
				select {
				case <-j.done:
				default:
					return nil
				}
			}
			jobs = jobs[1:]
			if j.err != nil {
				return j.err
			}
		}
		return nil
	}
	// Whatever the way out, no job outlives Run (or its Kafka client): an
	// unfinished one stops retrying and its batch stays uncommitted.
	defer func() {
		stopFlushes()
		for _, j := range jobs {
			<-j.done
		}
	}()
	b := newBatch()
	for {
		in.lastLoop.Store(time.Now().UnixNano())
		timeout := in.cfg.BatchInterval
		if b.n > 0 {
			timeout = time.Until(b.opened.Add(in.cfg.BatchInterval))
		}
		pctx, cancel := context.WithTimeout(ctx, max(timeout, time.Millisecond))
		fetches := in.cl.PollRecords(pctx, in.cfg.BatchRows-b.n)
		cancel()
		if ctx.Err() != nil {
			in.addFetches(b, fetches)
			// Give the jobs in flight and the last batch the shutdown
			// timeout, then stop retrying.
			t := time.AfterFunc(in.cfg.ShutdownTimeout, stopFlushes)
			defer t.Stop()
			if err := reap(0); err != nil {
				return fmt.Errorf("cannot flush a batch at shutdown (its offsets are not committed; it will be redelivered): %w", err)
			}
			return in.shutdown(fctx, b)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			in.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		if fetches.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		in.ready.Store(true)
		in.addFetches(b, fetches)
		in.buffered.Store(int64(b.n))
		if err := reap(2); err != nil {
			return err
		}
		if b.n >= in.cfg.BatchRows || (b.n > 0 && time.Since(b.opened) >= in.cfg.BatchInterval) {
			if err := reap(1); err != nil {
				return err
			}
			j := newJob(b, jobs)
			go in.flush(fctx, j)
			jobs = append(jobs, j)
			b = newBatch()
			in.buffered.Store(0)
		}
		if b.n == 0 && len(jobs) == 0 {
			in.cl.AllowRebalance()
		}
	}
}

// shutdown flushes the open batch and leaves the group. ctx bounds the
// flush's retries.
func (in *Ingestor) shutdown(ctx context.Context, b *batch) error {
	if b.n > 0 {
		j := newJob(b, nil)
		if in.flush(ctx, j); j.err != nil {
			return fmt.Errorf("cannot flush the last batch at shutdown (its offsets are not committed; it will be redelivered): %w", j.err)
		}
	}
	in.cl.AllowRebalance()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := in.cl.LeaveGroupContext(lctx); err != nil {
		in.log.Warn("cannot leave consumer group cleanly", "err", err)
	}
	in.log.Info("ingestor stopped", "stored", in.stored.Load(), "duplicates", in.dups.Load(), "invalid", in.invalid.Load())
	return nil
}

// addFetches decodes the polled records into the batch, in poll order.
// (Decoding on several goroutines was measured and did not pay on two
// cores: the broker and ClickHouse need them too.)
func (in *Ingestor) addFetches(b *batch, fetches kgo.Fetches) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		for _, r := range p.Records {
			in.add(b, r)
		}
		last := p.Records[len(p.Records)-1]
		in.m.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-last.Offset-1, 0)))
	})
}

// add decodes one record into the batch, or routes it to the DLQ.
func (in *Ingestor) add(b *batch, r *kgo.Record) {
	b.mark(r)
	if in.cfg.OnStored != nil {
		b.times = append(b.times, r.Timestamp)
	}
	d := in.decode(r)
	if d.kind != "" {
		b.dlq = append(b.dlq, streams.DeadLetter(in.cfg.Topics.DLQ(), r, d.kind, d.reason))
		b.kinds = append(b.kinds, d.kind)
		return
	}
	t := d.ev.Type()
	b.rows[t] = append(b.rows[t], warehouse.Row{Event: d.ev, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset})
}

// decoded is a decoded record, or why it goes to the DLQ.
type decoded struct {
	ev           schemas.Event
	kind, reason string
}

// decode decodes and checks one record. It is safe for concurrent use.
func (in *Ingestor) decode(r *kgo.Record) decoded {
	if len(r.Value) > in.cfg.MaxRecordBytes {
		return decoded{kind: "oversize", reason: fmt.Sprintf("record value is %d bytes, more than the limit of %d", len(r.Value), in.cfg.MaxRecordBytes)}
	}
	want, _ := in.cfg.Topics.TypeOf(r.Topic)
	h := streams.Header(r, schemas.HeaderSchema)
	if h == nil {
		return decoded{kind: "unknown_schema", reason: fmt.Sprintf("record has no %q header (want e.g. %s)", schemas.HeaderSchema, want.SchemaName())}
	}
	ev, err := schemas.Decode(string(h), r.Value)
	if err != nil {
		kind := "invalid_event"
		var de *schemas.DecodeError
		if errors.As(err, &de) {
			kind = de.Kind
		}
		return decoded{kind: kind, reason: err.Error()}
	}
	if ev.Type() != want {
		return decoded{kind: "wrong_topic", reason: fmt.Sprintf("a %s event on topic %s (want %s)", ev.Type(), r.Topic, want.Topic(in.cfg.Topics.Prefix))}
	}
	// Per-entity order and the race-free duplicate check both rest on the
	// record key being the event's key (the entity id for entity, exposure
	// and outcome events).
	if string(r.Key) != ev.Key() {
		return decoded{kind: "wrong_key", reason: fmt.Sprintf("record key %q is not the event's key %q (records are keyed by entity id, or by segment or intervention id for those events)", clip(r.Key), ev.Key())}
	}
	return decoded{ev: ev}
}

// job is one batch on its way to ClickHouse, in two stages. The lookup
// stage asks the warehouse which rows are new (warehouse.Splitter); the
// write stage stores them, writes the DLQ records and commits. Lookups run
// one at a time in batch order, and so do writes; the lookup of a batch
// overlaps the write of the batch before it, so it also drops the rows that
// write holds (ids). A write waits for the write before it and gives up if
// that one failed: offsets are committed in order, and never past a batch
// that was not stored.
type job struct {
	b      *batch
	prev   *job          // the job before, while it may be unfinished
	looked chan struct{} // closed when the lookup stage has ended
	done   chan struct{} // closed when the job has ended; err is then set
	fresh  map[schemas.Type][]warehouse.Row
	dups   map[schemas.Type]int
	ids    map[string]struct{} // event ids in fresh
	err    error
}

func newJob(b *batch, inflight []*job) *job {
	j := &job{b: b, looked: make(chan struct{}), done: make(chan struct{}),
		fresh: map[schemas.Type][]warehouse.Row{}, dups: map[schemas.Type]int{}, ids: map[string]struct{}{}}
	if len(inflight) > 0 {
		j.prev = inflight[len(inflight)-1]
	}
	return j
}

// flush runs job j to its end and records its error in j.err. Lookups,
// inserts and DLQ writes are retried until they succeed or ctx ends.
func (in *Ingestor) flush(ctx context.Context, j *job) {
	looked := false
	defer func() {
		if !looked {
			close(j.looked)
		}
		close(j.done)
	}()
	j.err = in.runJob(ctx, j, &looked)
}

func (in *Ingestor) runJob(ctx context.Context, j *job, looked *bool) error {
	start := time.Now()
	b := j.b
	sp, split := in.wh.(warehouse.Splitter)
	spent := map[schemas.Type]time.Duration{}
	if split {
		if j.prev != nil {
			<-j.prev.looked
		}
		for _, t := range schemas.Types {
			rows := b.rows[t]
			if len(rows) == 0 {
				continue
			}
			table := t.Plural()
			t0 := time.Now()
			var fresh []warehouse.Row
			var dups int
			err := in.retry(ctx, "look up stored "+table, func(ctx context.Context) error {
				var err error
				fresh, dups, err = sp.NewRows(ctx, t, rows)
				if err != nil {
					in.insertFailed(ctx, table, len(rows), err)
				}
				return err
			})
			if err != nil {
				return err
			}
			if j.prev != nil && len(j.prev.ids) > 0 {
				kept := fresh[:0]
				for _, r := range fresh {
					if _, held := j.prev.ids[r.Event.ID()]; held {
						dups++
						continue
					}
					kept = append(kept, r)
				}
				fresh = kept
			}
			for _, r := range fresh {
				j.ids[r.Event.ID()] = struct{}{}
			}
			j.fresh[t], j.dups[t], spent[t] = fresh, dups, time.Since(t0)
		}
	}
	close(j.looked)
	*looked = true
	if j.prev != nil {
		<-j.prev.done
		if j.prev.err != nil {
			return fmt.Errorf("an earlier batch was not stored: %w", j.prev.err)
		}
		j.prev = nil // let finished jobs be collected
	}
	for _, t := range schemas.Types {
		rows := b.rows[t]
		if len(rows) == 0 {
			continue
		}
		table := t.Plural()
		var res warehouse.InsertResult
		err := in.retry(ctx, "insert into "+table, func(ctx context.Context) error {
			t0 := time.Now()
			var err error
			if split {
				res.Inserted, err = sp.InsertUnchecked(ctx, t, j.fresh[t])
				res.Duplicates = j.dups[t]
			} else {
				res, err = in.wh.Insert(ctx, t, rows)
			}
			if err != nil {
				in.insertFailed(ctx, table, len(rows), err)
				return err
			}
			in.m.insertDuration.WithLabelValues(table).Observe((time.Since(t0) + spent[t]).Seconds())
			return nil
		})
		if err != nil {
			return err
		}
		topic := t.Topic(in.cfg.Topics.Prefix)
		in.m.records.WithLabelValues(topic, "ok").Add(float64(res.Inserted))
		in.m.records.WithLabelValues(topic, "duplicate").Add(float64(res.Duplicates))
		in.stored.Add(int64(res.Inserted))
		in.dups.Add(int64(res.Duplicates))
	}
	if len(b.dlq) > 0 {
		pending := b.dlq
		err := in.retry(ctx, "produce to "+in.cfg.Topics.DLQ(), func(ctx context.Context) error {
			var failed []*kgo.Record
			var first error
			for _, r := range in.cl.ProduceSync(ctx, pending...) {
				if r.Err != nil {
					failed = append(failed, r.Record)
					first = cmp.Or(first, r.Err)
				}
			}
			pending = failed
			if errors.Is(first, kerr.MessageTooLarge) || errors.Is(first, kerr.RecordListTooLarge) {
				// The topic cannot take the whole value: keep its head
				// and its length rather than stall the partition.
				for _, r := range pending {
					streams.Truncate(r, in.cfg.MaxRecordBytes)
				}
			}
			if first != nil {
				in.m.dlqErrors.Inc()
			}
			return first
		})
		if err != nil {
			return err
		}
		for i, r := range b.dlq {
			src := string(streams.Header(r, streams.DLQHeaderTopic))
			in.m.records.WithLabelValues(src, "invalid").Inc()
			in.m.dlq.WithLabelValues(b.kinds[i]).Inc()
			in.log.Warn("record sent to the DLQ", "topic", src,
				"partition", string(streams.Header(r, streams.DLQHeaderPartition)),
				"offset", string(streams.Header(r, streams.DLQHeaderOffset)),
				"kind", b.kinds[i], "err", string(streams.Header(r, streams.DLQHeaderError)))
		}
		in.invalid.Add(int64(len(b.dlq)))
	}
	if in.afterInsert != nil {
		if err := in.afterInsert(); err != nil {
			return err
		}
	}
	stored := time.Now()
	in.m.eventLag.Observe(stored.Sub(b.oldest).Seconds())
	if in.cfg.OnStored != nil {
		in.cfg.OnStored(b.times, stored)
	}
	in.commit(ctx, b)
	in.m.batchRows.Observe(float64(b.n))
	in.m.flushDuration.Observe(time.Since(start).Seconds())
	in.m.lastFlush.SetToCurrentTime()
	in.batchesOK.Add(1)
	return nil
}

// insertFailed counts and, for errors that do not look transient, logs a
// failed lookup or insert. The caller retries: dropping the batch would
// lose data; the insert-errors alert calls someone to fix the cause.
func (in *Ingestor) insertFailed(ctx context.Context, table string, rows int, err error) {
	in.m.insertErrors.WithLabelValues(table).Inc()
	if !warehouse.IsRetriable(err) && ctx.Err() == nil {
		in.log.Error("insert failed with an error that does not look transient; retrying until it is fixed", "table", table, "rows", rows, "err", err)
	}
}

// commit commits the batch's offsets. A failed commit is logged and counted,
// not retried: the next commit supersedes it, and a redelivery is harmless.
func (in *Ingestor) commit(ctx context.Context, b *batch) {
	var failed error
	in.cl.CommitOffsetsSync(ctx, b.offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			failed = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 && failed == nil {
					failed = fmt.Errorf("topic %s partition %d: error code %d", t.Topic, p.Partition, p.ErrorCode)
				}
			}
		}
	})
	if failed != nil {
		in.m.commitErrors.Inc()
		in.log.Warn("cannot commit offsets; the batch will be redelivered and deduplicated", "rows", b.n, "err", failed)
	}
}

// retry runs fn until it succeeds or ctx ends, sleeping with jittered
// exponential backoff between attempts.
func (in *Ingestor) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	backoff := in.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 {
				in.log.Info("recovered after retries", "op", what, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cannot %s: %w", what, err)
		}
		in.log.Warn("retrying", "op", what, "attempt", attempt, "backoff", backoff, "err", err)
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot %s: %w", what, err)
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, in.cfg.RetryMax)
		in.lastLoop.Store(time.Now().UnixNano())
	}
}

func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
