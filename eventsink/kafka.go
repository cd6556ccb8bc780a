package eventsink

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/preflight-hq/preflight/schemas"
)

// DefaultTopicPrefix is the topic prefix used when KafkaConfig.TopicPrefix is
// empty. The topic of an event is schemas.Type.Topic, e.g.
// "preflight.exposures".
const DefaultTopicPrefix = schemas.DefaultTopicPrefix

// Topic returns the topic that events of type t go to under prefix ("" means
// DefaultTopicPrefix).
func Topic(prefix string, t schemas.Type) string {
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	return t.Topic(prefix)
}

// Topics returns the five event topics under prefix ("" means
// DefaultTopicPrefix), in schemas.Types order. NewKafka does not create
// topics; create these first.
func Topics(prefix string) []string {
	out := make([]string, len(schemas.Types))
	for i, t := range schemas.Types {
		out[i] = Topic(prefix, t)
	}
	return out
}

// SASL mechanisms accepted in KafkaConfig.SASLMechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// KafkaConfig configures a Kafka sink. Only Brokers is required.
type KafkaConfig struct {
	// Brokers lists seed brokers as host:port. Required.
	Brokers []string
	// TopicPrefix is prepended to the event type to name the topic.
	// Default DefaultTopicPrefix ("preflight.").
	TopicPrefix string
	// ClientID is sent to the brokers. Default "preflight-eventsink".
	ClientID string

	// BatchSize is the most records in one produce batch for one
	// partition. Default 2000.
	BatchSize int
	// BatchBytes is the largest produce batch for one partition, in bytes.
	// Default 1 MiB (1048576), Kafka's default message.max.bytes.
	BatchBytes int64
	// BatchTimeout is how long a partial batch waits for more records
	// before it is sent. Default 10ms.
	BatchTimeout time.Duration
	// MaxBuffered bounds the records handed to the writer and not yet
	// acknowledged; Write blocks (honouring its context) while it is
	// reached. Default 200000.
	MaxBuffered int
	// MaxAttempts is how many times a batch is tried before its records
	// count as failed. Default 5.
	MaxAttempts int
	// WriteTimeout bounds one produce request. Default 10s.
	WriteTimeout time.Duration
	// DialTimeout bounds connecting to a broker, TLS and SASL included.
	// Default 5s.
	DialTimeout time.Duration
	// Compression names the codec: "" or "none", "gzip", "snappy", "lz4",
	// "zstd". Default none.
	Compression string

	// TLS, when not nil, makes every connection use TLS with this
	// configuration.
	TLS *tls.Config
	// SASLMechanism, when not empty, authenticates every connection:
	// SASLPlain, SASLScramSHA256 or SASLScramSHA512, with SASLUser and
	// SASLPassword.
	SASLMechanism string
	// SASLUser is the SASL user name.
	SASLUser string
	// SASLPassword is the SASL password.
	SASLPassword string

	// Progress, when not nil, is called after each produce batch completes
	// with the running totals of delivered and failed records. It is called
	// from the writer's goroutines, possibly concurrently, and must be quick.
	Progress func(delivered, failed int64)
}

// Validate reports what is wrong with the configuration, if anything.
func (c *KafkaConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one host:port is required"))
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("brokers: %q is not host:port", b))
		}
	}
	if c.BatchSize < 0 || c.BatchBytes < 0 || c.BatchTimeout < 0 || c.MaxBuffered < 0 ||
		c.MaxAttempts < 0 || c.WriteTimeout < 0 || c.DialTimeout < 0 {
		errs = append(errs, errors.New("batch, buffer, attempt and timeout settings must not be negative"))
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		errs = append(errs, err)
	}
	switch c.SASLMechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASLUser == "" {
			errs = append(errs, fmt.Errorf("sasl: mechanism %s needs a user", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("sasl: unknown mechanism %q (want %s, %s or %s)", c.SASLMechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid kafka sink config: %w", errors.Join(errs...))
	}
	return nil
}

func compressionCodec(name string) (kafka.Compression, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("compression: unknown codec %q (want none, gzip, snappy, lz4 or zstd)", name)
}

func (c *KafkaConfig) mechanism() (sasl.Mechanism, error) {
	switch c.SASLMechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: c.SASLUser, Password: c.SASLPassword}, nil
	case SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, c.SASLUser, c.SASLPassword)
	case SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, c.SASLUser, c.SASLPassword)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q", c.SASLMechanism)
}

// Kafka is a Sink that produces each event to Kafka with segmentio/kafka-go,
// a client independent of the franz-go client the services use. The topic is
// TopicPrefix + type, the key is ev.Key(), the header "schema" carries
// ev.Type().SchemaName() and the value is schemas.Encode(ev). Records are
// partitioned by the murmur2 hash of the key exactly as the Java client,
// librdkafka's murmur2_random and franz-go's default partitioner do, so one
// entity's events land in the same partition whichever client wrote them.
// The record timestamp is the time of the write, not the event's time, so
// that replays of old data are not deleted at once by time-based retention.
//
// Writes are asynchronous and batched; acks are required from all in-sync
// replicas. A record is delivered when its batch is acknowledged. The first
// delivery error is kept: later Writes return it at once, and Close returns
// it. Topics are never created by the sink.
type Kafka struct {
	w         *kafka.Writer
	transport *kafka.Transport
	prefix    string
	sem       chan struct{}
	progress  func(delivered, failed int64)

	delivered atomic.Int64
	failed    atomic.Int64

	errMu    sync.Mutex
	firstErr error

	closeMu sync.RWMutex
	closed  bool
}

