package uplift

import (
	"errors"
	"math"
	"testing"
)

const tol = 1e-9

func near(t *testing.T, name string, got, want, eps float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %.12g, want NaN", name, got)
		}
		return
	}
	if math.IsNaN(got) || math.Abs(got-want) > eps {
		t.Errorf("%s = %.12g, want %.12g ± %g", name, got, want, eps)
	}
}

func nearSlice(t *testing.T, name string, got, want []float64, eps float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d values %v, want %d %v", name, len(got), got, len(want), want)
	}
	for i := range want {
		near(t, name, got[i], want[i], eps)
	}
}

// Example A of the reference (10 rows, no ties).
var (
	yA = []float64{1, 1, 0, 1, 0, 1, 0, 0, 1, 0}
	tA = []float64{1, 1, 0, 1, 0, 1, 0, 1, 0, 0}
	sA = []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0}
	// Example B: same rows, tied scores.
	sB = []float64{0.9, 0.9, 0.7, 0.7, 0.5, 0.5, 0.5, 0.2, 0.2, 0.0}
)

func TestExampleA(t *testing.T) {
	x, q, err := QiniCurve(yA, tA, sA)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "Qini x", x, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0)
	nearSlice(t, "Qini y", q, []float64{0, 1, 2, 2, 3, 3, 4, 4, 4, 2.75, 3}, tol)
	_, u, err := UpliftCurve(yA, tA, sA)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "uplift y", u, []float64{0, 1, 2, 3, 4, 5, 6, 7, 6.4, 4.95, 6}, tol)

	px, pq, err := PerfectQiniCurve(yA, tA, true)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "perfect Qini x", px, []float64{0, 4, 9, 10}, 0)
	nearSlice(t, "perfect Qini y", pq, []float64{0, 4, 4, 3}, tol)
	px, pq, err = PerfectQiniCurve(yA, tA, false)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "perfect Qini (no negative effect) x", px, []float64{0, 3, 10}, tol)
	nearSlice(t, "perfect Qini (no negative effect) y", pq, []float64{0, 3, 3}, tol)

	scores := []struct {
		name string
		f    func() (float64, error)
		want float64
	}{
		{"qini_auc_score", func() (float64, error) { return QiniAUCScore(yA, tA, sA, true) }, 12.25 / 16.5},
		{"qini_auc_score(negative_effect=False)", func() (float64, error) { return QiniAUCScore(yA, tA, sA, false) }, 1.1666666667},
		{"uplift_auc_score", func() (float64, error) { return UpliftAUCScore(yA, tA, sA) }, 0.7623456790},
		{"uplift_at_k overall", func() (float64, error) { return UpliftAtK(yA, tA, sA, 0.5, Overall) }, 1},
		{"uplift_at_k by_group", func() (float64, error) { return UpliftAtK(yA, tA, sA, 0.5, ByGroup) }, 1},
	}
	for _, s := range scores {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.f()
			if err != nil {
				t.Fatal(err)
			}
			near(t, s.name, got, s.want, tol)
		})
	}
}

func TestExampleB(t *testing.T) {
	x, q, err := QiniCurve(yA, tA, sB)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "Qini x", x, []float64{0, 2, 4, 7, 9, 10}, 0)
	nearSlice(t, "Qini y", q, []float64{0, 2, 3, 4, 2.75, 3}, tol)
	qs, err := QiniAUCScore(yA, tA, sB, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "qini_auc_score", qs, 0.7348484848, tol)
	us, err := UpliftAUCScore(yA, tA, sB)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "uplift_auc_score", us, 0.7361111111, tol)
}

// exampleD builds the reference's deterministic n = 1000 example.
func exampleD() (y, tr, s []float64) {
	const n = 1000
	y, tr, s = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		k := (7919 * i) % 1000
		v := (104729 * i) % 1000
		ti := 0
		if (37*i)%100 < 50 {
			ti = 1
		}
		tr[i] = float64(ti)
		if 4*v < 400+k*ti {
			y[i] = 1
		}
		s[i] = float64(k/10) / 100
	}
	return y, tr, s
}

