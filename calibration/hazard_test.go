package calibration

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/synth"
	"github.com/preflight-hq/preflight/warehouse"
)

// calibrations adds a stand-in warehouse.Calibrations to a real warehouse:
// frequency moments and drift events are given, the rest does nothing. It
// exercises Calibrate's type assertion until the backends implement the
// interface.
type calibrations struct {
	warehouse.Warehouse
	fm     []warehouse.FrequencyMoment
	fmErr  error
	events []warehouse.DriftEvent
}

func (c *calibrations) Watermark(context.Context, string) (time.Time, error) {
	return time.Time{}, nil
}
func (c *calibrations) SetWatermark(context.Context, string, time.Time) error { return nil }
func (c *calibrations) RefreshSince(_ context.Context, since time.Time) (time.Time, uint64, error) {
	return since, 0, nil
}
func (c *calibrations) FrequencyMoments(context.Context, warehouse.MomentFilter) ([]warehouse.FrequencyMoment, error) {
	return c.fm, c.fmErr
}
func (c *calibrations) InsertDriftEvents(context.Context, []warehouse.DriftEvent) error { return nil }
func (c *calibrations) DriftEvents(_ context.Context, scope string, since time.Time) ([]warehouse.DriftEvent, error) {
	var out []warehouse.DriftEvent
	for _, e := range c.events {
		if (scope == "" || e.Scope == scope) && !e.DetectedAt.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}
func (c *calibrations) InsertSnapshot(context.Context, warehouse.Snapshot) error { return nil }
func (c *calibrations) LatestSnapshot(context.Context, string) (warehouse.Snapshot, bool, error) {
	return warehouse.Snapshot{}, false, nil
}

// InterventionEvents returns the underlying warehouse's intervention
// events when it implements warehouse.Calibrations, else none.
func (c *calibrations) InterventionEvents(ctx context.Context, from, to time.Time) ([]warehouse.InterventionEvent, error) {
	if cal, ok := c.Warehouse.(warehouse.Calibrations); ok {
		return cal.InterventionEvents(ctx, from, to)
	}
	return nil, nil
}

// truthFrequencyMoments turns synth's planted hazard expectations by
// channel and frequency into frequency moments of one segment, "all", with
// the expected numbers of events rounded.
func truthFrequencyMoments(tr *synth.Truth) []warehouse.FrequencyMoment {
	var fm []warehouse.FrequencyMoment
	for ch, fs := range tr.Fatigue.ByChannel {
		for _, f := range fs {
			fm = append(fm, warehouse.FrequencyMoment{
				SegmentID: "all", Channel: ch, Frequency: uint32(f.Frequency), Exposures: uint64(f.Sends),
				Unsubscribes: uint64(math.Round(float64(f.Sends) * f.UnsubscribeRate)),
				Complaints:   uint64(math.Round(float64(f.Sends) * f.ComplaintRate)),
			})
		}
	}
	return fm
}

// TestCalibrateHazardAndDrift checks the warehouse.Calibrations path: the
// hazard models are fitted on the frequency moments (the unsubscribe risk
// at each frequency within 25% of the planted rate), an open drift event in
// the window sets DriftDetected and one before it does not, and a failing
// FrequencyMoments leaves Hazard nil with a note; without Calibrations
// there is a note too.
func TestCalibrateHazardAndDrift(t *testing.T) {
	w := getWorld(t, false)
	ctx := context.Background()
	cal := &calibrations{Warehouse: w.stack.Warehouse, fm: truthFrequencyMoments(w.truth),
		events: []warehouse.DriftEvent{{Scope: "retail", DetectedAt: day(20)}, {Scope: "other", DetectedAt: day(21)}}}
	s, err := Calibrate(ctx, cal, testConfig(), day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hazard == nil || s.Hazard.Unsubscribe == nil || s.Hazard.Complaint == nil {
		t.Fatalf("no hazard models; notes %q", s.Notes)
	}
	for ch, fs := range w.truth.Fatigue.ByChannel {
		for _, f := range fs {
			if f.Sends < 1000 {
				continue
			}
			p, lo, hi := s.Hazard.Unsubscribe.Risk(ch, "all", f.Frequency, 0)
			t.Logf("%s f=%d: risk %.4f [%.4f, %.4f], planted %.4f (%d sends)", ch, f.Frequency, p, lo, hi, f.UnsubscribeRate, f.Sends)
			if math.Abs(p-f.UnsubscribeRate) > 0.25*f.UnsubscribeRate {
				t.Errorf("%s frequency %d: unsubscribe risk %.4f, planted %.4f", ch, f.Frequency, p, f.UnsubscribeRate)
			}
		}
	}
	if !s.Quality.DriftDetected {
		t.Error("drift event in the window not detected")
	}

	cal.events = []warehouse.DriftEvent{{Scope: "retail", DetectedAt: day(-3)}}
	cal.fmErr = errors.New("frequency moments unavailable")
	s, err = Calibrate(ctx, cal, testConfig(), day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Quality.DriftDetected {
		t.Error("a drift event before the window counts as detected")
	}
	if s.Hazard != nil || !strings.Contains(strings.Join(s.Notes, "; "), "frequency moments unavailable") {
		t.Errorf("failing FrequencyMoments: hazard %v, notes %q", s.Hazard, s.Notes)
	}

	if _, ok := w.stack.Warehouse.(warehouse.Calibrations); !ok {
		s, err = Calibrate(ctx, w.stack.Warehouse, testConfig(), day(worldDriftDay), "initial", nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Hazard != nil || !strings.Contains(strings.Join(s.Notes, "; "), "does not implement warehouse.Calibrations") {
			t.Errorf("plain warehouse: hazard %v, notes %q", s.Hazard, s.Notes)
		}
	}
}
