package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/simulation"
	"github.com/preflight-hq/preflight/streams"
)

// loaded is one scope's engine and the snapshot version it was built from.
type loaded struct {
	version uint64
	engine  *simulation.Engine
}

// SnapshotStore follows the compacted calibration topic and keeps one
// simulation.Engine per scope, built from the newest snapshot version seen.
//
// Concurrency: Run is the only writer. Readers (Engine) load an immutable
// map of scopes through an atomic.Pointer, so a newer snapshot replaces its
// scope's engine atomically: a request that already holds the old engine
// finishes on it, every later one gets the new one.
type SnapshotStore struct {
	kafka  streams.KafkaConfig
	topic  string
	opts   simulation.Options
	log    *slog.Logger
	extra  []kgo.Opt
	scopes atomic.Pointer[map[string]*loaded]
	ready  atomic.Bool
	// readyCh is closed when the store has caught up.
	readyCh   chan struct{}
	readyOnce sync.Once
	errs      atomic.Int64
	metrics   *Metrics
	idleReady time.Duration
}

// StoreConfig configures a SnapshotStore.
type StoreConfig struct {
	Kafka streams.KafkaConfig
	// Topic is the compacted snapshot topic, "<prefix>calibration".
	Topic string
	// Engine configures every engine built; share its Cache across
	// versions (NewSnapshotStore sets one when nil).
	Engine simulation.Options
	Logger *slog.Logger
	// ClientOpts are extra franz-go options (tests).
	ClientOpts []kgo.Opt
	// Metrics receives loads, errors and readiness (nil: none).
	Metrics *Metrics
	// IdleReady declares the store ready when it has been told of records
	// up to the end offsets it found at start but a partition delivered
	// nothing for this long (default 10s): the end can be a transaction
	// marker or a compacted-away offset, which no record reports.
	IdleReady time.Duration
}

// NewSnapshotStore returns a store; Run fills it.
func NewSnapshotStore(cfg StoreConfig) (*SnapshotStore, error) {
	if cfg.Topic == "" {
		return nil, errors.New("snapshot store: topic is required")
	}
	if err := cfg.Kafka.Validate(); err != nil {
		return nil, err
	}
	if cfg.Engine.Cache == nil {
		cfg.Engine.Cache = simulation.NewCache(simulation.DefaultCacheEntries)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil, cfg.Engine.Cache)
	}
	if cfg.IdleReady <= 0 {
		cfg.IdleReady = 10 * time.Second
	}
	s := &SnapshotStore{kafka: cfg.Kafka, topic: cfg.Topic, opts: cfg.Engine, log: cfg.Logger,
		extra: cfg.ClientOpts, readyCh: make(chan struct{}), metrics: cfg.Metrics, idleReady: cfg.IdleReady}
	empty := map[string]*loaded{}
	s.scopes.Store(&empty)
	return s, nil
}

// Engine returns the engine of scope and its snapshot version, or nil.
func (s *SnapshotStore) Engine(scope string) (*simulation.Engine, uint64) {
	l := (*s.scopes.Load())[scope]
	if l == nil {
		return nil, 0
	}
	return l.engine, l.version
}

// Scopes returns how many scopes have an engine.
func (s *SnapshotStore) Scopes() int { return len(*s.scopes.Load()) }

// Ready reports nil once the store has read the topic up to its end
// offsets as they were when Run started.
func (s *SnapshotStore) Ready(context.Context) error {
	if s.ready.Load() {
		return nil
	}
	return errors.New("calibration snapshots not loaded yet")
}

// WaitReady blocks until the store is ready or ctx ends.
func (s *SnapshotStore) WaitReady(ctx context.Context) error {
	select {
	case <-s.readyCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Apply installs snapshot value b unless the scope already has a version
// at least as new. It is what Run calls per record; exported for tests and
// for feeding snapshots from elsewhere. It must not be called concurrently
// with Run.
func (s *SnapshotStore) Apply(b []byte) error {
	snap, err := calibration.Decode(b)
	if err != nil {
		return err
	}
	cur := *s.scopes.Load()
	if l := cur[snap.Scope]; l != nil && l.version >= snap.Version {
		return nil
	}
	eng, err := simulation.NewEngine(snap, s.opts)
	if err != nil {
		return fmt.Errorf("calibration snapshot %q v%d: %w", snap.Scope, snap.Version, err)
	}
	next := make(map[string]*loaded, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[snap.Scope] = &loaded{version: snap.Version, engine: eng}
	s.scopes.Store(&next)
	s.metrics.snapshotLoaded(snap.Scope, snap.Version, snap.CreatedAt, min(max(snap.Quality.HistoricalAccuracy, 0), 1), snap.Quality.DriftDetected)
	s.log.Info("calibration snapshot loaded", "scope", snap.Scope, "version", snap.Version)
	return nil
}

func (s *SnapshotStore) markReady() {
	s.readyOnce.Do(func() {
		s.ready.Store(true)
		s.metrics.ready.Set(1)
		close(s.readyCh)
	})
}

// Run consumes the topic from the beginning, with no consumer group, until
// ctx ends. A record that is not a valid snapshot is logged and skipped;
// a tombstone is ignored (the engine stays: a scope is never unloaded
// while running).
func (s *SnapshotStore) Run(ctx context.Context) error {
	opts, err := s.kafka.ClientOpts()
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ConsumeTopics(s.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	opts = append(opts, s.extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	// The end offsets at start are what "caught up" means. A partition is
	// caught up when a record at or past end−1 arrives, or when a fetch
	// reports a high watermark it has read to; should neither ever be seen
	// (the last offsets are a transaction marker or compacted away and the
	// broker sends no empty fetches), IdleReady without any record ends
	// the wait.
	pending := map[int32]int64{}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("snapshot store: end offsets of %s: %w", s.topic, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			pending[o.Partition] = o.Offset
		}
	})
	if len(pending) == 0 {
		s.markReady()
	}
	caughtUp := func(p int32, next int64) {
		if end, ok := pending[p]; ok && next >= end {
			delete(pending, p)
			if len(pending) == 0 {
				s.markReady()
			}
		}
	}
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if len(pending) > 0 {
			pctx, cancel = context.WithTimeout(ctx, s.idleReady)
		}
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if len(pending) > 0 && pctx.Err() != nil && fs.NumRecords() == 0 {
			s.log.Warn("calibration topic idle before its start-time end offsets were seen; ready with what was read", "partitions_pending", len(pending), "idle", s.idleReady)
			clear(pending)
			s.markReady()
			continue
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				s.log.Warn("calibration topic fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if len(r.Value) > 0 {
					if err := s.Apply(r.Value); err != nil {
						s.errs.Add(1)
						s.metrics.loadErrs.Inc()
						s.log.Error("calibration snapshot skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
					}
				}
				caughtUp(r.Partition, r.Offset+1)
			}
			if n := len(p.Records); n > 0 && p.HighWatermark > 0 && p.Records[n-1].Offset+1 >= p.HighWatermark {
				caughtUp(p.Partition, p.HighWatermark)
			}
		})
	}
}
