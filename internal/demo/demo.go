// Package demo runs `preflight demo`: it streams a synthetic world with
// planted truth (or the Hillstrom replay) through Kafka, lets the ingestor
// store it in ClickHouse, and reads a summary back from ClickHouse next to
// the truth. On the synthetic world it then closes the loop: it calibrates
// a snapshot on what was stored, starts a simulator in the process and asks
// it a question over Kafka request/reply (Ask), which `preflight simulate`
// does too.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"time"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/simworld"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/replay"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/simulation/client"
	"github.com/preflight-hq/preflight/simulation/service"
	"github.com/preflight-hq/preflight/synth"
	"github.com/preflight-hq/preflight/warehouse"
)

// Sources the demo can stream.
const (
	SourceSynth     = "synth"
	SourceHillstrom = "hillstrom"
)

// Options configure Run.
type Options struct {
	// Source is SourceSynth (default) or SourceHillstrom.
	Source string
	// Synth configures the generated world.
	Synth synth.Config
	// HillstromPath is the CSV to replay.
	HillstromPath string
	// Stack says which parts are embedded.
	Stack stack.Config
	// Progress receives progress bars and step notes (nil: none).
	Progress io.Writer
	// Simulate ends a synthetic-world demo by asking a simulator calibrated
	// on what was stored (see Ask); the Hillstrom replay never does.
	Simulate bool
	// Request is the question asked when Simulate is set (nil:
	// simworld.StandardRequest()).
	Request *api.SimulateRequest
	// Ask configures the simulator and the question (zero: defaults).
	Ask AskOptions
}

// Result is what the demo read back.
type Result struct {
	Backend   string
	Produced  int64
	Stored    map[schemas.Type]uint64
	DLQ       int64
	Groups    []Group
	Elapsed   time.Duration
	Truth     *synth.Truth
	Hillstrom *replay.Summary
	// Request and Response are the question asked of the simulator and
	// its answer (nil when Options.Simulate was not set).
	Request  api.SimulateRequest
	Response *api.SimulateResponse
	// SimulateElapsed is how long calibrating, starting the simulator and
	// asking took.
	SimulateElapsed time.Duration
}

// Group compares one segment × arm (synthetic world) or one intervention
// (Hillstrom) as stored in ClickHouse with the truth.
type Group struct {
	Name      string
	Arm       string
	Entities  uint64
	Purchases uint64
	Visits    uint64
	Revenue   float64
	// TruthRate is the planted expected purchase rate (synthetic) or the
	// conversion rate computed from the CSV itself (Hillstrom); 0 when
	// unknown.
	TruthRate float64
	// TruthVisitRate is the visit rate computed from the CSV (Hillstrom).
	TruthVisitRate float64
}

// Rate returns the observed purchase rate.
func (g Group) Rate() float64 { return ratio(float64(g.Purchases), float64(g.Entities)) }

