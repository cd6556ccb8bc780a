// Package demo runs `preflight demo`: it streams a synthetic world with
// planted truth (or the Hillstrom replay) through Kafka, lets the ingestor
// store it in ClickHouse, and reads a summary back from ClickHouse next to
// the truth.
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

	"github.com/schollz/progressbar/v3"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/replay"
	"github.com/preflight-hq/preflight/schemas"
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
	// Progress receives progress bars (nil: none).
	Progress io.Writer
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

// Run streams the source through the stack and summarizes what was stored.
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
	// No spinner ticker: progressbar's ticker goroutine reads the bar's
	// state without its lock (a data race) and outlives unfinished bars.
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetSpinnerChangeInterval(0), progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("producing to kafka"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"), progressbar.OptionThrottle(100*time.Millisecond))
	sink, err := eventsink.NewKafka(eventsink.KafkaConfig{
		Brokers: st.Kafka.Brokers, TopicPrefix: st.Topics.Prefix,
		SASLMechanism: st.Kafka.SASLMechanism, SASLUser: st.Kafka.SASLUser, SASLPassword: st.Kafka.SASLPassword,
		Progress: func(delivered, _ int64) { _ = bar.Set64(delivered) },
	})
	if err != nil {
		return nil, err
	}
	switch opts.Source {
	case SourceSynth, "":
		res.Truth, err = synth.Generate(ctx, opts.Synth, sink)
	case SourceHillstrom:
		var f *os.File
		f, err = os.Open(opts.HillstromPath)
		if err != nil {
			sink.Close()
			return nil, fmt.Errorf("cannot open the Hillstrom CSV: %w", err)
		}
		res.Hillstrom, err = replay.Hillstrom(ctx, f, replay.Options{}, sink)
		f.Close()
	default:
		err = fmt.Errorf("source %q: want %s or %s", opts.Source, SourceSynth, SourceHillstrom)
	}
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	res.Produced = sink.Delivered()
	_ = bar.Finish()
	fmt.Fprintln(progress)

	// Wait until the ingestor has seen every record.
	bar = progressbar.NewOptions64(res.Produced, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("ingesting into clickhouse"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"), progressbar.OptionThrottle(100*time.Millisecond))
	for {
		s := st.Ingestor.Stats()
		seen := s.Stored + s.Duplicates + s.Invalid
		_ = bar.Set64(seen)
		if seen >= res.Produced {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = bar.Finish()
	fmt.Fprintln(progress)

	res.Stored = map[schemas.Type]uint64{}
	for _, t := range schemas.Types {
		if res.Stored[t], err = st.Warehouse.Count(ctx, t); err != nil {
			return nil, err
		}
	}
	if res.DLQ, err = st.DLQCount(ctx); err != nil {
		return nil, err
	}
	if err := st.Warehouse.RefreshMoments(ctx, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().AddDate(1, 0, 0)); err != nil {
		return nil, err
	}
	if res.Groups, err = groups(ctx, st.Warehouse, res); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
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
}
