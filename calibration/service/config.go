package service

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
)

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// Kafka says how to reach the brokers.
	Kafka streams.KafkaConfig
	// TopicPrefix prefixes every topic name (default "preflight.").
	TopicPrefix string
	// Group is the consumer group whose partition assignment decides which
	// member owns which scope (default "preflight-calibrator").
	Group string
	// Scopes are the scopes (industries or tenants) this deployment
	// calibrates. Every replica must be given the same list: ownership is
	// computed from it.
	Scopes []string
	// Partitions is the partition count of the scopes topic (default 12).
	// It is fixed for the life of a deployment: the topic is created with
	// it, and Run refuses to start when the existing topic has another
	// count, since replicas must agree on scope → partition.
	Partitions int32
	// TopicReplication is the replication factor of topics created at
	// start (default -1, the broker's default).
	TopicReplication int16
	// RefreshInterval is the time between two refreshes of a scope
	// (default 1m).
	RefreshInterval time.Duration
	// RetuneInterval is the age at which a scope's snapshot is replaced on
	// schedule even without drift (default 24h).
	RetuneInterval time.Duration
	// Window is the stretch of data a calibration is fitted on, ending now
	// (default 28 days, 672h). It is passed to the CalibrateFunc.
	Window time.Duration
	// Level is the level of the intervals of observed cells (default 0.9,
	// calibration.DefaultLevel).
	Level float64
	// DayGrace is how long after the end of a UTC day its moments are
	// first given to the drift detectors, so that late events are in
	// (default 1h). A day is given to the detectors once.
	DayGrace time.Duration
	// MaxMoments caps the number of moment streams (segment × channel ×
	// kind) watched per scope, which also bounds the moment label of the
	// drift metrics (default 256). Cells beyond it are not watched and a
	// warning is logged.
	MaxMoments int
	// WatchFrequency turns on the PSI watch of each channel's daily
	// distribution of cumulative frequency against the snapshot window's
	// (default off). Off by default because frequency_cumulative counts
	// every send an entity ever had: under an unchanged contact policy it
	// still grows for a fixed audience, so its distribution drifts by
	// construction and the watch raises false alarms (measured: PSI 3.9 on
	// the first day after the window on a world without drift). Turn it on
	// where producers send a windowed frequency (e.g. sends in the last 7
	// days), whose distribution is stationary when the policy is.
	WatchFrequency bool
	// PSIThreshold is the population stability index at which the
	// frequency distribution of a channel is said to have drifted
	// (default 0.25, the usual "significant" rule of thumb).
	PSIThreshold float64
	// PSIMinExposures is the number of treated exposures a day needs before
	// its PSI is computed (default 200): PSI of a small sample is noise.
	PSIMinExposures uint64
	// RetryMin and RetryMax bound the backoff between retries of a failed
	// publish (defaults 200ms and 10s). Publishing is retried until it
	// succeeds or the scope's loop is stopped.
	RetryMin, RetryMax time.Duration
	// StopTimeout bounds how long a revoke waits for a scope's loop to
	// stop (default 30s, half franz-go's default rebalance timeout). A
	// chDB query cannot be cancelled, so the loop may outlive its
	// context by one query; past this the revoke returns anyway and logs.
	StopTimeout time.Duration
}

// prefix returns TopicPrefix, or the default when it is empty.
func (c Config) prefix() string {
	if c.TopicPrefix == "" {
		return schemas.DefaultTopicPrefix
	}
	return c.TopicPrefix
}

// ScopesTopic returns the topic whose partitions carry scope ownership.
func (c Config) ScopesTopic() string { return c.prefix() + "calibration.scopes" }

// DriftTopic returns the topic drift events are published to.
func (c Config) DriftTopic() string { return c.prefix() + "drift" }

// SnapshotTopic returns the compacted topic snapshots are published to.
func (c Config) SnapshotTopic() string { return c.prefix() + "calibration" }

func (c *Config) setDefaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = schemas.DefaultTopicPrefix
	}
	if c.Group == "" {
		c.Group = "preflight-calibrator"
	}
	if c.Partitions == 0 {
		c.Partitions = 12
	}
	if c.TopicReplication == 0 {
		c.TopicReplication = -1
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = time.Minute
	}
	if c.RetuneInterval == 0 {
		c.RetuneInterval = 24 * time.Hour
	}
	if c.Window == 0 {
		c.Window = 28 * 24 * time.Hour
	}
	if c.Level == 0 {
		c.Level = calibration.DefaultLevel
	}
	if c.DayGrace == 0 {
		c.DayGrace = time.Hour
	}
	if c.MaxMoments == 0 {
		c.MaxMoments = 256
	}
	if c.PSIThreshold == 0 {
		c.PSIThreshold = 0.25
	}
	if c.PSIMinExposures == 0 {
		c.PSIMinExposures = 200
	}
	if c.RetryMin == 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 30 * time.Second
	}
}

// scopeRE is what a scope may look like: it becomes a Kafka key, a label
// value and a warehouse literal.
var scopeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Validate reports every problem with the configuration, each naming the
// field (as its flag) that is wrong. It checks the values as given and the
// defaults together, so call it after filling the struct.
func (c Config) Validate() error {
	c.setDefaults()
	errs := []error{c.Kafka.Validate()}
	if len(c.Scopes) == 0 {
		errs = append(errs, errors.New("scopes: at least one scope is required"))
	}
	for i, s := range c.Scopes {
		if !scopeRE.MatchString(s) {
			errs = append(errs, fmt.Errorf("scopes: %q is not a scope name (lower-case letters, digits, '_', '.', '-'; at most 64)", s))
		}
		if slices.Index(c.Scopes, s) != i {
			errs = append(errs, fmt.Errorf("scopes: %q is listed twice", s))
		}
	}
	if strings.ContainsAny(c.TopicPrefix, " ,/") {
		errs = append(errs, fmt.Errorf("topic prefix: %q contains a space, comma or slash", c.TopicPrefix))
	}
	if c.Partitions < 1 || c.Partitions > 1000 {
		errs = append(errs, fmt.Errorf("scope partitions: %d is not in 1…1000", c.Partitions))
	}
	if c.RefreshInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("refresh interval: %s is below 10ms", c.RefreshInterval))
	}
	if c.RetuneInterval < c.RefreshInterval {
		errs = append(errs, fmt.Errorf("retune interval: %s is below the refresh interval %s", c.RetuneInterval, c.RefreshInterval))
	}
	if c.Window < 24*time.Hour {
		errs = append(errs, fmt.Errorf("window: %s is shorter than one day", c.Window))
	}
	if !(c.Level > 0 && c.Level < 1) {
		errs = append(errs, fmt.Errorf("level: %g is not in (0, 1)", c.Level))
	}
	if c.DayGrace < 0 {
		errs = append(errs, fmt.Errorf("day grace: %s is negative", c.DayGrace))
	}
	if c.MaxMoments < 1 {
		errs = append(errs, fmt.Errorf("max moments: %d is below 1", c.MaxMoments))
	}
	if c.PSIThreshold <= 0 {
		errs = append(errs, fmt.Errorf("psi threshold: %g is not positive", c.PSIThreshold))
	}
	if c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry max %s is below retry min %s", c.RetryMax, c.RetryMin))
	}
	return errors.Join(errs...)
}
