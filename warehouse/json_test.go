package warehouse

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAppendFlatJSONMatchesMarshal compares the fast encoder with
// json.Marshal on random flat maps: strings of arbitrary bytes (control
// characters, HTML characters, U+2028, invalid UTF-8) and floats across
// the ranges where the format changes.
func TestAppendFlatJSONMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "é", "<", ">", "&", "\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "\xff", "\xe2\x80", "日本", "😀", " "}
	str := func() string {
		s := ""
		for range rng.IntN(8) {
			s += pieces[rng.IntN(len(pieces))]
		}
		return s
	}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e21, -2.5e-9, 123456.789, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-100}
	for i := range 5000 {
		m := map[string]any{}
		for range rng.IntN(6) {
			var v any
			switch rng.IntN(5) {
			case 0:
				v = str()
			case 1:
				v = floats[rng.IntN(len(floats))]
			case 2:
				v = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(50)-25))
			case 3:
				v = rng.IntN(2) == 0
			case 4:
				v = nil
			}
			m[str()] = v
		}
		got, ok := appendFlatJSON(nil, m)
		if !ok {
			t.Fatalf("case %d: flat map refused: %#v", i, m)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	for _, m := range []map[string]any{{"n": map[string]any{}}, {"l": []any{1.0}}, {"i": 3}, {"x": math.NaN()}, {"y": math.Inf(1)}} {
		if _, ok := appendFlatJSON(nil, m); ok {
			t.Errorf("%#v: want the json.Marshal fallback", m)
		}
	}
}

// FuzzAppendJSONString checks string quoting against json.Marshal.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&</a>", "\u2028\u2029", "\xff\xfe", "tab\tnew\nline", "\x00\x01\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
