// Package simworld puts the whole Preflight loop in one process, for
// `preflight demo`, `preflight simulate` and `preflight bench simulate` on
// the embedded defaults and for the simulator's end-to-end tests: a
// synthetic world with planted truth is streamed through Kafka into
// ClickHouse (package stack), a calibration snapshot is fitted on it
// (package calibration) and published on the compacted calibration topic,
// and a simulator (package simulation/service) answers from it over HTTP
// and Kafka request/reply.
package simworld

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/simulation/service"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
)

// DefaultScope is the scope the world is calibrated for: the industry of
// the synthetic world.
const DefaultScope = "retail"

// Layout of the standard world: Campaigns campaigns CampaignGap days apart,
// cycling email, sms and push, each to every segment, with creatives that
// vary in every feature the planted effect depends on.
const (
	DefaultEntities = 40000
	Campaigns       = 18
	CampaignGap     = 3.5
)

var (
	urgencies       = []float64{0.2, 0.5, 0.8, 0.35, 0.65}
	discounts       = []float64{0, 10, 20, 30, 15, 5, 25}
	categories      = []string{"", "fashion", "home", "electronics", "beauty", "sports"}
	personalization = []float64{0.3, 0.7, 0.5, 0.9}
)

// World returns the standard synthetic world of entities customers (0:
// DefaultEntities) drawn from seed. Its last campaign, HeldOutID, a
// typical email, is sent on the last day; Calibrate can leave it out so
// that it can be predicted.
func World(seed uint64, entities int) synth.Config {
	if entities <= 0 {
		entities = DefaultEntities
	}
	// Half of every campaign's audience is held out: a tenant that runs
	// experiments on purpose, so that segment-level uplifts are measured
	// well enough to predict a campaign within 10%.
	cfg := synth.Config{Seed: seed, Entities: entities, Days: int(CampaignGap*Campaigns) + 1, HoldoutShare: 0.5}
	channels := []string{schemas.ChannelEmail, schemas.ChannelSMS, schemas.ChannelPush}
	for k := range Campaigns {
		cfg.Campaigns = append(cfg.Campaigns, synth.CampaignSpec{
			ID: fmt.Sprintf("cmp-%02d", k+1), Channel: channels[k%len(channels)], Day: CampaignGap*float64(k) + 0.4,
			Creative: synth.Creative{
				Urgency:         urgencies[k%len(urgencies)],
				DiscountPct:     discounts[k%len(discounts)],
				Category:        categories[k%len(categories)],
				Personalization: personalization[k%len(personalization)],
			},
		})
	}
	// The held-out campaign is a typical one: an email with every content
	// feature inside the range the earlier campaigns covered, so that
	// predicting it tests calibration, not extrapolation.
	last := &cfg.Campaigns[len(cfg.Campaigns)-1]
	last.Channel = schemas.ChannelEmail
	last.Creative = synth.Creative{Urgency: 0.5, DiscountPct: 15, Category: "home", Personalization: 0.5}
	return cfg
}

// HeldOutID is the standard world's last campaign, which Calibrate holds
// out.
var HeldOutID = fmt.Sprintf("cmp-%02d", Campaigns)

