// Package service is the long-running calibrator. Each scope (an industry
// or a tenant) has one loop, run by exactly one member of the calibrator
// group at a time. Every RefreshInterval the loop refreshes the moments
// ingested since the scope's watermark and moves the watermark, feeds each
// complete day's moments to drift detectors, publishes a drift event on an
// alarm, and retunes the calibration on drift or on schedule, publishing the
// new snapshot to the compacted topic <prefix>calibration and to the
// warehouse.
//
// # Ownership
//
// A scope is owned through a Kafka consumer group (Config.Group) on the
// topic <prefix>calibration.scopes, which has a fixed partition count and
// carries no records. Scope s belongs to partition FNV-1a(s) mod
// Partitions (ScopePartition), and the member assigned a partition runs the
// loops of its scopes. The franz-go hooks do the handing over:
// OnPartitionsAssigned starts loops, OnPartitionsRevoked and
// OnPartitionsLost stop them and wait for them to end before returning.
//
// Why this gives at most one active writer per scope: Kafka's group
// protocol assigns each partition to one member per generation. With the
// cooperative-sticky balancer a partition that moves is first revoked from
// its old owner, whose OnPartitionsRevoked returns only after the scope's
// loop has stopped (its last publish done or abandoned), and only then, in
// the next rebalance, is it assigned to the new owner. A member that loses
// its session (a fatal group error: fenced, unknown member) gets
// OnPartitionsLost and stops its loops there, and a member that shuts down
// stops its loops before it leaves the group.
//
// The residual risk is a member that stops running (a long GC pause, a
// SIGSTOPped or swapped-out process, a chDB query that cannot be cancelled)
// for longer than the session timeout: the broker gives its partitions to
// another member while the paused loop has not yet noticed, and when it
// resumes it may finish one refresh and one publish before its client sees
// the fence and calls OnPartitionsLost. Snapshots stay safe anyway: a
// snapshot's version is read at publish time as the scope's highest stored
// version plus one, so versions are monotone per scope, and every reader
// (LatestSnapshot, a consumer of the compacted topic keeping the highest
// version per key) takes the highest version; the two writers' snapshots are
// both complete calibrations. Watermarks only move the incremental refresh,
// which is idempotent (moments are recomputed, never incremented), and drift
// event ids are derived from their content, so the warehouse stores a
// double alarm once (the Kafka topic may carry it twice).
package service

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

// Warehouse is what the calibrator needs of the warehouse: the
// calibration tables, the daily moments and a liveness check. A
// warehouse.Warehouse whose backend implements warehouse.Calibrations has
// all of it.
type Warehouse interface {
	warehouse.Calibrations
	ExposureMoments(ctx context.Context, f warehouse.MomentFilter) ([]warehouse.ExposureMoment, error)
	OutcomeMoments(ctx context.Context, f warehouse.MomentFilter) ([]warehouse.OutcomeMoment, error)
	Ping(ctx context.Context) error
}

// CalibrateFunc makes a new calibration of scope on the data up to end.
// reason is "initial", "schedule" or "drift"; prev is the current snapshot,
// nil for the first. The service sets the returned snapshot's Scope,
// Version and CreatedAt when it publishes it. cmd/calibrator wires it to
// calibration.Calibrate.
type CalibrateFunc func(ctx context.Context, scope string, end time.Time, reason string, prev *calibration.Snapshot) (*calibration.Snapshot, error)

// Deps are the components a Service is built from.
type Deps struct {
	// Warehouse is read and written by every scope loop; it must be safe
	// for concurrent use.
	Warehouse Warehouse
	// Calibrate makes snapshots.
	Calibrate CalibrateFunc
	// Detectors run on every moment stream (default DefaultDetectors()).
	Detectors []DetectorFactory
	// Log receives the service's logs (default slog.Default()).
	Log *slog.Logger
	// Metrics receives the service's metrics (required).
	Metrics *Metrics
}

// Service is one member of the calibrator group. Run owns the Kafka client,
// the poll goroutine and every scope loop, and returns only after all of
// them ended. A Service is used for one Run.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
	m   *Metrics

	// byPartition lists the configured scopes of each partition.
	byPartition map[int32][]string

	cl      atomic.Pointer[kgo.Client]
	settled atomic.Bool // an assignment is in place (cleared while a rebalance revokes, or when lost)

	mu      sync.Mutex // guards loops and runCtx
	loops   map[string]*scopeLoop
	runCtx  context.Context
	stopped bool // Run is past its shutdown; no loop may start

	// onOwn, when set by tests, is called when a scope's loop starts
	// (owned=true, before it does anything) and after it has ended
	// (owned=false).
	onOwn func(scope string, owned bool)
	// now, when set by tests, replaces time.Now as the clock that decides
	// which days are complete and where a retune's window ends, so that a
	// test can replay a synthetic world of past days as if they were
	// arriving. It must be safe for concurrent use.
	now func() time.Time
	// onRefresh, when set by tests, is called by a scope's loop after each
	// refresh with the last day given to the detectors (after any retune
	// of that refresh) and the refresh's error.
	onRefresh func(scope string, fedThrough time.Time, err error)
}

