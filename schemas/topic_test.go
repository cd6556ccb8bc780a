package schemas

import "testing"

func TestTopicNames(t *testing.T) {
	want := map[Type]string{
		TypeEntity:       "preflight.entities",
		TypeExposure:     "preflight.exposures",
		TypeOutcome:      "preflight.outcomes",
		TypeIntervention: "preflight.interventions",
		TypeSegment:      "preflight.segments",
	}
	for _, ty := range Types {
		if got := ty.Topic(DefaultTopicPrefix); got != want[ty] {
			t.Errorf("%s.Topic = %q, want %q", ty, got, want[ty])
		}
	}
}
