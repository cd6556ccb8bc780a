// Package streams is Preflight's Kafka plumbing on franz-go: client options
// (TLS, SASL), topic names and creation, the dead-letter topic, and the
// embedded broker used by the one-command demo and the tests.
package streams

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/preflight-hq/preflight/schemas"
)

// KafkaConfig says how to reach a Kafka cluster. Secrets are read from the
// environment or files by the caller and never logged: String redacts them.
type KafkaConfig struct {
	// Brokers are seed addresses, host:port.
	Brokers []string
	// TLS enables TLS to the brokers.
	TLS bool
	// TLSCAFile is a PEM bundle of CAs to trust; empty means the system pool.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a client certificate for mutual TLS.
	TLSCertFile, TLSKeyFile string
	// TLSSkipVerify disables certificate verification (tests only).
	TLSSkipVerify bool
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	// SASLUser and SASLPassword are the SASL credentials.
	SASLUser, SASLPassword string
}

// Validate reports what is wrong with the configuration.
func (c KafkaConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka brokers: at least one host:port is required"))
	}
	for _, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs = append(errs, fmt.Errorf("kafka brokers: %q is not host:port", b))
		}
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUser == "" || c.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("kafka sasl: mechanism %s needs a user and a password", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism))
	}
	if !c.TLS && (c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "") {
		errs = append(errs, errors.New("kafka tls: CA, certificate or key files are set but TLS is off (set -kafka-tls)"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("kafka tls: a client certificate needs both a cert file and a key file"))
	}
	return errors.Join(errs...)
}

// String describes the configuration without secrets.
func (c KafkaConfig) String() string {
	s := fmt.Sprintf("brokers=%s tls=%t", strings.Join(c.Brokers, ","), c.TLS)
	if c.SASLMechanism != "" {
		s += fmt.Sprintf(" sasl=%s user=%s password=[redacted]", c.SASLMechanism, c.SASLUser)
	}
	return s
}

// ClientOpts turns the configuration into franz-go options.
func (c KafkaConfig) ClientOpts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSSkipVerify} //nolint:gosec // opt-in for tests
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("cannot read kafka tls ca file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kafka tls ca file %s: no PEM certificates found", c.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		if c.TLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("cannot load kafka tls client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	}
	return opts, nil
}

// ParseBrokers splits a comma-separated broker list, trimming spaces and
// dropping empty entries.
func ParseBrokers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Topics names every topic of one deployment.
type Topics struct {
	Prefix string
}

// Events returns the five event topics, in schemas.Types order.
func (t Topics) Events() []string {
	out := make([]string, len(schemas.Types))
	for i, ty := range schemas.Types {
		out[i] = ty.Topic(t.Prefix)
	}
	return out
}

// DLQ returns the dead-letter topic.
func (t Topics) DLQ() string { return t.Prefix + "dlq" }

// TypeOf returns the event type a topic carries, or false.
func (t Topics) TypeOf(topic string) (schemas.Type, bool) {
	for _, ty := range schemas.Types {
		if ty.Topic(t.Prefix) == topic {
			return ty, true
		}
	}
	return "", false
}

// EnsureTopics creates the topics that do not exist yet with the given
// partition count and replication factor (-1 for the broker default).
func EnsureTopics(ctx context.Context, cl *kgo.Client, partitions int32, replication int16, topics ...string) error {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, partitions, replication, nil, topics...)
	if err != nil {
		return fmt.Errorf("cannot create topics %v: %w", topics, err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("cannot create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// WaitForBrokers pings the cluster until it answers or ctx ends.
func WaitForBrokers(ctx context.Context, cl *kgo.Client) error {
	for {
		err := cl.Ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka brokers did not answer: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