func TestExampleD(t *testing.T) {
	y, tr, s := exampleD()
	var nt, yt, yc float64
	for i := range y {
		nt += tr[i]
		yt += tr[i] * y[i]
		yc += (1 - tr[i]) * y[i]
	}
	if nt != 500 || yt != 116 || yc != 50 {
		t.Fatalf("totals N_t %v, Y_t %v, Y_c %v, want 500, 116, 50", nt, yt, yc)
	}
	x, q, err := QiniCurve(y, tr, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 101 {
		t.Fatalf("Qini curve has %d points, want 101", len(x))
	}
	nearSlice(t, "Qini x head", x[:4], []float64{0, 10, 20, 30}, 0)
	nearSlice(t, "Qini y head", q[:4], []float64{0, 0, 4, 9.142857142857142}, 1e-9)
	near(t, "Qini last", q[100], 66, tol)

	cases := []struct {
		name string
		f    func() (float64, error)
		want float64
	}{
		{"qini_auc_score", func() (float64, error) { return QiniAUCScore(y, tr, s, true) }, 0.1652043441},
		{"qini_auc_score(negative_effect=False)", func() (float64, error) { return QiniAUCScore(y, tr, s, false) }, 0.4021140841},
		{"uplift_auc_score", func() (float64, error) { return UpliftAUCScore(y, tr, s) }, 0.0975240749},
		{"uplift_at_k(0.3) overall", func() (float64, error) { return UpliftAtK(y, tr, s, 0.3, Overall) }, 0.2466666667},
		{"uplift_at_k(0.3) by_group", func() (float64, error) { return UpliftAtK(y, tr, s, 0.3, ByGroup) }, 0.2466666667},
		{"weighted_average_uplift", func() (float64, error) { return WeightedAverageUplift(y, tr, s, Overall, 10) }, 0.1320000000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.f()
			if err != nil {
				t.Fatal(err)
			}
			near(t, c.name, got, c.want, tol)
		})
	}

	rows, _, err := UpliftByPercentile(y, tr, s, Overall, 10)
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	if r.Label != "0-10" || r.NTreatment != 50 || r.NControl != 50 {
		t.Errorf("first percentile row %+v, want 0-10 with 50 and 50 rows", r)
	}
	near(t, "r_t", r.RateTreatment, 0.38, tol)
	near(t, "r_c", r.RateControl, 0.12, tol)
	near(t, "uplift", r.Uplift, 0.26, tol)
	near(t, "std_uplift", r.StdUplift, 0.082608, 5e-7)
}

// TestHandComputed checks a four-row case worked out by hand.
//
// y = (1, 0, 1, 0), t = (1, 1, 0, 0), score = (0.4, 0.3, 0.2, 0.1); no ties,
// so the order is rows 0, 1, 2, 3.
//
// Qini: after row 0, N_t = 1, Y_t = 1, N_c = 0 → Q = 1; after row 1, N_t = 2,
// Y_t = 1, N_c = 0 → 1; after row 2, N_c = 1, Y_c = 1 → 1 − 1·2/1 = −1; after
// row 3, N_c = 2 → 1 − 1·2/2 = 0. Trapezoid area over x = 0..4:
// 0.5 + 1 + 0 − 0.5 = 1; the baseline ends at 0, so its area is 0.
//
// Perfect Qini (negative effect): s = y·t − y·(1 − t) = (1, 0, −1, 0); order
// 0, 3, 1, 2 (ties in descending index), thresholds after positions 0, 2, 3:
// Q = 1, 1 − 0 = 1, 0; points (0,0), (1,1), (3,1), (4,0), area 0.5 + 2 + 0.5
// = 3. Qini coefficient = 1/3.
//
// Uplift curve: (1/1 − 0)·1 = 1, (1/2 − 0)·2 = 1, (1/2 − 1/1)·3 = −1.5,
// (1/2 − 1/2)·4 = 0; area 0.5 + 1 − 0.25 − 0.75 = 0.5. Perfect uplift: one
// control responder (CR = 1) and one treated non-responder (TN = 1), so
// CR > TN is false and s = 2·1[y = t] + t = (3, 1, 0, 2); order 0, 3, 1, 2;
// U = 1, (1 − 0)·2 = 2, (1/2 − 0)·3 = 1.5, 0; area 0.5 + 1.5 + 1.75 + 0.75 =
// 4.5. AUUC = 0.5/4.5 = 1/9.
//
// uplift@0.5 overall takes rows 0 and 1, both treated: the control mean is
// NaN, so the result is NaN. By group: ⌊0.5·2⌋ = 1 row of each group, row 0
// (y = 1) and row 2 (y = 1): 1 − 1 = 0.
func TestHandComputed(t *testing.T) {
	y := []float64{1, 0, 1, 0}
	tr := []float64{1, 1, 0, 0}
	s := []float64{0.4, 0.3, 0.2, 0.1}
	_, q, _ := QiniCurve(y, tr, s)
	nearSlice(t, "Qini", q, []float64{0, 1, 1, -1, 0}, tol)
	px, pq, _ := PerfectQiniCurve(y, tr, true)
	nearSlice(t, "perfect Qini x", px, []float64{0, 1, 3, 4}, 0)
	nearSlice(t, "perfect Qini y", pq, []float64{0, 1, 1, 0}, tol)
	qs, err := QiniAUCScore(y, tr, s, true)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Qini coefficient", qs, 1.0/3, tol)
	_, u, _ := UpliftCurve(y, tr, s)
	nearSlice(t, "uplift", u, []float64{0, 1, 1, -1.5, 0}, tol)
	_, pu, _ := PerfectUpliftCurve(y, tr)
	nearSlice(t, "perfect uplift", pu, []float64{0, 1, 2, 1.5, 0}, tol)
	us, err := UpliftAUCScore(y, tr, s)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "AUUC", us, 1.0/9, tol)
	ov, err := UpliftAtK(y, tr, s, 0.5, Overall)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "uplift@0.5 overall", ov, math.NaN(), 0)
	bg, err := UpliftAtK(y, tr, s, 0.5, ByGroup)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "uplift@0.5 by_group", bg, 0, tol)
	// A whole-number k counts rows: the top 3 are rows 0, 1 (treated, mean
	// 1/2) and 2 (control, mean 1).
	c3, err := UpliftAtK(y, tr, s, 3, Overall)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "uplift@3 overall", c3, -0.5, tol)
}

