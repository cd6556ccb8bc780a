package causal

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// HillstromArms are the treatment arms of the Hillstrom e-mail experiment
// in the order LoadHillstrom codes them (arm 1, arm 2); "No E-Mail" is the
// control, code 0.
var HillstromArms = []string{"Mens E-Mail", "Womens E-Mail"}

// HillstromFeatures names the columns of Hillstrom.X: the numeric columns
// as they are, history_segment as its ordinal code 1–7 (the leading digit
// of "1) $0 - $100" … "7) $1,000 +"), and zip_code and channel one-hot.
var HillstromFeatures = []string{
	"recency", "history_segment", "history", "mens", "womens", "newbie",
	"zip_urban", "zip_surburban", "zip_rural",
	"channel_phone", "channel_web", "channel_multichannel",
}

// Hillstrom is the MineThatData e-mail experiment: 64,000 customers
// randomly assigned, one third each, to a men's e-mail, a women's e-mail or
// no e-mail, with visits, conversions and spend over the following two
// weeks. Source: Kevin Hillstrom (2008), "The MineThatData E-Mail
// Analytics And Data Mining Challenge",
// https://blog.minethatdata.com/2008/03/minethatdata-e-mail-analytics-and-data.html.
type Hillstrom struct {
	// X holds the features, columns named by HillstromFeatures.
	X Matrix
	// T is the segment: 0 No E-Mail, 1 Mens E-Mail, 2 Womens E-Mail
	// (HillstromArms).
	T []int
	// Visit and Conversion are 0/1; Spend is in dollars.
	Visit, Conversion, Spend []float64
}

// Dataset returns h as a Dataset with the named outcome ("visit",
// "conversion" or "spend"). X, Y and T share h's storage; Arms is a copy of
// HillstromArms.
func (h *Hillstrom) Dataset(outcome string) (Dataset, error) {
	var y []float64
	switch outcome {
	case "visit":
		y = h.Visit
	case "conversion":
		y = h.Conversion
	case "spend":
		y = h.Spend
	default:
		return Dataset{}, fmt.Errorf("causal: unknown Hillstrom outcome %q (want visit, conversion or spend)", outcome)
	}
	return Dataset{X: h.X, Y: y, T: h.T, Arms: slices.Clone(HillstromArms)}, nil
}

// LoadHillstrom reads the Hillstrom CSV (header recency, history_segment,
// history, mens, womens, zip_code, newbie, channel, segment, visit,
// conversion, spend, in any order) from r. It returns an error naming the
// line and column of the first value it cannot parse.
func LoadHillstrom(r io.Reader) (*Hillstrom, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("cannot read Hillstrom header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		col[strings.TrimSpace(name)] = i
	}
	want := []string{"recency", "history_segment", "history", "mens", "womens", "zip_code",
		"newbie", "channel", "segment", "visit", "conversion", "spend"}
	for _, name := range want {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("cannot read Hillstrom data: no column %q in header", name)
		}
	}
	h := &Hillstrom{X: Matrix{Cols: len(HillstromFeatures)}}
	row := make([]float64, len(HillstromFeatures))
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read Hillstrom line %d: %w", line, err)
		}
		num := func(name string) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[col[name]]), 64)
			if err != nil {
				return 0, fmt.Errorf("cannot parse Hillstrom line %d, column %s: %w", line, name, err)
			}
			return v, nil
		}
		clear(row)
		for j, name := range []string{"recency", "history", "mens", "womens", "newbie"} {
			v, err := num(name)
			if err != nil {
				return nil, err
			}
			row[[]int{0, 2, 3, 4, 5}[j]] = v
		}
		seg := strings.TrimSpace(rec[col["history_segment"]])
		code, _, ok := strings.Cut(seg, ")")
		c, err := strconv.Atoi(code)
		if !ok || err != nil || c < 1 {
			return nil, fmt.Errorf("cannot parse Hillstrom line %d, column history_segment: %q has no leading \"k)\" code", line, seg)
		}
		row[1] = float64(c)
		switch z := strings.TrimSpace(rec[col["zip_code"]]); z {
		case "Urban":
			row[6] = 1
		case "Surburban":
			row[7] = 1
		case "Rural":
			row[8] = 1
		default:
			return nil, fmt.Errorf("cannot parse Hillstrom line %d, column zip_code: unknown value %q", line, z)
		}
		switch ch := strings.TrimSpace(rec[col["channel"]]); ch {
		case "Phone":
			row[9] = 1
		case "Web":
			row[10] = 1
		case "Multichannel":
			row[11] = 1
		default:
			return nil, fmt.Errorf("cannot parse Hillstrom line %d, column channel: unknown value %q", line, ch)
		}
		t := 0
		switch s := strings.TrimSpace(rec[col["segment"]]); s {
		case "No E-Mail":
		case HillstromArms[0]:
			t = 1
		case HillstromArms[1]:
			t = 2
		default:
			return nil, fmt.Errorf("cannot parse Hillstrom line %d, column segment: unknown value %q", line, s)
		}
		visit, err := num("visit")
		if err != nil {
			return nil, err
		}
		conv, err := num("conversion")
		if err != nil {
			return nil, err
		}
		spend, err := num("spend")
		if err != nil {
			return nil, err
		}
		h.X.Data = append(h.X.Data, row...)
		h.X.Rows++
		h.T = append(h.T, t)
		h.Visit = append(h.Visit, visit)
		h.Conversion = append(h.Conversion, conv)
		h.Spend = append(h.Spend, spend)
	}
	if h.X.Rows == 0 {
		return nil, errors.New("cannot read Hillstrom data: no rows after the header")
	}
	return h, nil
}
