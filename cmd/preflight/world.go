package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/preflight-hq/preflight/synth"
)

// worldFlags configure the synthetic world.
type worldFlags struct {
	seed                        uint64
	entities, days, campaigns   int
	holdout                     float64
	driftAt                     string
	driftSegment                string
	driftBaseOdds, driftEffects float64
}

func addWorldFlags(fs *flag.FlagSet) *worldFlags {
	w := &worldFlags{}
	fs.Uint64Var(&w.seed, "seed", 1, "random seed of the synthetic world")
	fs.IntVar(&w.entities, "entities", 20000, "entities in the synthetic world")
	fs.IntVar(&w.days, "days", synth.DefaultDays, "days over which campaigns are sent")
	fs.IntVar(&w.campaigns, "campaigns", 12, "campaigns over email, sms and push")
	fs.Float64Var(&w.holdout, "holdout", 0.2, "share of each campaign's audience held out as control")
	fs.StringVar(&w.driftAt, "drift-at", "", "inject drift from this RFC 3339 time (empty: no drift)")
	fs.StringVar(&w.driftSegment, "drift-segment", "", "restrict the drift to one segment (empty: all)")
	fs.Float64Var(&w.driftBaseOdds, "drift-base-odds", 2, "drift: factor on the odds of the baseline purchase probability")
	fs.Float64Var(&w.driftEffects, "drift-effect", 1, "drift: factor on the treatment effect")
	return w
}

func (w *worldFlags) config() (synth.Config, error) {
	cfg := synth.Config{Seed: w.seed, Entities: w.entities, Days: w.days, NumCampaigns: w.campaigns, HoldoutShare: w.holdout}
	if w.driftAt != "" {
		at, err := time.Parse(time.RFC3339, w.driftAt)
		if err != nil {
			return cfg, fmt.Errorf("drift-at: want an RFC 3339 time such as 2026-02-01T00:00:00Z: %w", err)
		}
		cfg.Drift = &synth.Drift{At: at, Segment: w.driftSegment, BaseOddsFactor: w.driftBaseOdds, EffectFactor: w.driftEffects}
	}
	return cfg, nil
}
