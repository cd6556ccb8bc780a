package reqrep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/streams"
)

// ClientConfig configures a Client. Zero values take the documented
// defaults.
type ClientConfig struct {
	// Kafka says how to reach the brokers.
	Kafka streams.KafkaConfig
	// ReplyTopic is where replies to this client go (required; it must
	// exist and be in the servers' allow-list).
	ReplyTopic string
	// ReplyPartition is this client's own partition of ReplyTopic (default
	// 0). Requests carry it in kafka_replyPartition and the client reads
	// only that partition, by manual assignment. Two live clients must not
	// share a partition: each would drop the other's replies as unknown.
	ReplyPartition int32
	// SharedReplyTopic, instead, makes the client read every partition of
	// ReplyTopic (from their end offsets at NewClient, with no group, which
	// is what Spring's "unique group.id, latest" option amounts to) and send
	// no kafka_replyPartition, so servers spread replies over all
	// partitions. Every client sees every reply and drops the ones it did
	// not ask for (counted by Ignored). Partitions added later are not read.
	// ReplyPartition is then ignored.
	SharedReplyTopic bool
	// Timeout is the per-attempt wait used when Do is given a timeout ≤ 0
	// (default 5s, Spring's defaultReplyTimeout).
	Timeout time.Duration
	// Retries is how many more times Do sends a request that got no reply
	// in time, with the same correlation id, so a server that did compute
	// it answers from its cache (default 0: send once). Each attempt waits
	// the full timeout and carries a fresh deadline.
	Retries int
	// StartTimeout bounds NewClient's wait for the reply partition's end
	// offset (default 10s).
	StartTimeout time.Duration
	// Logger receives the client's logs (default: discarded).
	Logger *slog.Logger
	// ClientOpts are extra franz-go options, appended last.
	ClientOpts []kgo.Opt
}

// Validate reports what is wrong with the configuration.
func (c ClientConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ReplyTopic == "" {
		errs = append(errs, errors.New("reqrep client: a reply topic is required"))
	}
	if c.ReplyPartition < 0 {
		errs = append(errs, fmt.Errorf("reqrep client: reply partition %d is negative", c.ReplyPartition))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("reqrep client: retries %d is negative", c.Retries))
	}
	return errors.Join(errs...)
}

// Client sends requests and waits for their replies. It is safe for
// concurrent use. It owns one goroutine, the reply reader, which Close
// stops.
type Client struct {
	cfg ClientConfig
	log *slog.Logger
	cl  *kgo.Client

	mu      sync.Mutex
	pending map[string]chan Reply // by correlation id; a leaf lock

	ignored   atomic.Int64
	closeOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}
}

// NewClient connects, finds the end of its reply partition and starts
// reading replies from there, so no reply to a request sent after it returns
// can be missed (Spring's waitForAssignment). Close releases it.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	kopts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	ends, err := endOffsets(ctx, append(kopts, cfg.ClientOpts...), cfg.ReplyTopic)
	if err != nil {
		return nil, err
	}
	from := map[int32]kgo.Offset{}
	for p, o := range ends {
		if cfg.SharedReplyTopic || p == cfg.ReplyPartition {
			from[p] = kgo.NewOffset().At(o)
		}
	}
	if len(from) == 0 {
		return nil, fmt.Errorf("reply topic %s has no partition %d (it has %d)", cfg.ReplyTopic, cfg.ReplyPartition, len(ends))
	}
	kopts = append(kopts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.ReplyTopic: from}),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.ProducerLinger(0),
	)
	kopts = append(kopts, cfg.ClientOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client for reqrep client: %w", err)
	}
	rctx, stop := context.WithCancel(context.Background())
	c := &Client{cfg: cfg, log: cfg.Logger, cl: cl, pending: map[string]chan Reply{}, stop: stop, done: make(chan struct{})}
	go c.readReplies(rctx)
	return c, nil
}

// endOffsets returns the end offset of each partition of the reply topic.
func endOffsets(ctx context.Context, opts []kgo.Opt, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create kafka client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list end offsets of reply topic %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// Close stops the reply reader and closes the connection. Calls to Do in
// flight return an error at once (their replies can no longer arrive).
// Later calls do nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.stop()
		<-c.done
		c.cl.Close()
	})
}

// Ignored returns how many replies were dropped as duplicate, late or not
// this client's.
func (c *Client) Ignored() int64 { return c.ignored.Load() }

