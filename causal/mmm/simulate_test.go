package mmm

import (
	"slices"
	"testing"
)

// TestSimulateDeterministic checks that a seed fixes the data and that
// flighted channels have zero-spend periods while always-on ones do not.
func TestSimulateDeterministic(t *testing.T) {
	a := mustSimulate(t, simConfig(mixedChannels()), 42)
	b := mustSimulate(t, simConfig(mixedChannels()), 42)
	c := mustSimulate(t, simConfig(mixedChannels()), 43)
	if !slices.Equal(a.Data.Y, b.Data.Y) || !slices.Equal(a.Data.Spend[0], b.Data.Spend[0]) {
		t.Fatal("same seed, different data")
	}
	if slices.Equal(a.Data.Y, c.Data.Y) {
		t.Fatal("different seeds, same data")
	}
	for ch, sc := range mixedChannels() {
		zeros := 0
		for _, v := range a.Data.Spend[ch] {
			if v == 0 {
				zeros++
			}
		}
		if sc.Flighted && zeros < 10 {
			t.Errorf("%s: flighted with only %d dark periods", sc.Name, zeros)
		}
		if !sc.Flighted && zeros != 0 {
			t.Errorf("%s: always-on with %d dark periods", sc.Name, zeros)
		}
	}
}
