package drift

import (
	"slices"
	"testing"
)

func TestPageHinkleyHandComputed(t *testing.T) {
	cfg := PageHinkleyConfig{Delta: 0, Lambda: 1.5, Alpha: 1, MinInstances: 1, Mode: Up}
	// x = 1, −1, 3: running means 1, 0, 1; deviations 0, −1, 2; U = 0, −1, 1; min −1 after
	// sample 1, so PH⁺ = 2 > 1.5 at sample 2, change at 2, magnitude 0 + 2/1.
	d := must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, 1, -1, 3); !slices.Equal(got, []int{2}) {
		t.Fatalf("alarms = %v, want [2]", got)
	}
	if d.Statistic() != 2 || d.ChangeIndex() != 2 || d.Magnitude() != 2 || d.Threshold() != 1.5 {
		t.Fatalf("stat %v change %d magnitude %v threshold %v, want 2, 2, 2, 1.5",
			d.Statistic(), d.ChangeIndex(), d.Magnitude(), d.Threshold())
	}
	// The next update restarts: the running mean is the new sample alone.
	d.Update(10)
	if d.Mean() != 10 {
		t.Fatalf("mean after restart = %v, want 10", d.Mean())
	}

	// Mirror image for decreases: L = 0, 1, −1, max 1 after sample 1, PH⁻ = 2.
	cfg.Mode = Down
	d = must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, -1, 1, -3); !slices.Equal(got, []int{2}) {
		t.Fatalf("down alarms = %v, want [2]", got)
	}
	if d.ChangeIndex() != 2 || d.Magnitude() != -2 {
		t.Fatalf("down change %d magnitude %v, want 2, -2", d.ChangeIndex(), d.Magnitude())
	}
	// Up mode ignores the decrease.
	cfg.Mode = Up
	d = must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, -1, 1, -3); got != nil {
		t.Fatalf("up mode alarmed on a decrease: %v", got)
	}
	// MinInstances holds the alarm back.
	cfg.MinInstances = 4
	d = must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, 1, -1, 3); got != nil {
		t.Fatalf("alarm before MinInstances: %v", got)
	}
	// δ is subtracted at every step: with δ = 0.5, U = −0.5, −2, −0.5 → PH⁺ = 1.5, and the
	// magnitude is δ + 1.5/1.
	cfg = PageHinkleyConfig{Delta: 0.5, Lambda: 1.4, Alpha: 1, MinInstances: 1}
	d = must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, 1, -1, 3); !slices.Equal(got, []int{2}) || !near(d.Statistic(), 1.5, tol) || !near(d.Magnitude(), 2, tol) {
		t.Fatalf("alarms %v stat %v magnitude %v, want [2], 1.5, 2", got, d.Statistic(), d.Magnitude())
	}
	// Fading: with α = 0.5 and δ = 0, U = 0, −1, 1.5 → PH⁺ = 2.5.
	cfg = PageHinkleyConfig{Delta: 0, Lambda: 2.4, Alpha: 0.5, MinInstances: 1}
	d = must(NewPageHinkley(cfg)).(*PageHinkley)
	if got := feed(t, d, 1, -1, 3); !slices.Equal(got, []int{2}) || !near(d.Statistic(), 2.5, tol) {
		t.Fatalf("faded alarms %v stat %v, want [2], 2.5", got, d.Statistic())
	}
	d.Reset()
	if d.ChangeIndex() != -1 || d.Statistic() != 0 {
		t.Fatalf("after Reset change %d stat %v, want -1, 0", d.ChangeIndex(), d.Statistic())
	}
}

func TestPageHinkleyValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*PageHinkleyConfig)
	}{
		{"Delta", func(c *PageHinkleyConfig) { c.Delta = -1 }},
		{"Lambda", func(c *PageHinkleyConfig) { c.Lambda = 0 }},
		{"Alpha", func(c *PageHinkleyConfig) { c.Alpha = 1.5 }},
		{"MinInstances", func(c *PageHinkleyConfig) { c.MinInstances = 0 }},
		{"Mode", func(c *PageHinkleyConfig) { c.Mode = 7 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultPageHinkleyConfig()
			tc.edit(&c)
			wantFieldError(t, c.Validate(), "PageHinkleyConfig."+tc.field)
			if _, err := NewPageHinkley(c); err == nil {
				t.Fatal("NewPageHinkley accepted an invalid config")
			}
		})
	}
	if err := DefaultPageHinkleyConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}
