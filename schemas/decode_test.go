package schemas

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	exposureJSON = `{"event_id":"8c0d4c1a-5b7e-4f21-9a3d-6e2f1b0c9d84","exposure_id":"d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12",` +
		`"entity_id":"cust-1042","segment_id":"loyal_high_value","timestamp":"2026-11-25T11:00:00.25+01:00","channel":"email",` +
		`"campaign_id":"bf-2026-email","intervention_id":"int-bf-2026-v2","arm":"treatment",` +
		`"content":{"subject":"Black Friday: 20% off","discount_pct":20},"cost":0.004,"frequency_cumulative":3}`
	controlJSON = `{"event_id":"1e6a9b3f-7c2d-4d5e-8f01-a2b3c4d5e6f7","exposure_id":"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",` +
		`"entity_id":"cust-2077","timestamp":"2026-11-25T10:00:00Z","channel":"email","campaign_id":"bf-2026-email",` +
		`"intervention_id":"int-bf-2026-v2","arm":"control"}`
	outcomeJSON = `{"event_id":"7b1e2d3c-4a5f-4b6e-9c8d-0f1a2b3c4d5e","outcome_id":"c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",` +
		`"entity_id":"cust-1042","timestamp":"2026-11-26T17:42:07Z","outcome_type":"purchase","value":59.9,"campaign_id":"bf-2026-email"}`
	entityJSON = `{"event_id":"3f2b8c1e-9d4a-4e6f-8b1c-2a5d7e9f0c13","entity_id":"cust-1042","segment_id":"loyal_high_value",` +
		`"created_at":"2024-03-01T09:30:00Z","lifecycle_stage":"active","value_tier":"high","attributes":{"region":"north"}}`
	interventionJSON = `{"event_id":"2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f","intervention_id":"int-bf-2026-v2","type":"email",` +
		`"created_at":"2026-11-20T08:00:00Z","content_template":"Hi {{first_name}}","creative_elements":{"tone":"urgent"},` +
		`"targeting_criteria":{"segments":["loyal_high_value"]}}`
	segmentJSON = `{"event_id":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a","segment_id":"loyal_high_value","updated_at":"2026-11-01T00:00:00Z",` +
		`"definition":{"rule":"orders_12m >= 4"},"size":18250,"trait_priors":{"price_sensitivity":0.3},"historical_metrics":{"conversion_rate":0.042}}`
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDecodeValid(t *testing.T) {
	cases := []struct {
		name   string
		header string
		value  string
		want   Event
		key    string
	}{
		{"exposure treatment", "exposure.v1", exposureJSON, &Exposure{
			EventID: "8c0d4c1a-5b7e-4f21-9a3d-6e2f1b0c9d84", ExposureID: "d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12",
			EntityID: "cust-1042", SegmentID: "loyal_high_value", Timestamp: utc("2026-11-25T10:00:00.25Z"), Channel: "email",
			CampaignID: "bf-2026-email", InterventionID: "int-bf-2026-v2", Arm: ArmTreatment,
			Content: map[string]any{"subject": "Black Friday: 20% off", "discount_pct": 20.0}, Cost: 0.004, FrequencyCumulative: 3,
		}, "cust-1042"},
		{"exposure control without cost", "exposure.v1", controlJSON, &Exposure{
			EventID: "1e6a9b3f-7c2d-4d5e-8f01-a2b3c4d5e6f7", ExposureID: "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
			EntityID: "cust-2077", Timestamp: utc("2026-11-25T10:00:00Z"), Channel: "email",
			CampaignID: "bf-2026-email", InterventionID: "int-bf-2026-v2", Arm: ArmControl,
		}, "cust-2077"},
		{"outcome", "outcome.v1", outcomeJSON, &Outcome{
			EventID: "7b1e2d3c-4a5f-4b6e-9c8d-0f1a2b3c4d5e", OutcomeID: "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
			EntityID: "cust-1042", Timestamp: utc("2026-11-26T17:42:07Z"), OutcomeType: "purchase", Value: 59.9, CampaignID: "bf-2026-email",
		}, "cust-1042"},
		{"entity", "entity.v1", entityJSON, &Entity{
			EventID: "3f2b8c1e-9d4a-4e6f-8b1c-2a5d7e9f0c13", EntityID: "cust-1042", SegmentID: "loyal_high_value",
			CreatedAt: utc("2024-03-01T09:30:00Z"), LifecycleStage: "active", ValueTier: "high", Attributes: map[string]any{"region": "north"},
		}, "cust-1042"},
		{"intervention", "intervention.v1", interventionJSON, &Intervention{
			EventID: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", InterventionID: "int-bf-2026-v2", Kind: "email",
			CreatedAt: utc("2026-11-20T08:00:00Z"), ContentTemplate: "Hi {{first_name}}",
			CreativeElements:  map[string]any{"tone": "urgent"},
			TargetingCriteria: map[string]any{"segments": []any{"loyal_high_value"}},
		}, "int-bf-2026-v2"},
		{"segment", "segment.v1", segmentJSON, &Segment{
			EventID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", SegmentID: "loyal_high_value", UpdatedAt: utc("2026-11-01T00:00:00Z"),
			Definition: map[string]any{"rule": "orders_12m >= 4"}, Size: 18250,
			TraitPriors: map[string]any{"price_sensitivity": 0.3}, HistoricalMetrics: map[string]any{"conversion_rate": 0.042},
		}, "loyal_high_value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.header, []byte(c.value))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := normalize(ev); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Decode =\n%#v\nwant\n%#v", got, c.want)
			}
			if ev.Type().SchemaName() != c.header {
				t.Errorf("Type = %s, want %s", ev.Type(), c.header)
			}
			if ev.Key() != c.key {
				t.Errorf("Key = %q, want %q", ev.Key(), c.key)
			}
			if ev.ID() != c.want.ID() || !ev.Time().Equal(c.want.Time()) {
				t.Errorf("ID, Time = %q, %v, want %q, %v", ev.ID(), ev.Time(), c.want.ID(), c.want.Time())
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// set returns the event base with field set to the JSON literal v, or
// removed if v is empty.
func set(base, field, v string) string {
	ev := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(base), &ev); err != nil {
		panic(err)
	}
	if v == "" {
		delete(ev, field)
	} else {
		ev[field] = json.RawMessage(v)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		header string
		value  string
		kind   string
		path   string // "" for errors that are not about one field
		reason string // a part of the message
	}{
		{"missing entity_id", "exposure.v1", set(exposureJSON, "entity_id", ""), "invalid_event", "exposure.entity_id", "is required"},
		{"missing event_id", "outcome.v1", set(outcomeJSON, "event_id", ""), "invalid_event", "outcome.event_id", "is required (a UUID)"},
		{"missing timestamp", "exposure.v1", set(exposureJSON, "timestamp", ""), "invalid_event", "exposure.timestamp", "is required (an RFC 3339 timestamp)"},
		{"cost as string", "exposure.v1", set(exposureJSON, "cost", `"0.004"`), "invalid_event", "exposure.cost", "must be a number, got string"},
		{"cost beyond float64", "exposure.v1", set(exposureJSON, "cost", `1e400`), "invalid_event", "exposure.cost", "must be a number that fits a 64-bit float"},
		{"frequency as string", "exposure.v1", set(exposureJSON, "frequency_cumulative", `"3"`), "invalid_event", "exposure.frequency_cumulative", "must be an integer, got string"},
		{"frequency 2.5", "exposure.v1", set(exposureJSON, "frequency_cumulative", `2.5`), "invalid_event", "exposure.frequency_cumulative", "must be an integer written without fraction or exponent"},
		{"treatment frequency 0", "exposure.v1", set(exposureJSON, "frequency_cumulative", `0`), "invalid_event", "exposure.frequency_cumulative", "must be >= 1 for a treatment exposure"},
		{"timestamp without zone", "exposure.v1", set(exposureJSON, "timestamp", `"2026-11-25T10:00:00"`), "invalid_event", "exposure.timestamp", "must be an RFC 3339 timestamp"},
		{"timestamp in unix seconds", "exposure.v1", set(exposureJSON, "timestamp", `1764064800`), "invalid_event", "exposure.timestamp", "must be an RFC 3339 timestamp string, got number"},
		{"timestamp offset +24:00", "exposure.v1", set(exposureJSON, "timestamp", `"2026-11-25T10:00:00+24:00"`), "invalid_event", "exposure.timestamp", "must be an RFC 3339 timestamp"},
		{"timestamp in 1969", "outcome.v1", set(outcomeJSON, "timestamp", `"1969-07-20T20:17:40Z"`), "invalid_event", "outcome.timestamp", "must be between 1970 and 2105, got 1969-07-20T20:17:40Z"},
		{"bad uuid", "exposure.v1", set(exposureJSON, "event_id", `"not-a-uuid"`), "invalid_event", "exposure.event_id", `must be a UUID in the 8-4-4-4-12 form, got "not-a-uuid"`},
		{"uuid without dashes", "exposure.v1", set(exposureJSON, "exposure_id", `"d2a7f0e31c4b4a8eb6f90e3d5c7a9b12"`), "invalid_event", "exposure.exposure_id", "must be a UUID in the 8-4-4-4-12 form"},
		{"arm maybe", "exposure.v1", set(exposureJSON, "arm", `"maybe"`), "invalid_event", "exposure.arm", `must be "treatment" or "control", got "maybe"`},
		{"arm missing", "exposure.v1", set(exposureJSON, "arm", ""), "invalid_event", "exposure.arm", `is required ("treatment" or "control")`},
		{"control with cost 0.5", "exposure.v1", set(controlJSON, "cost", `0.5`), "invalid_event", "exposure.cost", "must be 0 for the control arm (nothing was sent), got 0.5"},
		{"treatment with negative cost", "exposure.v1", set(exposureJSON, "cost", `-1`), "invalid_event", "exposure.cost", "must be >= 0, got -1"},
		{"channel upper-case", "exposure.v1", set(exposureJSON, "channel", `"Email"`), "invalid_event", "exposure.channel", `must be a lower-case channel name such as email, sms or push, got "Email"`},
		{"entity_id too long", "exposure.v1", set(exposureJSON, "entity_id", `"`+strings.Repeat("x", 129)+`"`), "invalid_event", "exposure.entity_id", "must be at most 128 bytes, got 129"},
		{"entity_id with newline", "exposure.v1", set(exposureJSON, "entity_id", `"a\nb"`), "invalid_event", "exposure.entity_id", "must not contain control characters"},
		{"content array", "exposure.v1", set(exposureJSON, "content", `[1]`), "invalid_event", "exposure.content", "must be an object, got array"},
		{"content with a number beyond float64", "exposure.v1", set(exposureJSON, "content", `{"x":1e400}`), "invalid_event", "exposure.content", "must hold only numbers that fit a 64-bit float"},
		{"unknown field with a number beyond float64", "exposure.v1", set(exposureJSON, "score", `[1e400]`), "invalid_event", "exposure.score", "must hold only numbers that fit a 64-bit float"},
		{"outcome_type bogus", "outcome.v1", set(outcomeJSON, "outcome_type", `"bogus"`), "invalid_event", "outcome.outcome_type", `must be one of open, click, visit, purchase, subscribe, unsubscribe, complaint, churn, custom, got "bogus"`},
		{"negative value", "outcome.v1", set(outcomeJSON, "value", `-5`), "invalid_event", "outcome.value", "must be >= 0, got -5"},
		{"entity without segment", "entity.v1", set(entityJSON, "segment_id", ""), "invalid_event", "entity.segment_id", "is required"},
		{"intervention type with space", "intervention.v1", set(interventionJSON, "type", `"policy change"`), "invalid_event", "intervention.type", "must be a lower-case channel or intervention type"},
		{"segment size -1", "segment.v1", set(segmentJSON, "size", `-1`), "invalid_event", "segment.size", "must be >= 0, got -1"},
		{"segment size beyond int64", "segment.v1", set(segmentJSON, "size", `9223372036854775808`), "invalid_event", "segment.size", "must be an integer written without fraction or exponent, within 64 bits"},
		{"invalid JSON", "exposure.v1", `{"event_id": `, "invalid_json", "", "exposure: unexpected EOF"},
		{"not an object", "exposure.v1", `["a"]`, "invalid_json", "", "exposure: json: cannot unmarshal array"},
		{"empty value", "exposure.v1", ``, "invalid_json", "", "exposure: EOF"},
		{"trailing data", "exposure.v1", exposureJSON + ` {}`, "invalid_json", "", "exposure: trailing data after the JSON object"},
		{"trailing brace", "exposure.v1", exposureJSON + `}`, "invalid_json", "", "exposure: trailing data after the JSON object"},
		{"JSON null", "exposure.v1", `null`, "invalid_json", "", "exposure: want a JSON object, got null"},
		{"unknown schema header", "click.v1", exposureJSON, "unknown_schema", "", `unknown event type "click"`},
		{"wrong version", "exposure.v2", exposureJSON, "unknown_schema", "", `unsupported version "v2" (this release reads v1)`},
		{"version with a suffix", "exposure.v1.1", exposureJSON, "unknown_schema", "", `unsupported version "v1.1"`},
		{"header without version", "exposure", exposureJSON, "unknown_schema", "", "want <type>.<version>"},
		{"empty header", "", exposureJSON, "unknown_schema", "", "want <type>.<version>"},
		{"header in upper case", "Exposure.v1", exposureJSON, "unknown_schema", "", `unknown event type "Exposure"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.header, []byte(c.value))
			if ev != nil {
				t.Errorf("Decode returned an event with error %v", err)
			}
			de, ok := err.(*DecodeError)
			if !ok {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			if de.Kind != c.kind {
				t.Errorf("Kind = %q, want %q (%v)", de.Kind, c.kind, err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not contain %q", err, c.reason)
			}
			if !strings.HasPrefix(err.Error(), c.kind+": ") {
				t.Errorf("error %q does not start with its kind", err)
			}
			if c.path == "" {
				if IsValidation(err) {
					t.Errorf("IsValidation(%v) = true for a %s error", err, c.kind)
				}
				return
			}
			if !IsValidation(err) {
				t.Errorf("IsValidation(%v) = false", err)
			}
			var ve *ValidationError
			errors.As(err, &ve)
			if len(ve.Fields) != 1 {
				t.Errorf("fields = %v, want one", ve.Fields)
			}
			i := slices.IndexFunc(ve.Fields, func(f FieldError) bool { return f.Path == c.path })
			if i < 0 {
				t.Fatalf("no error names %s: %v", c.path, err)
			}
			if f := ve.Fields[i]; !strings.Contains(f.Reason, c.reason) {
				t.Errorf("%s: reason %q does not contain %q", f.Path, f.Reason, c.reason)
			}
			if !strings.Contains(err.Error(), c.path+": "+c.reason) {
				t.Errorf("message %q lacks %q", err, c.path+": "+c.reason)
			}
		})
	}
}

// TestDecodeReportsEveryProblem checks that fields that do not decode and
// fields that do not validate are reported together, once each, in the order
// the type declares its fields, with the same message on every run.
func TestDecodeReportsEveryProblem(t *testing.T) {
	cases := []struct {
		name   string
		header string
		value  string
		want   []string
	}{
		{"validation only", "exposure.v1",
			`{"event_id":"x","exposure_id":"d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12","entity_id":"","timestamp":"2026-11-25T10:00:00Z",` +
				`"channel":"SMS","campaign_id":"c","intervention_id":"i","arm":"control","cost":2}`,
			[]string{
				`exposure.event_id: must be a UUID in the 8-4-4-4-12 form, got "x"`,
				"exposure.entity_id: is required",
				`exposure.channel: must be a lower-case channel name such as email, sms or push, got "SMS"`,
				"exposure.cost: must be 0 for the control arm (nothing was sent), got 2",
			}},
		{"decoding and validation", "exposure.v1",
			`{"zeta":1e999,"cost":"free","arm":7,"timestamp":"yesterday","exposure_id":"d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12",` +
				`"entity_id":"e","channel":"email","campaign_id":"c","intervention_id":"i","alpha":-1e999}`,
			[]string{
				"exposure.event_id: is required (a UUID)",
				"exposure.timestamp: must be an RFC 3339 timestamp such as",
				"exposure.arm: must be a string, got number",
				"exposure.cost: must be a number, got string",
				"exposure.alpha: must hold only numbers that fit a 64-bit float",
				"exposure.zeta: must hold only numbers that fit a 64-bit float",
			}},
		{"outcome", "outcome.v1", `{"outcome_type":"bogus","value":-1,"timestamp":"2026-11-25T10:00:00Z","entity_id":5}`,
			[]string{
				"outcome.event_id: is required (a UUID)",
				"outcome.outcome_id: is required (a UUID)",
				"outcome.entity_id: must be a string, got number",
				`outcome.outcome_type: must be one of`,
				"outcome.value: must be >= 0, got -1",
			}},
		{"everything missing", "segment.v1", `{}`,
			[]string{"segment.event_id: is required (a UUID)", "segment.segment_id: is required", "segment.updated_at: is required (an RFC 3339 timestamp)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var first string
			for run := range 20 { // map order varies from run to run
				_, err := Decode(c.header, []byte(c.value))
				if err == nil {
					t.Fatal("Decode succeeded")
				}
				if run == 0 {
					first = err.Error()
				} else if err.Error() != first {
					t.Fatalf("message changed between runs:\n%s\n%s", first, err)
				}
			}
			var ve *ValidationError
			_, err := Decode(c.header, []byte(c.value))
			if !errors.As(err, &ve) {
				t.Fatalf("error %v has no *ValidationError", err)
			}
			if len(ve.Fields) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Fields), len(c.want), err)
			}
			for i, f := range ve.Fields {
				if !strings.HasPrefix(f.Error(), c.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, f.Error(), c.want[i])
				}
			}
		})
	}
}

// TestUnknownFieldsKept checks that top-level fields a type does not know
// land in attributes (entity) or metadata (the others), that a key already
// there wins, and that they survive Encode and Decode.
func TestUnknownFieldsKept(t *testing.T) {
	cases := []struct {
		name   string
		header string
		value  string
		free   func(Event) map[string]any
	}{
		{"entity", "entity.v1", set(set(entityJSON, "loyalty_points", `1200`), "region", `"south"`),
			func(ev Event) map[string]any { return ev.(*Entity).Attributes }},
		{"exposure", "exposure.v1", set(set(set(exposureJSON, "loyalty_points", `1200`), "region", `"south"`), "metadata", `{"region":"north"}`),
			func(ev Event) map[string]any { return ev.(*Exposure).Metadata }},
		{"outcome", "outcome.v1", set(set(set(outcomeJSON, "loyalty_points", `1200`), "region", `"south"`), "metadata", `{"region":"north"}`),
			func(ev Event) map[string]any { return ev.(*Outcome).Metadata }},
		{"intervention", "intervention.v1", set(set(set(interventionJSON, "loyalty_points", `1200`), "region", `"south"`), "metadata", `{"region":"north"}`),
			func(ev Event) map[string]any { return ev.(*Intervention).Metadata }},
		{"segment", "segment.v1", set(set(set(segmentJSON, "loyalty_points", `1200`), "region", `"south"`), "metadata", `{"region":"north"}`),
			func(ev Event) map[string]any { return ev.(*Segment).Metadata }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.header, []byte(c.value))
			if err != nil {
				t.Fatal(err)
			}
			free := c.free(ev)
			if free["loyalty_points"] != 1200.0 {
				t.Errorf("loyalty_points = %v, want 1200 (%v)", free["loyalty_points"], free)
			}
			if free["region"] != "north" { // the key already in the map wins
				t.Errorf("region = %v, want north", free["region"])
			}
			b, err := Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(c.header, b)
			if err != nil {
				t.Fatalf("Decode(Encode): %v\n%s", err, b)
			}
			if !reflect.DeepEqual(normalize(back), normalize(ev)) {
				t.Errorf("round trip changed the event:\n%#v\n%#v", back, ev)
			}
			if got := c.free(back); !reflect.DeepEqual(got, free) {
				t.Errorf("after the round trip %v, want %v", got, free)
			}
		})
	}
}

// TestRoundTripCorpus encodes every valid corpus event and decodes it again.
func TestRoundTripCorpus(t *testing.T) {
	for _, c := range loadCorpus(t) {
		if !c.Valid {
			continue
		}
		t.Run(c.id(), func(t *testing.T) {
			checkRoundTrip(t, c.header, c.value())
		})
	}
}

// checkRoundTrip decodes value, which must be valid, and checks that Encode
// then Decode gives an equal event and the same bytes again.
func checkRoundTrip(t *testing.T, header string, value []byte) {
	t.Helper()
	ev, err := Decode(header, value)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(ev)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	back, err := Decode(ev.Type().SchemaName(), b)
	if err != nil {
		t.Fatalf("Decode(Encode(ev)): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(normalize(back), normalize(ev)) {
		t.Fatalf("round trip changed the event:\nbefore %#v\nafter  %#v", ev, back)
	}
	b2, err := Encode(back)
	if err != nil || string(b2) != string(b) {
		t.Fatalf("Encode is not stable (%v):\n%s\n%s", err, b, b2)
	}
}

func TestTimestampKeepsOffset(t *testing.T) {
	ev, err := Decode("exposure.v1", []byte(set(exposureJSON, "timestamp", `"2026-11-25T11:00:00.25\u002B01:00"`)))
	if err != nil {
		t.Fatal(err)
	}
	ts := ev.Time()
	if _, off := ts.Zone(); off != 3600 || !ts.Equal(utc("2026-11-25T10:00:00.25Z")) {
		t.Errorf("Time = %v, want 11:00:00.25 at +01:00", ts)
	}
	b, _ := Encode(ev)
	if !strings.Contains(string(b), `"timestamp":"2026-11-25T11:00:00.25+01:00"`) {
		t.Errorf("Encode = %s", b)
	}
}

// TestRepeatedNamesLastWins checks that a member given twice counts once, as
// its last occurrence, also when the first is null or of the wrong type and
// when the repeat is an unknown field: what decoding the object into a map
// first gives.
func TestRepeatedNamesLastWins(t *testing.T) {
	cases := []struct {
		name, value string
		check       func(*Exposure) bool
	}{
		{"known", strings.Replace(exposureJSON, `"cost":0.004`, `"cost":0.5,"cost":0.004`, 1),
			func(e *Exposure) bool { return e.Cost == 0.004 }},
		{"wrong type first", strings.Replace(exposureJSON, `"cost":0.004`, `"cost":"x","cost":0.004`, 1),
			func(e *Exposure) bool { return e.Cost == 0.004 }},
		{"null last", strings.Replace(exposureJSON, `"cost":0.004`, `"cost":0.004,"cost":null`, 1),
			func(e *Exposure) bool { return e.Cost == 0 }},
		{"unknown", strings.Replace(exposureJSON, `"cost":0.004`, `"cost":0.004,"x":1,"x":2`, 1),
			func(e *Exposure) bool { return e.Metadata["x"] == 2.0 }},
		{"escaped name", strings.Replace(exposureJSON, `"cost":0.004`, `"cost":0.5,"c\u006fst":0.004`, 1),
			func(e *Exposure) bool { return e.Cost == 0.004 }},
		{"content", strings.Replace(exposureJSON, `"discount_pct":20`, `"discount_pct":20,"discount_pct":30`, 1),
			func(e *Exposure) bool { return e.Content["discount_pct"] == 30.0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := DecodeAs(TypeExposure, []byte(c.value))
			if err != nil {
				t.Fatal(err)
			}
			if e := ev.(*Exposure); !c.check(e) {
				t.Errorf("decoded %+v from %s", e, c.value)
			}
		})
	}
}
