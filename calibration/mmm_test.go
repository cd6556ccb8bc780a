package calibration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/causal/mmm"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

// TestCalibrateMMM fits a snapshot of the stable world (28 days, email and
// sms flighted every 7 days) and checks its marketing-mix summary: present,
// finite, one channel each for email and sms with their spend, R̂ < 1.05 at
// the default budget (4 × (300 + 300)), ROAS intervals containing their
// posterior means, the raking fed with the model's totals, and a JSON
// round trip that keeps the summary.
func TestCalibrateMMM(t *testing.T) {
	w := getWorld(t, false)
	start := time.Now()
	s, err := Calibrate(context.Background(), w.stack.Warehouse, testConfig(), day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated in %s; notes: %q", time.Since(start).Round(time.Millisecond), s.Notes)
	m := s.MMM
	if m == nil {
		t.Fatalf("no MMM summary; notes %q", s.Notes)
	}
	if err := m.checkFinite(); err != nil {
		t.Error(err)
	}
	d := m.Diagnostics
	t.Logf("MMM: %d days [%s, %s), outcome %s total %.1f, max R̂ %.4f, min bulk ESS %.0f, %d divergences", m.Days, m.WindowStart.Format(time.DateOnly), m.WindowEnd.Format(time.DateOnly), m.Outcome, m.OutcomeTotal, d.MaxRHat, d.MinESSBulk, d.Divergences)
	if m.Days != worldDriftDay || !m.WindowEnd.Equal(s.WindowEnd) || m.Outcome != MMMIncrementalRevenue {
		t.Errorf("summary header: %d days ending %s, outcome %s", m.Days, m.WindowEnd, m.Outcome)
	}
	if !(d.MaxRHat < 1.05) {
		t.Errorf("max R̂ %.4f ≥ 1.05", d.MaxRHat)
	}
	if d.Chains != DefaultMMMChains || d.Warmup != DefaultMMMWarmup || d.Draws != DefaultMMMDraws {
		t.Errorf("budget %+v", d)
	}
	spend, planted := map[string]float64{}, map[string]float64{}
	for _, ct := range w.truth.Campaigns {
		spend[ct.Channel] += ct.Spend
		planted[ct.Channel] += ct.All.RevenueATE * float64(ct.All.Treated)
	}
	if len(m.Channels) != 2 || m.Channels[0].Channel != schemas.ChannelEmail || m.Channels[1].Channel != schemas.ChannelSMS {
		t.Fatalf("channels %+v", m.Channels)
	}
	for _, c := range m.Channels {
		t.Logf("  %-5s planted incremental revenue %.1f, ROAS %.2f", c.Channel, planted[c.Channel], planted[c.Channel]/spend[c.Channel])
		t.Logf("  %-5s spend %.2f (planted %.2f) contribution %.1f [%.1f, %.1f] share %.2f ROAS %.2f [%.2f, %.2f] mROAS %.2f [%.2f, %.2f] α %.3f sat %.3v β %.3f incr. conversions %.1f",
			c.Channel, c.Spend, spend[c.Channel], c.Contribution.Mean, c.Contribution.Lo, c.Contribution.Hi, c.ShareOfMedia.Mean,
			c.ROAS.Mean, c.ROAS.Lo, c.ROAS.Hi, c.MROAS.Mean, c.MROAS.Lo, c.MROAS.Hi, c.AdstockParams[0], c.SaturationParams, c.Beta, c.IncrementalConversions)
		if math.Abs(c.Spend-spend[c.Channel]) > 1e-6*spend[c.Channel] {
			t.Errorf("%s: spend %.4f, the campaigns spent %.4f", c.Channel, c.Spend, spend[c.Channel])
		}
		for name, iv := range map[string]MMMInterval{"ROAS": c.ROAS, "mROAS": c.MROAS, "contribution": c.Contribution} {
			if !iv.Contains(iv.Mean) || !(iv.Lo < iv.Hi) {
				t.Errorf("%s %s interval [%.4f, %.4f] around mean %.4f", c.Channel, name, iv.Lo, iv.Hi, iv.Mean)
			}
		}
		if len(c.AdstockParams) != 1 || len(c.SaturationParams) != 2 || !(c.SpendScale > 0) || !(c.RevenuePerConversion > 0) {
			t.Errorf("%s: parameters %+v", c.Channel, c)
		}
		// The plug-in response at the fitted spend is in the ballpark of
		// the posterior mean contribution.
		r, err := c.Response(m, dailySpend(t, w, s, c.Channel))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("  %-5s plug-in response at the fitted spend %.1f", c.Channel, r)
		if !(r > 0) || math.IsNaN(r) {
			t.Errorf("%s: response %v", c.Channel, r)
		}
	}
	if s.Raking == nil || s.Raking.MixSource != "mmm" || len(s.Raking.MixFactors) == 0 {
		t.Errorf("the raking did not use the MMM's totals: %+v; notes %q", s.Raking, s.Notes)
	} else {
		t.Logf("raking mix factors from the MMM: %v", s.Raking.MixFactors)
	}

	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.MMM, s.MMM) {
		t.Errorf("JSON round trip changed the MMM summary:\n%+v\n%+v", got.MMM, s.MMM)
	}
	t.Logf("snapshot %d bytes, of which the MMM summary %d", len(b), len(mustJSON(t, s.MMM)))

	// A refit on a window too short keeps this summary, noted.
	cfg := testConfig()
	cfg.MMM.MinDays = worldDriftDay + 1
	s2, err := Calibrate(context.Background(), w.stack.Warehouse, cfg, day(worldDriftDay), "schedule", s)
	if err != nil {
		t.Fatal(err)
	}
	if s2.MMM != s.MMM || !hasNote(s2.Notes, "the previous summary") {
		t.Errorf("a skipped refit did not keep prev's summary: %v; notes %q", s2.MMM, s2.Notes)
	}
	if s2.Raking != nil && s2.Raking.MixSource != "" {
		t.Errorf("a carried summary fed the raking: %+v", s2.Raking)
	}
}

