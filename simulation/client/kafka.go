package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/streams/reqrep"
)

// DefaultTimeout is the default wait for one attempt: the simulator's
// default request timeout (30s) and 5s for the answer to travel, so that a
// simulation the simulator gives up on is answered with its timeout error
// rather than by silence.
const DefaultTimeout = 35 * time.Second

// KafkaConfig configures NewKafka. Zero values take the documented
// defaults.
type KafkaConfig struct {
	// Kafka says how to reach the brokers (required).
	Kafka streams.KafkaConfig
	// TopicPrefix prefixes the topics: requests go to
	// <prefix>simulate.requests. Default schemas.DefaultTopicPrefix.
	TopicPrefix string
	// ReplyTopic is where the simulator answers; it must exist and be in
	// the simulator's allow-list. Default <prefix>simulate.replies.
	ReplyTopic string
	// ReplyPartition is this client's own partition of ReplyTopic (default
	// 0); two live clients must not share one. See
	// reqrep.ClientConfig.ReplyPartition.
	ReplyPartition int32
	// SharedReplyTopic makes the client read every partition of ReplyTopic
	// instead, dropping the replies of other clients; ReplyPartition is
	// then ignored. See reqrep.ClientConfig.SharedReplyTopic.
	SharedReplyTopic bool
	// Timeout is the wait for one attempt's reply (default
	// DefaultTimeout).
	Timeout time.Duration
	// Retries is how many more times a request that got no reply in time
	// is sent, with the same correlation id (default 0: once).
	Retries int
	// Scope names the calibration scope in the ScopeHeader record header;
	// empty sends none and the simulator uses the request's
	// industry_context.
	Scope string
	// Logger receives the client's logs (default: discarded).
	Logger *slog.Logger
	// ClientOpts are extra franz-go options, appended last (tests).
	ClientOpts []kgo.Opt
}

func (c KafkaConfig) withDefaults() KafkaConfig {
	if c.TopicPrefix == "" {
		c.TopicPrefix = schemas.DefaultTopicPrefix
	}
	if c.ReplyTopic == "" {
		c.ReplyTopic = c.TopicPrefix + "simulate.replies"
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// RequestTopic is the topic requests are sent to.
func (c KafkaConfig) RequestTopic() string { return c.withDefaults().TopicPrefix + "simulate.requests" }

// Validate reports every problem with the configuration.
func (c KafkaConfig) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ReplyPartition < 0 {
		errs = append(errs, fmt.Errorf("reply partition %d is negative", c.ReplyPartition))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", c.Timeout))
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries %d is negative", c.Retries))
	}
	return errors.Join(errs...)
}

// Kafka asks the simulator over Kafka request/reply. It is safe for
// concurrent use; it owns the reply reader of its reqrep.Client, which
// Close stops.
type Kafka struct {
	cfg   KafkaConfig
	topic string
	rr    *reqrep.Client
}

// NewKafka connects and starts reading replies from the end of the reply
// partition (or topic), so no answer to a request sent after it returns is
// missed. Close releases it.
func NewKafka(cfg KafkaConfig) (*Kafka, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid kafka simulator client configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	rr, err := reqrep.NewClient(reqrep.ClientConfig{
		Kafka: cfg.Kafka, ReplyTopic: cfg.ReplyTopic, ReplyPartition: cfg.ReplyPartition,
		SharedReplyTopic: cfg.SharedReplyTopic, Timeout: cfg.Timeout, Retries: cfg.Retries,
		Logger: cfg.Logger, ClientOpts: cfg.ClientOpts,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start the kafka simulator client: %w", err)
	}
	return &Kafka{cfg: cfg, topic: cfg.RequestTopic(), rr: rr}, nil
}

// Simulate sends req to the request topic and waits for the answer. A
// failed answer is returned with its *api.Error. An error reply without a
// body (the request/reply layer refused or expired the request) returns a
// zero response and an error wrapping an *api.Error of the reply's kind.
// No reply in time returns an error matching ErrTimeout and
// reqrep.ErrTimeout.
func (k *Kafka) Simulate(ctx context.Context, req api.SimulateRequest) (api.SimulateResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.SimulateResponse{}, fmt.Errorf("cannot encode the simulate request: %w", err)
	}
	var headers []kgo.RecordHeader
	if k.cfg.Scope != "" {
		headers = append(headers, kgo.RecordHeader{Key: ScopeHeader, Value: []byte(k.cfg.Scope)})
	}
	start := time.Now()
	rep, err := k.rr.DoWithHeaders(ctx, k.topic, nil, body, headers, 0)
	var re *reqrep.ReplyError
	switch {
	case errors.Is(err, reqrep.ErrTimeout):
		return api.SimulateResponse{}, fmt.Errorf("%w: no reply on %s after %s: %w", ErrTimeout, k.cfg.ReplyTopic, time.Since(start).Round(time.Millisecond), err)
	case errors.As(err, &re) && len(rep.Value) == 0:
		return api.SimulateResponse{}, fmt.Errorf("simulator refused the request on %s: %w", k.topic, &api.Error{Kind: apiKind(re.Kind), Message: re.Message})
	case err != nil && re == nil:
		return api.SimulateResponse{}, fmt.Errorf("cannot ask the simulator on %s: %w", k.topic, err)
	}
	var resp api.SimulateResponse
	if derr := json.Unmarshal(rep.Value, &resp); derr != nil || resp.Status == "" {
		if derr == nil {
			derr = errors.New("no status")
		}
		return api.SimulateResponse{}, fmt.Errorf("reply at %s/%d@%d is not a simulate response: %w", rep.Topic, rep.Partition, rep.Offset, derr)
	}
	k.cfg.Logger.Debug("simulator answered", "topic", k.topic, "simulation_id", resp.SimulationID, "status", resp.Status,
		"duration", time.Since(start))
	return failure(resp)
}

// apiKind maps a request/reply error kind to the contract's.
func apiKind(k reqrep.ErrorKind) api.ErrorKind {
	switch k {
	case reqrep.KindValidation:
		return api.KindValidation
	case reqrep.KindTimeout:
		return api.KindTimeout
	}
	return api.KindInternal
}

// Close stops the reply reader and closes the connection; calls to
// Simulate in flight return an error at once. It always returns nil.
func (k *Kafka) Close() error {
	k.rr.Close()
	return nil
}
