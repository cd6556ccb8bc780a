package mmm

import (
	"math/rand/v2"
	"testing"
)

// simConfig returns a 2-year weekly simulation with the given channels.
func simConfig(channels []SimChannel) SimConfig {
	return SimConfig{
		Periods:   104,
		Channels:  channels,
		Intercept: 100, Trend: 10,
		Harmonics: 2, Period: 52.1775, SeasonAmp: 5,
		Controls: 1, ControlAmp: 3,
		Noise: 1.5,
	}
}

// mixedChannels returns two flighted and one always-on channel covering
// every kernel and curve.
func mixedChannels() []SimChannel {
	return []SimChannel{
		{Name: "tv", Adstock: Geometric, MaxLag: 8, AdstockParams: []float64{0.5},
			Saturation: Hill, SaturationParams: []float64{0.5, 1.5}, ROAS: 2, MeanSpend: 10, Flighted: true},
		{Name: "search", Adstock: WeibullCDF, MaxLag: 6, AdstockParams: []float64{1.5, 2},
			Saturation: Logistic, SaturationParams: []float64{2}, ROAS: 1.5, MeanSpend: 8, Flighted: true},
		{Name: "social", Adstock: Geometric, MaxLag: 6, AdstockParams: []float64{0.3},
			Saturation: Hill, SaturationParams: []float64{0.6, 1.2}, ROAS: 1.2, MeanSpend: 6, Flighted: false},
	}
}

func mustSimulate(t testing.TB, cfg SimConfig, seed uint64) *Simulation {
	t.Helper()
	sim, err := Simulate(cfg, rand.New(rand.NewPCG(seed, 0x6d6d6d)))
	if err != nil {
		t.Fatal(err)
	}
	return sim
}