// clock returns the time the loops go by: time.Now unless a test set now.
func (s *Service) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// New builds a Service. It connects nothing; Run does the work.
func New(cfg Config, d Deps) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid calibrator config: %w", err)
	}
	if d.Warehouse == nil || d.Calibrate == nil || d.Metrics == nil {
		return nil, errors.New("calibrator: Deps.Warehouse, Deps.Calibrate and Deps.Metrics are required")
	}
	if d.Detectors == nil {
		d.Detectors = DefaultDetectors()
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Service{cfg: cfg, d: d, log: d.Log, m: d.Metrics, byPartition: map[int32][]string{}, loops: map[string]*scopeLoop{}}
	for _, sc := range cfg.Scopes {
		p := ScopePartition(sc, cfg.Partitions)
		s.byPartition[p] = append(s.byPartition[p], sc)
	}
	return s, nil
}

// ScopePartition returns the partition of the scopes topic that carries
// scope: the 32-bit FNV-1a hash of its name modulo partitions. It is stable
// across processes, versions and platforms; that is all ownership needs.
func ScopePartition(scope string, partitions int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(scope))
	return int32(h.Sum32() % uint32(partitions))
}

// Run joins the group, runs the loops of the scopes assigned to this
// member until ctx ends, then stops them, leaves the group and returns. It
// returns an error only if it could not start.
func (s *Service) Run(ctx context.Context) error {
	base, err := s.cfg.Kafka.ClientOpts()
	if err != nil {
		return err
	}
	if err := s.ensureTopics(ctx, base); err != nil {
		return err
	}
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	cl, err := kgo.NewClient(append(base,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.ScopesTopic()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client: %w", err)
	}
	s.cl.Store(cl)
	s.log.Info("calibrator starting", "kafka", s.cfg.Kafka.String(), "group", s.cfg.Group, "topic", s.cfg.ScopesTopic(),
		"scopes", s.cfg.Scopes, "refresh_interval", s.cfg.RefreshInterval, "retune_interval", s.cfg.RetuneInterval)

	// The scopes topic carries no records; polling keeps the consumer
	// side of the client turning and drops anything a stray producer
	// writes there.
	pctx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pctx.Err() == nil {
			if f := cl.PollFetches(pctx); f.IsClientClosed() {
				return
			}
		}
	}()
	<-ctx.Done()
	stopPoll()
	<-polled

	// Stop every loop before leaving the group, so that no other member
	// is given a scope whose loop still runs here.
	s.mu.Lock()
	s.stopped = true
	all := make([]string, 0, len(s.loops))
	for sc := range s.loops {
		all = append(all, sc)
	}
	s.mu.Unlock()
	s.stopScopes(all)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.LeaveGroupContext(lctx); err != nil {
		s.log.Warn("cannot leave consumer group cleanly", "group", s.cfg.Group, "err", err)
	}
	cl.Close()
	s.settled.Store(false)
	s.log.Info("calibrator stopped")
	return nil
}

// ensureTopics creates the scopes topic, the drift topic and the compacted
// snapshot topic, and checks that the scopes topic has the configured
// partition count.
func (s *Service) ensureTopics(ctx context.Context, base []kgo.Opt) error {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client: %w", err)
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := streams.EnsureTopics(tctx, cl, s.cfg.Partitions, s.cfg.TopicReplication, s.cfg.ScopesTopic(), s.cfg.DriftTopic()); err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	compact := "compact"
	resp, err := adm.CreateTopics(tctx, s.cfg.Partitions, s.cfg.TopicReplication, map[string]*string{"cleanup.policy": &compact}, s.cfg.SnapshotTopic())
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", s.cfg.SnapshotTopic(), err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("cannot create topic %s: %w", r.Topic, r.Err)
		}
	}
	td, err := adm.ListTopics(tctx, s.cfg.ScopesTopic())
	if err != nil {
		return fmt.Errorf("cannot describe topic %s: %w", s.cfg.ScopesTopic(), err)
	}
	t, ok := td[s.cfg.ScopesTopic()]
	if !ok || t.Err != nil {
		return fmt.Errorf("cannot describe topic %s: %v", s.cfg.ScopesTopic(), t.Err)
	}
	if n := int32(len(t.Partitions)); n != s.cfg.Partitions {
		return fmt.Errorf("topic %s has %d partitions but scope partitions is %d: every replica must hash scopes over the topic's partition count; set -scope-partitions=%d", s.cfg.ScopesTopic(), n, s.cfg.Partitions, n)
	}
	return nil
}

