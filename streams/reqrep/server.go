package reqrep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/streams"
)

// Handler computes the reply to one request. ctx ends at the request's
// deadline (or ServerConfig.HandlerTimeout, whichever is first) and when
// the server stops hard. A returned *ReplyError (possibly wrapped) chooses
// the error kind; any other error becomes KindInternal, and a ctx deadline
// error becomes KindTimeout. Handlers run concurrently on the worker pool.
type Handler func(ctx context.Context, req Request) (Reply, error)

// ServerConfig configures a Server. Zero values take the documented
// defaults.
type ServerConfig struct {
	// Kafka says how to reach the brokers.
	Kafka streams.KafkaConfig
	// Topic is the request topic (required).
	Topic string
	// Group is the consumer group id (default "preflight-reqrep"). Scale
	// out by running more Servers in the same group; at most one per
	// request-topic partition does work.
	Group string
	// AllowedReplyTopics lists the topics replies may go to (at least one
	// is required). An entry ending in "*" allows every topic with that
	// prefix. A request naming any other reply topic is refused: nothing
	// is written, it is logged and counted (result "refused").
	AllowedReplyTopics []string
	// Workers is the number of requests handled at once (default 8).
	Workers int
	// MaxPollRecords caps the records taken per poll (default Workers).
	// A poll's records are handled by the worker pool in any order; their
	// offsets are committed when all of their replies are acknowledged, and
	// the next poll waits for that. Rebalances are held back meanwhile, so
	// ceil(MaxPollRecords/Workers) × HandlerTimeout must stay under the
	// group's rebalance timeout (franz-go default 60s), or a slow batch gets
	// the member expelled and its requests recomputed elsewhere.
	MaxPollRecords int
	// HandlerTimeout bounds each handler call, also for requests without a
	// deadline header (default 30s).
	HandlerTimeout time.Duration
	// CacheSize is the number of replies kept for redelivered requests
	// (default 10000 entries).
	CacheSize int
	// CacheTTL is how long a computed reply is kept (default 10m).
	CacheTTL time.Duration
	// ShutdownTimeout bounds, after Run's context ends, the requests in
	// flight and their replies (default 30s). After it their handler
	// contexts are cancelled and their offsets are not committed.
	ShutdownTimeout time.Duration
	// DLQTopic, if set, receives malformed requests (missing or invalid
	// reqrep headers) with streams.DeadLetter's headers, kind
	// "invalid_request". Empty: they are only logged.
	DLQTopic string
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// Registerer receives the server's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// ClientOpts are extra franz-go options, appended last (for tests and
	// tuning, e.g. kgo.SessionTimeout).
	ClientOpts []kgo.Opt
}

func (c *ServerConfig) setDefaults() {
	if c.Group == "" {
		c.Group = "preflight-reqrep"
	}
	if c.Workers <= 0 {
		c.Workers = 8
	}
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = c.Workers
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 30 * time.Second
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 10000
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = 10 * time.Minute
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports what is wrong with the configuration.
func (c ServerConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("reqrep server: a request topic is required"))
	}
	if len(c.AllowedReplyTopics) == 0 {
		errs = append(errs, errors.New("reqrep server: the reply-topic allow-list is empty, so every request would be refused"))
	}
	for _, t := range c.AllowedReplyTopics {
		if t == "" || t == "*" {
			errs = append(errs, fmt.Errorf("reqrep server: allow-list entry %q would allow any topic", t))
		}
	}
	return errors.Join(errs...)
}

// Server answers requests from a topic, as one member of a consumer group.
// Build it with NewServer and call Run once.
type Server struct {
	cfg     ServerConfig
	handler Handler
	log     *slog.Logger
	m       *metrics
	cache   *replyCache
}