// NewKafka returns a Kafka sink. It does not contact the brokers; the first
// Write does.
func NewKafka(cfg KafkaConfig) (*Kafka, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mech, err := cfg.mechanism()
	if err != nil {
		return nil, fmt.Errorf("cannot set up SASL: %w", err)
	}
	codec, _ := compressionCodec(cfg.Compression)
	clientID := cmp.Or(cfg.ClientID, "preflight-eventsink")
	dialTimeout := cmp.Or(cfg.DialTimeout, 5*time.Second)
	batchSize := cmp.Or(cfg.BatchSize, 2000)
	batchTimeout := cmp.Or(cfg.BatchTimeout, 10*time.Millisecond)
	maxBuffered := cmp.Or(cfg.MaxBuffered, 200000)
	maxAttempts := cmp.Or(cfg.MaxAttempts, 5)
	prefix := cfg.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	transport := &kafka.Transport{
		ClientID:    clientID,
		DialTimeout: dialTimeout,
		TLS:         cfg.TLS,
		SASL:        mech,
	}
	s := &Kafka{
		transport: transport,
		prefix:    prefix,
		sem:       make(chan struct{}, maxBuffered),
		progress:  cfg.Progress,
	}
	s.w = &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Murmur2Balancer{},
		MaxAttempts:            maxAttempts,
		BatchSize:              batchSize,
		BatchBytes:             cfg.BatchBytes,
		BatchTimeout:           batchTimeout,
		WriteTimeout:           cfg.WriteTimeout,
		RequiredAcks:           kafka.RequireAll,
		Async:                  true,
		Completion:             s.complete,
		Compression:            codec,
		Transport:              transport,
		AllowAutoTopicCreation: false,
	}
	return s, nil
}

// complete is the writer's Completion callback: it counts, records the first
// error, releases buffer slots and reports progress.
func (s *Kafka) complete(msgs []kafka.Message, err error) {
	var d, f int64
	if err != nil {
		f = s.failed.Add(int64(len(msgs)))
		d = s.delivered.Load()
		topic, part := "", 0
		if len(msgs) > 0 {
			topic, part = msgs[0].Topic, msgs[0].Partition
		}
		s.setErr(fmt.Errorf("cannot deliver %d records to %s partition %d: %w", len(msgs), topic, part, err))
	} else {
		d = s.delivered.Add(int64(len(msgs)))
		f = s.failed.Load()
	}
	for range msgs {
		<-s.sem
	}
	if s.progress != nil {
		s.progress(d, f)
	}
}

func (s *Kafka) setErr(err error) {
	s.errMu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.errMu.Unlock()
}

// Err returns the first delivery error so far, or nil.
func (s *Kafka) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.firstErr
}

// Topic returns the topic that events of type t go to.
func (s *Kafka) Topic(t schemas.Type) string { return t.Topic(s.prefix) }

// Write encodes ev and hands it to the writer. It blocks only while
// MaxBuffered records await acknowledgement. It returns the first delivery
// error if one has happened, and the writer's error if the topic is unknown
// (the sink never creates topics).
func (s *Kafka) Write(ctx context.Context, ev schemas.Event) error {
	if err := s.Err(); err != nil {
		return err
	}
	value, err := schemas.Encode(ev)
	if err != nil {
		return fmt.Errorf("cannot encode %s event %s: %w", ev.Type(), ev.ID(), err)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	msg := kafka.Message{
		Topic:   ev.Type().Topic(s.prefix),
		Key:     []byte(ev.Key()),
		Value:   value,
		Headers: []kafka.Header{{Key: schemas.HeaderSchema, Value: []byte(ev.Type().SchemaName())}},
		Time:    time.Now(),
	}
	if err := s.w.WriteMessages(ctx, msg); err != nil {
		<-s.sem
		err = fmt.Errorf("cannot produce %s event %s to %s: %w", ev.Type(), ev.ID(), msg.Topic, err)
		s.setErr(err)
		return err
	}
	return nil
}

// Delivered returns how many records the brokers have acknowledged.
func (s *Kafka) Delivered() int64 { return s.delivered.Load() }

// Failed returns how many records could not be delivered.
func (s *Kafka) Failed() int64 { return s.failed.Load() }

// Close sends every buffered record, waits for all acknowledgements, closes
// the connections and returns the first delivery error. Calling it again
// returns nil.
func (s *Kafka) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	werr := s.w.Close()
	s.transport.CloseIdleConnections()
	if err := s.Err(); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("cannot close kafka writer: %w", werr)
	}
	return nil
}