// readReplies hands each reply to the Do call waiting for its correlation
// id. A reply nobody waits for (a duplicate, a reply after its Do gave up,
// or another requester's on a shared partition) is logged at debug level
// and counted.
func (c *Client) readReplies(ctx context.Context) {
	defer close(c.done)
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			c.log.Warn("reply fetch error", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			corr, _ := header(r.Headers, HeaderCorrelationID)
			c.mu.Lock()
			ch, ok := c.pending[string(corr)]
			if ok {
				delete(c.pending, string(corr))
			}
			c.mu.Unlock()
			if !ok {
				c.ignored.Add(1)
				c.log.Debug("no pending request for reply (duplicate, timed out, or another requester's)",
					"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "correlation_id", printable(corr))
				return
			}
			// Buffered and removed from pending before the send, so at most
			// one reply is in the channel at a time.
			ch <- Reply{Key: r.Key, Value: r.Value, Headers: r.Headers, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
		})
	}
}

// Do sends value (with key) to the request topic and waits for the reply.
// Each attempt waits timeout (≤ 0: ClientConfig.Timeout) and tells the
// server its deadline; after ClientConfig.Retries further attempts with the
// same correlation id it returns a *TimeoutError (errors.Is ErrTimeout). An
// error reply is returned as a *ReplyError, with the reply. ctx cancels the
// wait.
func (c *Client) Do(ctx context.Context, topic string, key, value []byte, timeout time.Duration) (Reply, error) {
	return c.DoWithHeaders(ctx, topic, key, value, nil, timeout)
}

// DoWithHeaders is Do with extra record headers on the request (after the
// request/reply headers, which they must not repeat).
func (c *Client) DoWithHeaders(ctx context.Context, topic string, key, value []byte, headers []kgo.RecordHeader, timeout time.Duration) (Reply, error) {
	if timeout <= 0 {
		timeout = c.cfg.Timeout
	}
	id := uuid.New()
	corr := id[:]
	ch := make(chan Reply, 1)
	c.mu.Lock()
	c.pending[string(corr)] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, string(corr))
		c.mu.Unlock()
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	attempts := 0
	for {
		attempts++
		deadline := time.Now().Add(timeout)
		r := &kgo.Record{Topic: topic, Key: key, Value: value, Headers: []kgo.RecordHeader{
			{Key: HeaderCorrelationID, Value: corr},
			{Key: HeaderReplyTopic, Value: []byte(c.cfg.ReplyTopic)},
			{Key: HeaderDeadline, Value: EncodeDeadline(deadline)},
		}}
		if !c.cfg.SharedReplyTopic {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderReplyPartition, Value: EncodePartition(c.cfg.ReplyPartition)})
		}
		r.Headers = append(r.Headers, headers...)
		pctx, cancel := context.WithDeadline(ctx, deadline)
		err := c.cl.ProduceSync(pctx, r).FirstErr()
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return Reply{}, fmt.Errorf("cannot send request to %s: %w", topic, err)
		}
		timer.Reset(time.Until(deadline))
		select {
		case rep := <-ch:
			kind, ok := header(rep.Headers, HeaderError)
			if !ok {
				return rep, nil
			}
			msg, _ := header(rep.Headers, HeaderErrorMessage)
			if ErrorKind(kind) == KindTimeout && attempts <= c.cfg.Retries {
				// The server saw this attempt too late and did not cache
				// that: send again with a fresh deadline.
				c.mu.Lock()
				c.pending[string(corr)] = ch
				c.mu.Unlock()
				c.log.Info("server timed out the request; sending it again", "topic", topic, "correlation_id", printable(corr), "attempt", attempts+1)
				continue
			}
			return rep, &ReplyError{Kind: ErrorKind(kind), Message: string(msg)}
		case <-ctx.Done():
			return Reply{}, fmt.Errorf("reqrep request %x to %s: %w", corr, topic, ctx.Err())
		case <-c.done:
			return Reply{}, fmt.Errorf("reqrep request %x to %s: client closed", corr, topic)
		case <-timer.C:
			if attempts > c.cfg.Retries {
				return Reply{}, &TimeoutError{CorrelationID: corr, Attempts: attempts, Timeout: timeout}
			}
			c.log.Info("no reply in time; sending the request again", "topic", topic, "correlation_id", printable(corr), "attempt", attempts+1)
		}
	}
}