// VisitRate returns the observed visit rate.
func (g Group) VisitRate() float64 { return ratio(float64(g.Visits), float64(g.Entities)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Run streams the source through the stack and summarizes what was stored;
// with Options.Simulate on the synthetic world it then asks the simulator
// (see Ask). A failed answer is in Result.Response, not an error.
func Run(ctx context.Context, opts Options, log *slog.Logger) (*Result, error) {
	start := time.Now()
	st, err := stack.Start(ctx, opts.Stack, log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res := &Result{Backend: st.Warehouse.Backend()}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	switch opts.Source {
	case SourceSynth, "":
		res.Truth, res.Produced, err = simworld.Stream(ctx, st, opts.Synth, progress)
	case SourceHillstrom:
		res.Hillstrom, res.Produced, err = streamHillstrom(ctx, st, opts.HillstromPath, progress)
	default:
		err = fmt.Errorf("source %q: want %s or %s", opts.Source, SourceSynth, SourceHillstrom)
	}
	if err != nil {
		return nil, err
	}

	res.Stored = map[schemas.Type]uint64{}
	for _, t := range schemas.Types {
		if res.Stored[t], err = st.Warehouse.Count(ctx, t); err != nil {
			return nil, err
		}
	}
	if res.DLQ, err = st.DLQCount(ctx); err != nil {
		return nil, err
	}
	if res.Groups, err = groups(ctx, st.Warehouse, res); err != nil {
		return nil, err
	}
	if opts.Simulate && res.Truth != nil {
		res.Request = simworld.StandardRequest()
		if opts.Request != nil {
			res.Request = *opts.Request
		}
		ask := opts.Ask
		if ask.Progress == nil {
			ask.Progress = progress
		}
		began := time.Now()
		resp, err := Ask(ctx, st, res.Truth, res.Request, ask, log)
		if err != nil && resp.Status != api.StatusFailed {
			return nil, err
		}
		res.Response = &resp
		res.SimulateElapsed = time.Since(began)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// streamHillstrom replays the Hillstrom CSV at path into st's Kafka
// topics, waits until the ingestor has seen every event and refreshes the
// moments, as simworld.Stream does for a synthetic world.
func streamHillstrom(ctx context.Context, st *stack.Stack, path string, progress io.Writer) (*replay.Summary, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot open the Hillstrom CSV: %w", err)
	}
	defer f.Close()
	var sum *replay.Summary
	produced, err := simworld.Produce(ctx, st, progress, func(ctx context.Context, sink eventsink.Sink) error {
		var err error
		sum, err = replay.Hillstrom(ctx, f, replay.Options{}, sink)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	// The experiment's dates are its own (2008): refresh everything.
	if err := st.Warehouse.RefreshMoments(ctx, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().AddDate(1, 0, 0)); err != nil {
		return nil, 0, err
	}
	return sum, produced, nil
}

// AskOptions configure Ask. Zero values take the documented defaults.
type AskOptions struct {
	// Scope is the calibration scope, sent as the scope header (default:
	// the request's industry_context, sent as no header).
	Scope string
	// Timeout is the wait for the answer (default client.DefaultTimeout).
	Timeout time.Duration
	// Progress receives step notes (nil: none).
	Progress io.Writer
}

// Ask closes the loop on a world streamed into st: it calibrates a
// snapshot on everything stored (simworld.Calibrate, no campaign held
// out), publishes it on the compacted calibration topic, starts a
// simulator in this process (its own consumer group, so a shared cluster's
// simulators are left alone) and asks it req over Kafka request/reply with
// package simulation/client. A failed answer is returned with its
// *api.Error; the simulator is stopped before Ask returns.
func Ask(ctx context.Context, st *stack.Stack, truth *synth.Truth, req api.SimulateRequest, opts AskOptions, log *slog.Logger) (_ api.SimulateResponse, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	scope := opts.Scope
	if scope == "" {
		scope = string(req.IndustryContext)
	}
	prefix := st.Topics.Prefix
	fmt.Fprintf(progress, "calibrating scope %q on what was stored\n", scope)
	snap, err := simworld.Calibrate(ctx, st, truth, scope, "", log)
	if err != nil {
		return api.SimulateResponse{}, fmt.Errorf("cannot calibrate the simulator: %w", err)
	}
	if err := simworld.EnsureTopics(ctx, st.Kafka, prefix, 1); err != nil {
		return api.SimulateResponse{}, fmt.Errorf("cannot create the simulator's topics: %w", err)
	}
	if err := simworld.Publish(ctx, st.Kafka, prefix, snap); err != nil {
		return api.SimulateResponse{}, err
	}
	fmt.Fprintf(progress, "starting a simulator on snapshot %s v%d and asking it over kafka\n", snap.Scope, snap.Version)
	sim, err := simworld.StartSimulator(ctx, service.Config{Kafka: st.Kafka, TopicPrefix: prefix, Logger: log,
		Group: fmt.Sprintf("preflight-cli-simulator-%d-%d", os.Getpid(), time.Now().UnixNano())})
	if err != nil {
		return api.SimulateResponse{}, err
	}
	defer func() {
		if cerr := sim.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("simulator stopped with an error: %w", cerr)
		}
	}()
	cl, err := client.NewKafka(client.KafkaConfig{Kafka: st.Kafka, TopicPrefix: prefix, SharedReplyTopic: true,
		Timeout: opts.Timeout, Scope: opts.Scope, Logger: log})
	if err != nil {
		return api.SimulateResponse{}, err
	}
	defer cl.Close()
	return cl.Simulate(ctx, req)
}

// groups reads the moments back and lines them up with the truth.
func groups(ctx context.Context, wh warehouse.Warehouse, res *Result) ([]Group, error) {
	em, err := wh.ExposureMoments(ctx, warehouse.MomentFilter{})
	if err != nil {
		return nil, err
	}
	om, err := wh.OutcomeMoments(ctx, warehouse.MomentFilter{})
	if err != nil {
		return nil, err
	}
	type key struct{ name, arm string }
	name := func(k warehouse.MomentKey) string {
		if res.Hillstrom != nil {
			return k.InterventionID
		}
		return k.SegmentID
	}
	byKey := map[key]*Group{}
	get := func(k warehouse.MomentKey) *Group {
		kk := key{name(k), k.Arm}
		g := byKey[kk]
		if g == nil {
			g = &Group{Name: kk.name, Arm: kk.arm}
			byKey[kk] = g
		}
		return g
	}
	for _, m := range em {
		get(m.MomentKey).Entities += m.Entities
	}
	for _, m := range om {
		g := get(m.MomentKey)
		switch m.OutcomeType {
		case "purchase":
			g.Purchases += m.Entities
			g.Revenue += m.ValueSum
		case "visit":
			g.Visits += m.Entities
		}
	}
	// The truth: planted expectations weighted by the assigned entities.
	type acc struct{ w, rate float64 }
	truth := map[key]*acc{}
	add := func(k key, n int, rate float64) {
		a := truth[k]
		if a == nil {
			a = &acc{}
			truth[k] = a
		}
		a.w += float64(n)
		a.rate += float64(n) * rate
	}
	if res.Truth != nil {
		for _, c := range res.Truth.Campaigns {
			for seg, e := range c.BySegment {
				add(key{seg, schemas.ArmTreatment}, e.Treated, e.PurchaseRateTreated)
				add(key{seg, schemas.ArmControl}, e.Control, e.PurchaseRateControl)
			}
		}
	}
	out := make([]Group, 0, len(byKey))
	for k, g := range byKey {
		if a := truth[k]; a != nil && a.w > 0 {
			g.TruthRate = a.rate / a.w
		}
		if res.Hillstrom != nil {
			if arm, ok := res.Hillstrom.Arm(g.Name); ok {
				g.TruthRate = arm.Conversion.Value
				g.TruthVisitRate = arm.Visit.Value
			}
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Arm > out[j].Arm
	})
	return out, nil
}

// Print writes the summary for people.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\nPreflight demo — %s, %s\n\n", r.Backend, r.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "events produced to kafka: %d\n", r.Produced)
	fmt.Fprintf(w, "events stored in clickhouse:")
	var total uint64
	for _, t := range schemas.Types {
		fmt.Fprintf(w, " %s %d,", t, r.Stored[t])
		total += r.Stored[t]
	}
	fmt.Fprintf(w, " total %d\n", total)
	fmt.Fprintf(w, "dead-letter records: %d\n\n", r.DLQ)
	if r.Hillstrom != nil {
		fmt.Fprintf(w, "Hillstrom e-mail experiment, read back from ClickHouse (the CSV's own numbers in brackets):\n\n")
		fmt.Fprintf(w, "%-14s %-10s %8s %18s %22s %12s\n", "intervention", "arm", "entities", "visit rate", "conversion rate", "revenue")
		for _, g := range r.Groups {
			fmt.Fprintf(w, "%-14s %-10s %8d %8.4f [%.4f] %10.5f [%.5f] %12.2f\n", g.Name, g.Arm, g.Entities, g.VisitRate(), g.TruthVisitRate, g.Rate(), g.TruthRate, g.Revenue)
		}
		fmt.Fprintln(w)
		for _, e := range r.Hillstrom.Effects {
			fmt.Fprintf(w, "ATE %s vs %s: visit %+.4f ± %.4f, conversion %+.5f ± %.5f, spend %+.3f ± %.3f\n",
				e.InterventionID, e.ControlID, e.Visit.Value, e.Visit.SE, e.Conversion.Value, e.Conversion.SE, e.Spend.Value, e.Spend.SE)
		}
		return
	}
	fmt.Fprintf(w, "Purchase rate per segment and arm, read back from ClickHouse, next to the planted truth:\n\n")
	fmt.Fprintf(w, "%-16s %-10s %9s %10s %10s %8s %12s\n", "segment", "arm", "entities", "observed", "planted", "z", "revenue")
	for _, g := range r.Groups {
		z := 0.0
		if g.Entities > 0 && g.TruthRate > 0 && g.TruthRate < 1 {
			se := math.Sqrt(g.TruthRate * (1 - g.TruthRate) / float64(g.Entities))
			z = (g.Rate() - g.TruthRate) / se
		}
		fmt.Fprintf(w, "%-16s %-10s %9d %10.4f %10.4f %+8.2f %12.2f\n", g.Name, g.Arm, g.Entities, g.Rate(), g.TruthRate, z, g.Revenue)
	}
	fmt.Fprintf(w, "\n(entities count exposure assignments over all campaigns; z = (observed − planted) / binomial SE)\n")
	if r.Response != nil {
		fmt.Fprintf(w, "\nThen a simulator calibrated on what was stored was asked over Kafka request/reply (%s):\n\n", r.SimulateElapsed.Round(100*time.Millisecond))
		_ = client.WriteReport(w, r.Request, *r.Response) // Print has no error to return, like fmt.Fprintf
	}
}
