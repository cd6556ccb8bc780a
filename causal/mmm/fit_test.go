package mmm

import (
	"context"
	"testing"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// fitSim fits the model of a simulation.
func fitSim(t testing.TB, sim *Simulation, lifts []LiftTest, cfg mcmc.Config) *Fit {
	t.Helper()
	m, err := NewModel(sim.Data, sim.Spec, lifts)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Sample(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