// NewServer checks cfg and returns a server that calls handler for each
// request. It opens no connection: Run does.
func NewServer(cfg ServerConfig, handler Handler) (*Server, error) {
	if handler == nil {
		return nil, errors.New("reqrep server: handler is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Server{cfg: cfg, handler: handler, log: cfg.Logger, m: newMetrics(cfg.Registerer),
		cache: newReplyCache(cfg.CacheSize, cfg.CacheTTL)}, nil
}

// Run consumes requests until ctx ends, then finishes the requests it has
// read (within ShutdownTimeout), commits, leaves the group and returns. The
// worker goroutines and the Kafka client live only inside Run. It returns an
// error only if it could not start.
func (s *Server) Run(ctx context.Context) error {
	kopts, err := s.cfg.Kafka.ClientOpts()
	if err != nil {
		return err
	}
	kopts = append(kopts,
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(replyPartitioner()),
		kgo.ProducerLinger(0), // each reply is awaited; lingering only adds latency
	)
	kopts = append(kopts, s.cfg.ClientOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("cannot create kafka client for reqrep server: %w", err)
	}
	defer cl.Close()

	// hctx is what handlers and reply writes run under: it survives ctx by
	// ShutdownTimeout, so a graceful stop finishes the requests in flight.
	hctx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	var timerMu sync.Mutex
	var hardTimer *time.Timer
	stopWatch := context.AfterFunc(ctx, func() {
		timerMu.Lock()
		hardTimer = time.AfterFunc(s.cfg.ShutdownTimeout, hardStop)
		timerMu.Unlock()
	})
	defer func() {
		stopWatch()
		timerMu.Lock()
		if hardTimer != nil {
			hardTimer.Stop()
		}
		timerMu.Unlock()
	}()

	jobs := make(chan *job)
	var workers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Go(func() {
			for j := range jobs {
				j.settled = s.process(hctx, cl, j.rec)
				j.wg.Done()
			}
		})
	}
	defer func() {
		close(jobs)
		workers.Wait()
	}()

	s.log.Info("reqrep server starting", "kafka", s.cfg.Kafka.String(), "group", s.cfg.Group, "topic", s.cfg.Topic,
		"workers", s.cfg.Workers, "allowed_reply_topics", s.cfg.AllowedReplyTopics)
	for {
		fetches := cl.PollRecords(ctx, s.cfg.MaxPollRecords)
		if fetches.IsClientClosed() {
			return errors.New("reqrep server: kafka client closed")
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			s.log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		if recs := fetches.Records(); len(recs) > 0 {
			s.handleBatch(hctx, cl, jobs, recs)
		}
		cl.AllowRebalance()
		if ctx.Err() != nil {
			break
		}
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.LeaveGroupContext(lctx); err != nil {
		s.log.Warn("cannot leave consumer group cleanly", "group", s.cfg.Group, "err", err)
	}
	s.log.Info("reqrep server stopped", "group", s.cfg.Group, "topic", s.cfg.Topic)
	return nil
}

// job is one request record handed to a worker.
type job struct {
	rec     *kgo.Record
	wg      *sync.WaitGroup
	settled bool // set by the worker before wg.Done
}

// handleBatch runs one poll's records on the worker pool, waits for all of
// them, and commits, per partition, the offsets up to the first record that
// is not settled (its reply was not acknowledged because the server stopped
// hard); that record and the ones after it are redelivered.
func (s *Server) handleBatch(ctx context.Context, cl *kgo.Client, jobs chan<- *job, recs []*kgo.Record) {
	var wg sync.WaitGroup
	js := make([]*job, len(recs))
	for i, r := range recs {
		js[i] = &job{rec: r, wg: &wg}
		wg.Add(1)
		jobs <- js[i]
	}
	wg.Wait()
	var commit []*kgo.Record
	blocked := map[string]map[int32]bool{}
	for _, j := range js { // records of one partition are in offset order
		r := j.rec
		if blocked[r.Topic][r.Partition] {
			continue
		}
		if !j.settled {
			if blocked[r.Topic] == nil {
				blocked[r.Topic] = map[int32]bool{}
			}
			blocked[r.Topic][r.Partition] = true
			continue
		}
		commit = append(commit, r)
	}
	if len(commit) == 0 {
		return
	}
	if err := cl.CommitRecords(ctx, commit...); err != nil {
		s.log.Warn("cannot commit request offsets; the requests will be redelivered and answered from the cache", "topic", s.cfg.Topic, "records", len(commit), "err", err)
	}
}

// process answers one request record. It returns false when the request
// must not be committed: ctx ended before its reply was acknowledged.
func (s *Server) process(ctx context.Context, cl *kgo.Client, rec *kgo.Record) bool {
	start := time.Now()
	req, perr := parseRequest(rec)
	log := s.log.With("topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
	if req.ReplyTopic == "" {
		log.Error("request without a reply topic; no reply possible", "correlation_id", printable(req.CorrelationID), "err", perr)
		s.deadLetter(ctx, cl, rec, perr)
		s.m.requests.WithLabelValues(resultInvalid).Inc()
		return true
	}
	log = log.With("reply_topic", req.ReplyTopic, "correlation_id", printable(req.CorrelationID))
	if !s.allowed(req.ReplyTopic) {
		log.Warn("reply topic is not in the allow-list; request refused, nothing written")
		s.m.requests.WithLabelValues(resultRefused).Inc()
		return true
	}
	if perr != nil {
		log.Error("malformed request; sending a validation error reply", "err", perr)
		s.deadLetter(ctx, cl, rec, perr)
		return s.send(ctx, cl, log, req, cachedReply{kind: KindValidation, message: perr.Error()}, resultInvalid, start)
	}
	if !req.Deadline.IsZero() && !start.Before(req.Deadline) {
		log.Info("request expired before it was handled", "deadline", req.Deadline)
		s.m.expired.Inc()
		return s.send(ctx, cl, log, req, cachedReply{kind: KindTimeout,
			message: fmt.Sprintf("request expired %s before it was read", start.Sub(req.Deadline).Round(time.Millisecond))}, resultExpired, start)
	}

	e, compute := s.cache.acquire(cacheKey(req.CorrelationID, req.ReplyTopic))
	if !compute {
		select {
		case <-e.done:
		case <-ctx.Done():
			return false
		}
		if e.reply.kind == abandoned {
			return false
		}
		s.m.duplicates.Inc()
		log.Info("duplicate request answered from the cache")
		return s.send(ctx, cl, log, req, e.reply, resultDuplicate, start)
	}
	cr := s.call(ctx, req)
	s.cache.finish(e, cr, cr.kind != KindTimeout && cr.kind != abandoned)
	if cr.kind == abandoned {
		return false
	}
	result := resultOK
	if cr.kind != "" {
		result = resultError
		log.Info("handler returned an error; sending an error reply", "kind", cr.kind, "err", cr.message)
	}
	return s.send(ctx, cl, log, req, cr, result, start)
}

// abandoned marks a computation cut short by a hard stop: nothing is sent
// and the request is redelivered.
const abandoned ErrorKind = "\x00abandoned"

// call runs the handler with a context bounded by the request's deadline
// and HandlerTimeout, and turns its result into a reply.
func (s *Server) call(ctx context.Context, req Request) (cr cachedReply) {
	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandlerTimeout)
	defer cancel()
	if !req.Deadline.IsZero() {
		var c2 context.CancelFunc
		hctx, c2 = context.WithDeadline(hctx, req.Deadline)
		defer c2()
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", "topic", req.Topic, "partition", req.Partition, "offset", req.Offset, "panic", p)
			cr = cachedReply{kind: KindInternal, message: fmt.Sprintf("handler panicked: %v", p)}
		}
	}()
	rep, err := s.handler(hctx, req)
	switch {
	case err == nil:
		cr = cachedReply{value: rep.Value, key: rep.Key}
		for _, h := range rep.Headers {
			cr.headers = append(cr.headers, kHeader{h.Key, h.Value})
		}
		return cr
	case ctx.Err() != nil:
		return cachedReply{kind: abandoned}
	}
	var re *ReplyError
	switch {
	case errors.As(err, &re):
		return cachedReply{kind: re.Kind, message: re.Message}
	case errors.Is(err, context.DeadlineExceeded) && hctx.Err() != nil:
		return cachedReply{kind: KindTimeout, message: err.Error()}
	default:
		return cachedReply{kind: KindInternal, message: err.Error()}
	}
}

// send writes the reply to req and waits for the broker's acknowledgement.
// It returns false only when ctx ended first (the request is redelivered).
// A reply the broker refuses for good (e.g. a reply partition that does not
// exist) is logged and counted as lost, and the request is committed: a
// redelivery would fail the same way.
func (s *Server) send(ctx context.Context, cl *kgo.Client, log *slog.Logger, req Request, cr cachedReply, result string, start time.Time) bool {
	key := cr.key
	if key == nil {
		key = req.Key
	}
	r := &kgo.Record{Topic: req.ReplyTopic, Partition: req.ReplyPartition, Key: key, Value: cr.value}
	if req.CorrelationID != nil {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderCorrelationID, Value: req.CorrelationID})
	}
	for _, h := range cr.headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.key, Value: h.value})
	}
	if cr.kind != "" {
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: HeaderError, Value: []byte(cr.kind)},
			kgo.RecordHeader{Key: HeaderErrorMessage, Value: []byte(cr.message)})
	}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		if ctx.Err() != nil {
			return false
		}
		log.Error("cannot write reply; the requester will time out", "reply_partition", req.ReplyPartition, "err", err)
		s.m.requests.WithLabelValues(resultLost).Inc()
		return true
	}
	s.m.requests.WithLabelValues(result).Inc()
	s.m.duration.Observe(time.Since(start).Seconds())
	return true
}

