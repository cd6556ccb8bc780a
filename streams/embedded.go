package streams

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake) on a
// loopback port, for the one-command demo and for tests. It speaks the real
// protocol: any Kafka client can connect to Addrs.
type Embedded struct {
	cluster *kfake.Cluster
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Partitions of each seeded topic (default 4).
	Partitions int32
	// Topics to create at start.
	Topics []string
	// MaxMessageBytes is the broker's message.max.bytes (default 4 MiB).
	MaxMessageBytes int
}

// StartEmbedded starts the broker. Close stops it.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 4 << 20
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": fmt.Sprint(cfg.MaxMessageBytes)}),
	}
	if cfg.Port != 0 {
		opts = append(opts, kfake.Ports(cfg.Port))
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(cfg.Partitions, cfg.Topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded kafka broker: %w", err)
	}
	return &Embedded{cluster: c}, nil
}

// Addrs returns the broker addresses.
func (e *Embedded) Addrs() []string { return e.cluster.ListenAddrs() }

// Cluster exposes the kfake cluster for fault injection in tests.
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker.
func (e *Embedded) Close() { e.cluster.Close() }