// TestCalibrateMMMTooFewDays calibrates a 14-day window, shorter than
// DefaultMMMMinDays: the MMM is skipped with a note and no summary.
func TestCalibrateMMMTooFewDays(t *testing.T) {
	w := getWorld(t, false)
	cfg := testConfig()
	cfg.Window = 14 * 24 * time.Hour
	cfg.MMM.Sampler.Chains = 1 // would fail R̂ if it ran
	s, err := Calibrate(context.Background(), w.stack.Warehouse, cfg, day(worldDriftDay), "schedule", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.MMM != nil {
		t.Errorf("MMM fitted on 14 days: %+v", s.MMM)
	}
	want := fmt.Sprintf("marketing-mix model not refitted: 14 days of data (from the first exposure day %s), fewer than the %d it needs", day(14).Format(time.DateOnly), DefaultMMMMinDays)
	if !hasNote(s.Notes, want) {
		t.Errorf("no note %q in %q", want, s.Notes)
	}
}

// TestMMMRecoversSimulatedROAS simulates 56 days of data with mmm.Simulate
// (a flighted channel with ROAS 3 and an always-on channel with ROAS 1.5,
// geometric adstock and Hill saturation, no intercept — an incremental
// target is zero without spend — and noise 2),
// turns them into daily moments — each day's outcome is the treated
// revenue of a campaign stratum whose control arm, as large, adds a
// baseline revenue that the incremental target must subtract again — and
// runs them through buildMMMSeries and fitMMMSeries: the flighted
// channel's 90% ROAS interval contains the true ROAS.
func TestMMMRecoversSimulatedROAS(t *testing.T) {
	const days = 56
	sim, err := mmm.Simulate(mmm.SimConfig{
		Periods: days, Noise: 2,
		Channels: []mmm.SimChannel{
			{Name: schemas.ChannelEmail, Adstock: mmm.Geometric, MaxLag: DefaultMMMMaxLag, AdstockParams: []float64{0.3},
				Saturation: mmm.Hill, SaturationParams: []float64{0.5, 1.5}, ROAS: 3, MeanSpend: 20, Flighted: true,
				BurstPeriods: [2]int{2, 5}, DarkPeriods: [2]int{3, 8}, BurstSpendSD: 0.5},
			{Name: schemas.ChannelSMS, Adstock: mmm.Geometric, MaxLag: DefaultMMMMaxLag, AdstockParams: []float64{0.2},
				Saturation: mmm.Hill, SaturationParams: []float64{0.6, 1.2}, ROAS: 1.5, MeanSpend: 15},
		},
	}, rand.New(rand.NewPCG(7, 0x6d6d6d)))
	if err != nil {
		t.Fatal(err)
	}
	from := day(0)
	var em []warehouse.ExposureMoment
	var om []warehouse.OutcomeMoment
	for ti := range days {
		d := from.AddDate(0, 0, ti)
		for m, ch := range []string{schemas.ChannelEmail, schemas.ChannelSMS} {
			x := sim.Data.Spend[m][ti]
			if x == 0 && m > 0 {
				continue
			}
			// Channel 0 carries the day's outcome (on a zero-cost stratum
			// on its dark days); the other channels only their spend.
			key := warehouse.MomentKey{Day: d, SegmentID: "s", Channel: ch, CampaignID: fmt.Sprintf("c%d-%d", m, ti), InterventionID: "iv", Arm: schemas.ArmTreatment}
			em = append(em, warehouse.ExposureMoment{MomentKey: key, Exposures: 1000, Entities: 1000, Cost: x})
			ctl := key
			ctl.Arm = schemas.ArmControl
			em = append(em, warehouse.ExposureMoment{MomentKey: ctl, Exposures: 1000, Entities: 1000})
			base := 40 + 10*math.Sin(float64(ti)) // baseline revenue of each arm
			rev := base
			if m == 0 {
				rev += sim.Data.Y[ti]
			}
			om = append(om,
				warehouse.OutcomeMoment{MomentKey: key, OutcomeType: outcomePurchase, Outcomes: 50, Entities: 40, ValueSum: rev},
				warehouse.OutcomeMoment{MomentKey: ctl, OutcomeType: outcomePurchase, Outcomes: 40, Entities: 30, ValueSum: base})
		}
	}
	ser, err := buildMMMSeries(em, om, from.AddDate(0, 0, days-1), MMMIncrementalRevenue)
	if err != nil {
		t.Fatal(err)
	}
	if ser.days != days || len(ser.channels) != 2 {
		t.Fatalf("series: %d days, channels %v", ser.days, ser.channels)
	}
	for ti := range days {
		if math.Abs(ser.y[ti]-sim.Data.Y[ti]) > 1e-6 || math.Abs(ser.spend[0][ti]-sim.Data.Spend[0][ti]) > 1e-6 {
			t.Fatalf("day %d: y %.6f spend %.6f, simulated %.6f and %.6f", ti, ser.y[ti], ser.spend[0][ti], sim.Data.Y[ti], sim.Data.Spend[0][ti])
		}
	}
	start := time.Now()
	sum, err := fitMMMSeries(context.Background(), ser, MMMConfig{}.withDefaults(5))
	if err != nil {
		t.Fatal(err)
	}
	d := sum.Diagnostics
	t.Logf("fitted %d days in %s: max R̂ %.4f, min bulk ESS %.0f, %d divergences", days, time.Since(start).Round(time.Millisecond), d.MaxRHat, d.MinESSBulk, d.Divergences)
	for m, c := range sum.Channels {
		t.Logf("  %-5s ROAS truth %.3f, posterior %.3f [%.3f, %.3f]; α %.3f (truth %.2f), sat %.3v (truth %v)", c.Channel, sim.ROAS[m], c.ROAS.Mean, c.ROAS.Lo, c.ROAS.Hi, c.AdstockParams[0], sim.Truth.Adstock[m][0], c.SaturationParams, sim.Truth.Saturation[m])
	}
	if !(d.MaxRHat < 1.05) {
		t.Errorf("max R̂ %.4f ≥ 1.05", d.MaxRHat)
	}
	if c := sum.Channels[0]; !c.ROAS.Contains(sim.ROAS[0]) {
		t.Errorf("flighted channel %s: ROAS interval [%.3f, %.3f] misses the truth %.3f", c.Channel, c.ROAS.Lo, c.ROAS.Hi, sim.ROAS[0])
	}
	// The plug-in response at the simulated spend is close to the true
	// incremental revenue (ROAS × spend).
	c := sum.Channels[0]
	r, err := c.Response(sum, sim.Data.Spend[0])
	if err != nil {
		t.Fatal(err)
	}
	if truth := sim.ROAS[0] * c.Spend; math.Abs(r-truth) > 0.2*truth {
		t.Errorf("plug-in response %.1f, true incremental revenue %.1f", r, truth)
	}
}

// dailySpend returns a channel's daily treated cost over the MMM's days.
func dailySpend(t *testing.T, w *world, s *Snapshot, channel string) []float64 {
	t.Helper()
	em, err := w.stack.Warehouse.ExposureMoments(context.Background(), warehouse.MomentFilter{From: s.MMM.WindowStart, To: s.MMM.WindowEnd.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, s.MMM.Days)
	for _, m := range em {
		if m.Channel == channel && m.Arm == schemas.ArmTreatment {
			x[int(m.Day.Sub(s.MMM.WindowStart)/(24*time.Hour))] += m.Cost
		}
	}
	return x
}

func hasNote(notes []string, sub string) bool {
	for _, n := range notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