// Stream generates the world cfg into st's Kafka topics, waits until the
// ingestor has seen every event and refreshes the moments. Progress bars
// go to progress (nil: none).
func Stream(ctx context.Context, st *stack.Stack, cfg synth.Config, progress io.Writer) (*synth.Truth, int64, error) {
	var truth *synth.Truth
	produced, err := Produce(ctx, st, progress, func(ctx context.Context, sink eventsink.Sink) error {
		var err error
		truth, err = synth.Generate(ctx, cfg, sink)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	start := truth.Config.Start.AddDate(0, 0, -1)
	end := truth.Config.Start.AddDate(0, 0, truth.Config.Days+int(truth.Config.AttributionDays)+2)
	if err := st.Warehouse.RefreshMoments(ctx, start, end); err != nil {
		return nil, 0, err
	}
	return truth, produced, nil
}

// Produce runs produce against a Kafka sink on st's topics, then waits
// until the ingestor has seen every event it delivered; it returns their
// number. Progress bars go to progress (nil: none). The caller refreshes
// the moments of the days it wrote.
func Produce(ctx context.Context, st *stack.Stack, progress io.Writer, produce func(context.Context, eventsink.Sink) error) (int64, error) {
	if progress == nil {
		progress = io.Discard
	}
	// No spinner ticker: progressbar's ticker goroutine reads the bar's
	// state without its lock and outlives unfinished bars.
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetSpinnerChangeInterval(0), progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("producing to kafka"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"), progressbar.OptionThrottle(100*time.Millisecond))
	sink, err := eventsink.NewKafka(eventsink.KafkaConfig{
		Brokers: st.Kafka.Brokers, TopicPrefix: st.Topics.Prefix,
		SASLMechanism: st.Kafka.SASLMechanism, SASLUser: st.Kafka.SASLUser, SASLPassword: st.Kafka.SASLPassword,
		Progress: func(delivered, _ int64) { _ = bar.Set64(delivered) },
	})
	if err != nil {
		return 0, err
	}
	err = produce(ctx, sink)
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	produced := sink.Delivered()
	_ = bar.Finish()
	fmt.Fprintln(progress)

	bar = progressbar.NewOptions64(produced, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("ingesting into clickhouse"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"), progressbar.OptionThrottle(100*time.Millisecond))
	for {
		s := st.Ingestor.Stats()
		seen := s.Stored + s.Duplicates + s.Invalid
		_ = bar.Set64(seen)
		if seen >= produced {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("ingestor saw %d of %d events: %w", seen, produced, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = bar.Finish()
	fmt.Fprintln(progress)
	return produced, nil
}

// CalibrationEnd is the end of the calibration window that leaves out the
// campaign heldOut (empty: none) and everything after it: the start of
// the day it was sent on; without it, the day after the world's last day.
func CalibrationEnd(truth *synth.Truth, heldOut string) (time.Time, error) {
	if heldOut == "" {
		return truth.Config.Start.AddDate(0, 0, truth.Config.Days+1), nil
	}
	ct, ok := truth.Campaign(heldOut)
	if !ok {
		return time.Time{}, fmt.Errorf("campaign %q is not in the world", heldOut)
	}
	return ct.SentAt.UTC().Truncate(24 * time.Hour), nil
}

// Calibrate fits a snapshot of scope on the world's moments up to (not
// including) the day campaign heldOut was sent on; heldOut "" uses every
// campaign. The window covers the whole world; the snapshot's backtests
// hold out the two most recent campaigns it sees.
func Calibrate(ctx context.Context, st *stack.Stack, truth *synth.Truth, scope, heldOut string, log *slog.Logger) (*calibration.Snapshot, error) {
	end, err := CalibrationEnd(truth, heldOut)
	if err != nil {
		return nil, err
	}
	if scope == "" {
		scope = DefaultScope
	}
	window := end.Sub(truth.Config.Start.Truncate(24 * time.Hour))
	cfg := calibration.Config{Scope: scope, Window: window, Seed: truth.Config.Seed, Log: log,
		Now: func() time.Time { return end }}
	return calibration.Calibrate(ctx, st.Warehouse, cfg, end, "initial", nil)
}

// EnsureTopics creates the simulator's topics on the cluster kc with
// partitions partitions (service.EnsureTopics).
func EnsureTopics(ctx context.Context, kc streams.KafkaConfig, prefix string, partitions int32) error {
	return service.EnsureTopics(ctx, kc, prefix, partitions, -1)
}

// Publish produces snap to the compacted calibration topic, keyed by its
// scope, as the calibrator does.
func Publish(ctx context.Context, kc streams.KafkaConfig, prefix string, snap *calibration.Snapshot) error {
	body, err := snap.Encode()
	if err != nil {
		return err
	}
	opts, err := kc.ClientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: prefix + "calibration", Key: []byte(snap.Scope), Value: body,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte("calibration_snapshot.v1")}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("cannot publish snapshot %s v%d: %w", snap.Scope, snap.Version, err)
	}
	return nil
}

// Simulator is a simulator service running in this process, answering
// HTTP on a loopback port and Kafka request/reply.
type Simulator struct {
	Service *service.Service
	// URL is the HTTP root, e.g. http://127.0.0.1:41234.
	URL string
	// APIKey is the key the service accepts.
	APIKey string
	cancel context.CancelFunc
	done   chan error
	srv    *http.Server
}

// NewAPIKey returns a random API key.
func NewAPIKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "pk_" + hex.EncodeToString(b[:])
}

// StartSimulator starts a simulator with cfg (Kafka and TopicPrefix must be
// set; a random API key is made when cfg.APIKeys is empty) and waits until
// it has read the calibration topic. Close stops it.
func StartSimulator(ctx context.Context, cfg service.Config) (*Simulator, error) {
	if len(cfg.APIKeys) == 0 {
		cfg.APIKeys = []string{NewAPIKey()}
	}
	svc, err := service.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Simulator{Service: svc, URL: "http://" + ln.Addr().String(), APIKey: cfg.APIKeys[0], cancel: cancel,
		done: make(chan error, 2), srv: &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { s.done <- svc.Run(rctx) }()
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.done <- err
			return
		}
		s.done <- nil
	}()
	if err := svc.Store.WaitReady(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("simulator did not load its snapshots: %w", err)
	}
	return s, nil
}

// Close stops the simulator and returns the first error it stopped with.
func (s *Simulator) Close() error {
	s.cancel()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	var first error
	for range 2 {
		if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) && first == nil {
			first = err
		}
	}
	return first
}