// assigned is the OnPartitionsAssigned hook: it starts the loops of the
// scopes of the new partitions. With the cooperative balancer it gets only
// the partitions added in this rebalance (possibly none).
func (s *Service) assigned(_ context.Context, _ *kgo.Client, added map[string][]int32) {
	for _, p := range added[s.cfg.ScopesTopic()] {
		for _, sc := range s.byPartition[p] {
			s.startScope(sc)
		}
	}
	s.settled.Store(true)
	s.log.Info("partitions assigned", "topic", s.cfg.ScopesTopic(), "partitions", added[s.cfg.ScopesTopic()], "owned", s.Owned())
}

// revoked is the OnPartitionsRevoked hook: it stops the loops of the
// scopes of the revoked partitions and returns after they ended, so the
// partitions are released only then.
func (s *Service) revoked(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.release("revoked", gone)
}

// lost is the OnPartitionsLost hook: the session is gone and another
// member may already own the partitions, so the loops stop at once.
func (s *Service) lost(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.settled.Store(false)
	s.release("lost", gone)
}

func (s *Service) release(why string, gone map[string][]int32) {
	parts := gone[s.cfg.ScopesTopic()]
	if len(parts) == 0 {
		return
	}
	s.settled.Store(false)
	var scopes []string
	for _, p := range parts {
		scopes = append(scopes, s.byPartition[p]...)
	}
	s.stopScopes(scopes)
	level := slog.LevelInfo
	if why == "lost" {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "partitions "+why, "topic", s.cfg.ScopesTopic(), "partitions", parts, "owned", s.Owned())
}

// startScope starts scope's loop unless it runs already.
func (s *Service) startScope(scope string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.runCtx == nil || s.loops[scope] != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	l := &scopeLoop{s: s, scope: scope, cancel: cancel, done: make(chan struct{}), log: s.log.With("scope", scope), startedAt: time.Now()}
	s.loops[scope] = l
	s.m.ownedScopes.Set(float64(len(s.loops)))
	if s.onOwn != nil {
		s.onOwn(scope, true)
	}
	go l.run(ctx)
}

// stopScopes cancels the loops of scopes, waits for each to end (at most
// StopTimeout altogether) and forgets them.
func (s *Service) stopScopes(scopes []string) {
	s.mu.Lock()
	var ls []*scopeLoop
	for _, sc := range scopes {
		if l := s.loops[sc]; l != nil {
			l.cancel()
			ls = append(ls, l)
		}
	}
	s.mu.Unlock()
	deadline := time.NewTimer(s.cfg.StopTimeout)
	defer deadline.Stop()
	for _, l := range ls {
		select {
		case <-l.done:
		case <-deadline.C:
			// Only an uncancellable query keeps a loop this long; it
			// publishes nothing more once its context is cancelled.
			l.log.Error("scope loop did not stop in time; releasing its partition anyway", "timeout", s.cfg.StopTimeout)
		}
		s.mu.Lock()
		if s.loops[l.scope] == l {
			delete(s.loops, l.scope)
		}
		s.m.ownedScopes.Set(float64(len(s.loops)))
		s.mu.Unlock()
	}
}

// Owned returns the scopes whose loops run in this member, sorted.
func (s *Service) Owned() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.loops))
	for sc := range s.loops {
		out = append(out, sc)
	}
	slices.Sort(out)
	return out
}

// Ready returns nil when this member has joined its group, holds a settled
// assignment, every owned scope's loop has loaded or made its snapshot,
// and the warehouse answers.
func (s *Service) Ready(ctx context.Context) error {
	cl := s.cl.Load()
	if cl == nil {
		return errors.New("calibrator has not started its kafka client yet")
	}
	if member, _ := cl.GroupMetadata(); member == "" {
		return fmt.Errorf("calibrator has not joined consumer group %s", s.cfg.Group)
	}
	if !s.settled.Load() {
		return errors.New("calibrator has no settled partition assignment (rebalance in progress)")
	}
	s.mu.Lock()
	var waiting []string
	for sc, l := range s.loops {
		if !l.started.Load() {
			waiting = append(waiting, sc)
		}
	}
	s.mu.Unlock()
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return fmt.Errorf("scopes %v have not loaded their snapshot yet", waiting)
	}
	return s.d.Warehouse.Ping(ctx)
}

// Healthy returns an error when an owned scope has had no successful
// refresh for five refresh intervals plus a minute (counted from the start
// of its loop when it has had none; the initial calibration counts too).
func (s *Service) Healthy(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for sc, l := range s.loops {
		last := l.lastOK.Load()
		if last == 0 {
			last = l.startedAt.UnixNano()
		}
		if age := time.Since(time.Unix(0, last)); age > 5*s.cfg.RefreshInterval+time.Minute {
			errs = append(errs, fmt.Errorf("scope %s: no successful refresh for %s", sc, age.Round(time.Second)))
		}
	}
	return errors.Join(errs...)
}