// deadLetter writes a malformed request to the DLQ topic, if one is set.
func (s *Server) deadLetter(ctx context.Context, cl *kgo.Client, rec *kgo.Record, reason error) {
	if s.cfg.DLQTopic == "" {
		return
	}
	d := streams.DeadLetter(s.cfg.DLQTopic, rec, "invalid_request", reason.Error())
	d.Partition = -1
	if err := cl.ProduceSync(ctx, d).FirstErr(); err != nil {
		s.log.Error("cannot write malformed request to the dead-letter topic", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
	}
}

// allowed reports whether topic is in the allow-list.
func (s *Server) allowed(topic string) bool {
	for _, a := range s.cfg.AllowedReplyTopics {
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(topic, p) {
				return true
			}
		} else if a == topic {
			return true
		}
	}
	return false
}

// replyPartitioner sends a record to its Partition field when that is set
// (≥ 0; a partition the topic lacks fails the record), and round-robins
// records whose Partition is -1.
func replyPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		next := 0 // a topic's partitioner is used by one record at a time
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 {
				return int(r.Partition)
			}
			next = (next + 1) % n
			return next
		}
	})
}

// printable renders a correlation id for logs: as text when it is printable
// UTF-8, in hex otherwise (e.g. Spring's 16 raw UUID bytes).
func printable(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return string(b)
	}
	return fmt.Sprintf("%x", b)
}
