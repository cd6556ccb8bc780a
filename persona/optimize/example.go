package optimize

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/preflight-hq/preflight/persona"
)

// Example is one historical observation the optimizer learns from: a
// persona of a segment, an intervention that segment received, and the
// lift measured for the segment (treatment minus control of the outcome,
// in the outcome's units, e.g. a difference in purchase rates).
type Example struct {
	// Persona is the synthetic persona standing for part of the segment.
	Persona persona.Spec `json:"persona"`
	// Intervention is what was sent.
	Intervention persona.Intervention `json:"intervention"`
	// ObservedLift is the measured effect of Intervention on Segment.
	ObservedLift float64 `json:"observed_lift"`
	// Segment is the segment the lift was measured on; it normally equals
	// Persona.SegmentID.
	Segment string `json:"segment"`
}

// key identifies an example by persona and intervention, to keep a
// teacher from seeing the example it answers.
func (e Example) key() string { return e.Persona.ID + "\x00" + e.Intervention.ID }

// Split is a history split by intervention: every example of an
// intervention lies in exactly one of Train, Val and Test, so the
// validation and test scores measure how a program generalizes to
// interventions it has not seen.
type Split struct {
	// Train is where demos come from (labeled and bootstrapped).
	Train []Example `json:"train"`
	// Val scores every candidate program.
	Val []Example `json:"val"`
	// Test scores the winner once.
	Test []Example `json:"test"`
}

// Fractions are the shares of interventions in the train, validation and
// test sets of a split.
type Fractions struct {
	// Train is the training share. Default 0.5.
	Train float64 `json:"train"`
	// Val is the validation share. Default 0.25.
	Val float64 `json:"val"`
	// Test is the test share. Default 0.25.
	Test float64 `json:"test"`
}

// ErrTooFewInterventions is returned by SplitByIntervention when the history
// has fewer than three distinct interventions, so that train, val and test
// cannot all be non-empty.
var ErrTooFewInterventions = errors.New("optimize: a split needs at least three distinct interventions")

// SplitByIntervention shuffles the distinct intervention IDs of examples
// (sorted first, then shuffled with rng) and assigns them to train,
// validation and test in the proportions of f (the zero value means
// 0.5/0.25/0.25; shares are normalized). Each of the three sets receives at
// least one intervention, the validation and test sizes are rounded to the
// nearest integer and train takes the rest. Examples keep their input order
// within each set. The same examples, fractions and rng state give the same
// split.
func SplitByIntervention(examples []Example, f Fractions, rng *rand.Rand) (Split, error) {
	if f == (Fractions{}) {
		f = Fractions{Train: 0.5, Val: 0.25, Test: 0.25}
	}
	if f.Train < 0 || f.Val < 0 || f.Test < 0 || f.Train+f.Val+f.Test <= 0 {
		return Split{}, fmt.Errorf("optimize: invalid split fractions %+v", f)
	}
	seen := map[string]bool{}
	var ids []string
	for _, ex := range examples {
		if !seen[ex.Intervention.ID] {
			seen[ex.Intervention.ID] = true
			ids = append(ids, ex.Intervention.ID)
		}
	}
	if len(ids) < 3 {
		return Split{}, fmt.Errorf("cannot split %d interventions: %w", len(ids), ErrTooFewInterventions)
	}
	slices.Sort(ids)
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })

	total := f.Train + f.Val + f.Test
	n := len(ids)
	nVal := max(1, int(math.Round(float64(n)*f.Val/total)))
	nTest := max(1, int(math.Round(float64(n)*f.Test/total)))
	for nVal+nTest > n-1 { // train keeps at least one
		if nVal >= nTest {
			nVal--
		} else {
			nTest--
		}
	}
	where := map[string]int{}
	for i, id := range ids {
		switch {
		case i < nVal:
			where[id] = 1
		case i < nVal+nTest:
			where[id] = 2
		}
	}
	var s Split
	for _, ex := range examples {
		switch where[ex.Intervention.ID] {
		case 0:
			s.Train = append(s.Train, ex)
		case 1:
			s.Val = append(s.Val, ex)
		default:
			s.Test = append(s.Test, ex)
		}
	}
	return s, nil
}

// interventionIDs returns the sorted distinct intervention IDs of examples.
func interventionIDs(examples []Example) []string {
	var ids []string
	for _, ex := range examples {
		ids = append(ids, ex.Intervention.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