func TestTieOrderInPercentiles(t *testing.T) {
	// All scores tie, so the order is rows 5, 4, …, 0; two bins of three rows
	// each: rows {5, 4, 3} and {2, 1, 0}.
	y := []float64{1, 1, 0, 0, 0, 1}
	tr := []float64{1, 0, 1, 0, 1, 0}
	s := make([]float64, 6)
	rate, variance, size, err := ResponseRateByPercentile(y, tr, s, Treatment, Overall, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Treated rows: {5,4,3} → row 4 (y 0); {2,1,0} → rows 2 (y 0) and 0 (y 1).
	nearSlice(t, "rate", rate, []float64{0, 0.5}, tol)
	nearSlice(t, "variance", variance, []float64{0, 0.125}, tol)
	if size[0] != 1 || size[1] != 2 {
		t.Errorf("sizes %v, want [1 2]", size)
	}
	// by_group control: control rows in order 5, 3, 1 → chunks {5, 3}, {1}.
	rate, _, size, err = ResponseRateByPercentile(y, tr, s, Control, ByGroup, 2)
	if err != nil {
		t.Fatal(err)
	}
	nearSlice(t, "by_group control rate", rate, []float64{0.5, 1}, tol)
	if size[0] != 2 || size[1] != 1 {
		t.Errorf("sizes %v, want [2 1]", size)
	}
	// The whole curve has a single threshold: (0,0), (6, Q(6)).
	x, q, _ := QiniCurve(y, tr, s)
	nearSlice(t, "x", x, []float64{0, 6}, 0)
	nearSlice(t, "q", q, []float64{0, 1 - 2.0*3/3}, tol)
}

func TestPercentileLabels(t *testing.T) {
	y := []float64{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0}
	tr := []float64{1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0}
	s := make([]float64, len(y))
	for i := range s {
		s[i] = float64(i)
	}
	rows, total, err := UpliftByPercentile(y, tr, s, Overall, 8)
	if err != nil {
		t.Fatal(err)
	}
	// round(12.5) = 12, round(37.5) = 38, round(62.5) = 62, round(87.5) = 88
	// with Python's round-half-to-even.
	want := []string{"0-12", "12-25", "25-38", "38-50", "50-62", "62-75", "75-88", "88-100"}
	for i, r := range rows {
		if r.Label != want[i] {
			t.Errorf("label %d = %q, want %q", i, r.Label, want[i])
		}
	}
	if total.NTreatment != 8 || total.NControl != 8 {
		t.Errorf("total sizes %d and %d, want 8 and 8", total.NTreatment, total.NControl)
	}
}

func TestErrors(t *testing.T) {
	ok := []float64{1, 0, 1, 0}
	cases := []struct {
		name string
		err  error
	}{
		{"non-binary y", func() error { _, _, err := QiniCurve([]float64{1, 0, 2, 0}, ok, ok); return err }()},
		{"single-valued t", func() error { _, err := QiniAUCScore(ok, []float64{1, 1, 1, 1}, ok, true); return err }()},
		{"length mismatch", func() error { _, _, err := UpliftCurve(ok, ok[:3], ok); return err }()},
		{"NaN score", func() error { _, err := UpliftAUCScore(ok, ok, []float64{1, math.NaN(), 0, 0}); return err }()},
		{"k = 0", func() error { _, err := UpliftAtK(ok, ok, ok, 0, Overall); return err }()},
		{"k = n", func() error { _, err := UpliftAtK(ok, ok, ok, 4, Overall); return err }()},
		{"fractional k > 1", func() error { _, err := UpliftAtK(ok, ok, ok, 1.5, Overall); return err }()},
		{"bins >= n", func() error { _, err := WeightedAverageUplift(ok, ok, ok, Overall, 4); return err }()},
		{"bad strategy", func() error { _, err := UpliftAtK(ok, ok, ok, 0.5, "top"); return err }()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: want an error", c.name)
		}
	}
	if _, _, err := QiniCurve([]float64{1, 0, 2, 0}, ok, ok); !errors.Is(err, ErrNotBinary) {
		t.Errorf("non-binary error %v does not wrap ErrNotBinary", err)
	}
	// R < 0 makes the no-negative-effect perfect curve non-monotone.
	// Y_t = 1, N_t = 2, Y_c = 2, N_c = 2: R = 1 − 2·2/2 = −1.
	y := []float64{1, 0, 1, 1}
	tr := []float64{1, 1, 0, 0}
	if _, err := QiniAUCScore(y, tr, []float64{4, 3, 2, 1}, false); err == nil {
		t.Error("R < 0 with negativeEffect = false: want an error")
	}
}
