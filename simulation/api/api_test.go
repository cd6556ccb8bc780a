package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	compileOnce sync.Once
	reqSchema   *jsonschema.Schema
	respSchema  *jsonschema.Schema
	compileErr  error
)

// schemas compiles the embedded JSON Schemas with format assertions on.
func schemas(tb testing.TB) (req, resp *jsonschema.Schema) {
	tb.Helper()
	compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for id, doc := range map[string][]byte{RequestSchemaID: RequestSchema(), ResponseSchemaID: ResponseSchema()} {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
			if err != nil {
				compileErr = err
				return
			}
			if err := c.AddResource(id, v); err != nil {
				compileErr = err
				return
			}
		}
		if reqSchema, compileErr = c.Compile(RequestSchemaID); compileErr != nil {
			return
		}
		respSchema, compileErr = c.Compile(ResponseSchemaID)
	})
	if compileErr != nil {
		tb.Fatalf("compile JSON Schemas: %v", compileErr)
	}
	return reqSchema, respSchema
}

// schemaVerdict validates body against sch; a body that is not exactly one
// JSON value is invalid.
func schemaVerdict(tb testing.TB, sch *jsonschema.Schema, body []byte) error {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue decodes b as a generic JSON value for comparisons.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func TestPRDRequest(t *testing.T) {
	body := readFile(t, "testdata/prd-request.json")
	req, err := Decode(body, Limits{})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	reqSch, _ := schemas(t)
	if err := schemaVerdict(t, reqSch, body); err != nil {
		t.Fatalf("JSON Schema: %v", err)
	}
	if req.IndustryContext != IndustryRetail || req.Intervention.Type != InterventionCampaign ||
		!slices.Equal(req.Intervention.Channels, []Channel{ChannelEmail, ChannelSMS, ChannelPush}) ||
		req.Intervention.ContentVariants[0].ID != "variant_a" ||
		*req.Intervention.Timing.FrequencyCap != 3 ||
		!slices.Equal(req.TargetPopulation.Segments, []string{"high_value", "at_risk", "new_users"}) ||
		req.TargetPopulation.Size != 10000 || *req.TargetPopulation.Filters.MaxFrequencyLast30d != 5 ||
		*req.SimulationParams.NumPersonas != 100 || !*req.SimulationParams.IncludeExternalities ||
		req.SuccessMetrics[4] != MetricCustomKPI || !req.SuccessMetrics[4].IsCustom() ||
		*req.Constraints.MinROI != 1.5 || req.SimulationType != SimulationInterventionTest {
		t.Errorf("decoded request differs from the PRD example: %+v", req)
	}
	// The decoded request encodes back to the same JSON value.
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonValue(t, out), jsonValue(t, body); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %s\nwant %s", out, body)
	}
}

func TestPRDResponse(t *testing.T) {
	body := readFile(t, "testdata/prd-response.json")
	_, respSch := schemas(t)
	if err := schemaVerdict(t, respSch, body); err != nil {
		t.Fatalf("JSON Schema: %v", err)
	}
	var resp SimulateResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("decode into SimulateResponse: %v", err)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonValue(t, out), jsonValue(t, body); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %s\nwant %s", out, body)
	}
	if resp.Predictions.ExpectedOutcomes.UnsubscribeRate.RiskLevel != RiskAcceptable ||
		resp.Predictions.ExpectedOutcomes.Revenue.ConfidenceInterval != (Interval{115000, 135000}) ||
		!resp.CalibrationQuality.LastCalibration.Equal(time.Date(2024, 12, 10, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("decoded response differs from the PRD example: %+v", resp)
	}
}

// TestResponsesValidate checks that responses the simulator would build
// from the Go types, failed ones included, satisfy the response schema.
func TestResponsesValidate(t *testing.T) {
	_, respSch := schemas(t)
	_, decErr := Decode([]byte(`{"industry_context":"mining","extra":1}`), Limits{})
	var apiErr *Error
	if !errors.As(decErr, &apiErr) {
		t.Fatalf("Decode error %v is not an *Error", decErr)
	}
	uplift := 1200.0
	cases := map[string]SimulateResponse{
		"failed validation": {SimulationID: "sim_1", Status: StatusFailed, Error: apiErr},
		"timeout":           {SimulationID: "sim_2", Status: StatusFailed, Error: &Error{Kind: KindTimeout, Message: "deadline exceeded"}},
		"completed, empty insights and custom KPIs": {
			SimulationID: "sim_x-3", Status: StatusCompleted, Insights: []Insight{},
			Predictions: &Predictions{ExpectedOutcomes: ExpectedOutcomes{
				Revenue:    &RevenueEstimate{Value: 10, ConfidenceInterval: Interval{8, 12}, ROI: 0.5, UpliftVsControl: &uplift},
				CustomKPIs: map[string]RateEstimate{"custom:churn_saves": {Value: 3, ConfidenceInterval: Interval{2, 4}}, "custom_kpi": {}},
			}},
			CalibrationQuality: &CalibrationQuality{HistoricalAccuracy: 0.9, LastCalibration: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaVerdict(t, respSch, b); err != nil {
				t.Errorf("JSON Schema rejects %s: %v", b, err)
			}
		})
	}
	// A completed response without insights breaks the contract.
	bad, _ := json.Marshal(SimulateResponse{SimulationID: "sim_4", Status: StatusCompleted,
		Predictions: &Predictions{}, CalibrationQuality: &CalibrationQuality{LastCalibration: time.Unix(0, 0).UTC()}})
	if err := schemaVerdict(t, respSch, bad); err == nil {
		t.Errorf("JSON Schema accepts a completed response without insights: %s", bad)
	}
}

// corpusCase is one case of testdata/corpus.json.
type corpusCase struct {
	Name    string          `json:"name"`
	Valid   bool            `json:"valid"`
	Kind    ErrorKind       `json:"kind"`
	Paths   []string        `json:"paths"`
	Errors  []string        `json:"errors"`
	Request json.RawMessage `json:"request"`
	Raw     string          `json:"raw"`
}

func (c corpusCase) body() []byte {
	if c.Raw != "" {
		return []byte(c.Raw)
	}
	return c.Request
}

// TestCorpus checks every case of testdata/corpus.json with both Decode and
// the request JSON Schema: both must reach the case's verdict, and Decode
// must report the case's field errors, in order.
func TestCorpus(t *testing.T) {
	var cases []corpusCase
	if err := json.Unmarshal(readFile(t, "testdata/corpus.json"), &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { checkCase(t, c) })
	}
}

// TestLongTemplates covers the template length limit, counted in
// characters by both validators, with values too long for testdata.
func TestLongTemplates(t *testing.T) {
	req := func(tmpl string) json.RawMessage {
		return json.RawMessage(`{"industry_context":"retail","intervention":{"type":"campaign","channels":["email"],"content_variants":[{"id":"a","template":"` +
			tmpl + `"}]},"target_population":{"selection_method":"random","size":1000}}`)
	}
	cases := []corpusCase{
		{Name: "at the limit, 2 bytes a character", Valid: true, Request: req(strings.Repeat("é", MaxTemplateChars))},
		{Name: "over the limit", Kind: KindValidation, Request: req(strings.Repeat("é", MaxTemplateChars+1)),
			Errors: []string{"intervention.content_variants[0].template: must be at most 65536 characters, got 65537"}},
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { checkCase(t, c) })
	}
}

func checkCase(t *testing.T, c corpusCase) {
	t.Helper()
	reqSch, _ := schemas(t)
	_, goErr := Decode(c.body(), Limits{})
	schErr := schemaVerdict(t, reqSch, c.body())
	if (goErr == nil) != c.Valid {
		t.Errorf("Decode: err = %v, want valid = %v", goErr, c.Valid)
	}
	if (schErr == nil) != c.Valid {
		t.Errorf("JSON Schema: err = %v, want valid = %v", schErr, c.Valid)
	}
	if c.Valid || goErr == nil {
		return
	}
	var e *Error
	if !errors.As(goErr, &e) {
		t.Fatalf("error %v (%T) is not an *Error", goErr, goErr)
	}
	if e.Kind != c.Kind {
		t.Errorf("kind = %q, want %q", e.Kind, c.Kind)
	}
	var paths, full []string
	for _, f := range e.Fields {
		paths = append(paths, f.Path)
		full = append(full, f.Error())
	}
	if c.Paths != nil && !slices.Equal(paths, c.Paths) {
		t.Errorf("paths:\n got %q\nwant %q", paths, c.Paths)
	}
	if c.Errors != nil && !slices.Equal(full, c.Errors) {
		t.Errorf("errors:\n got %q\nwant %q", full, c.Errors)
	}
}

// TestKnownGaps pins what the JSON Schema cannot express and Decode
// rejects: duplicate content variant ids and the configured limits.
func TestKnownGaps(t *testing.T) {
	reqSch, _ := schemas(t)
	cases := []struct {
		name, body, path string
		limits           Limits
	}{
		{"duplicate variant ids", `{"industry_context":"retail","intervention":{"type":"campaign","channels":["email"],"content_variants":[{"id":"a","template":"x"},{"id":"a","template":"y"}]},"target_population":{"selection_method":"random","size":1}}`,
			"intervention.content_variants[1].id", Limits{}},
		{"work limit", `{"industry_context":"retail","intervention":{"type":"campaign","channels":["email"],"content_variants":[{"id":"a","template":"x"}]},"target_population":{"selection_method":"random","size":1},"simulation_params":{"num_personas":10000,"monte_carlo_runs":10000,"time_horizon_days":365}}`,
			"simulation_params", Limits{}},
		{"body limit", `{"industry_context":"retail","intervention":{"type":"campaign","channels":["email"],"content_variants":[{"id":"a","template":"x"}]},"target_population":{"selection_method":"random","size":1}}`,
			BodyPath, Limits{MaxBodyBytes: 64}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := schemaVerdict(t, reqSch, []byte(c.body)); err != nil {
				t.Errorf("JSON Schema now rejects it (move the case to testdata/corpus.json): %v", err)
			}
			_, err := Decode([]byte(c.body), c.limits)
			var e *Error
			if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Path != c.path {
				t.Errorf("Decode: err = %v, want one error at %s", err, c.path)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	body := func(personas, runs, days int) []byte {
		b, _ := json.Marshal(map[string]any{
			"industry_context":  "telecom",
			"intervention":      map[string]any{"type": "sequence", "channels": []string{"sms"}, "content_variants": []any{map[string]any{"id": "a", "template": "x"}}},
			"target_population": map[string]any{"selection_method": "random", "size": 5},
			"simulation_params": map[string]any{"num_personas": personas, "monte_carlo_runs": runs, "time_horizon_days": days},
		})
		return b
	}
	if _, err := Decode(body(1000, 100, 30), Limits{}); err != nil {
		t.Errorf("the 1000-persona benchmark request must fit the default limit: %v", err)
	}
	_, err := Decode(body(1000, 100, 31), Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindLimit || e.HTTPStatus() != 422 {
		t.Fatalf("err = %v, want a limit error with status 422", err)
	}
	want := "simulation_params: num_personas × monte_carlo_runs × time_horizon_days = 1000 × 100 × 31 = 3100000 exceeds the limit of 3000000; lower one of them"
	if got := e.Fields[0].Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := Decode(body(1000, 100, 31), Limits{MaxWork: 4_000_000}); err != nil {
		t.Errorf("a higher MaxWork must admit it: %v", err)
	}
	// Absent params take their defaults, which count towards the work.
	if _, err := Decode(body(100, 100, 30), Limits{MaxWork: 299_999}); err == nil {
		t.Error("work 300000 passed a limit of 299999")
	}
	b := body(1, 1, 1)
	_, err = Decode(b, Limits{MaxBodyBytes: len(b) - 1})
	if !errors.As(err, &e) || e.Kind != KindLimit || e.HTTPStatus() != 413 || e.Fields[0].Path != BodyPath {
		t.Errorf("err = %v, want a body limit error with status 413", err)
	}
	if _, err := Decode(b, Limits{MaxBodyBytes: len(b)}); err != nil {
		t.Errorf("a body of exactly MaxBodyBytes must pass: %v", err)
	}
}

func TestWithDefaults(t *testing.T) {
	req, err := Decode([]byte(`{"industry_context":"finance","intervention":{"type":"campaign","channels":["push"],"content_variants":[{"id":"a","template":"x"}]},"target_population":{"selection_method":"random","size":1}}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p, tm := req.SimulationParams, req.Intervention.Timing
	if req.SimulationType != DefaultSimulationType || *p.NumPersonas != DefaultNumPersonas || *p.MonteCarloRuns != DefaultMonteCarloRuns ||
		*p.TimeHorizonDays != DefaultTimeHorizonDays || p.CalibrationMode != DefaultCalibrationMode || *p.IncludeExternalities != DefaultIncludeExternalities ||
		tm.Schedule != DefaultSchedule || tm.Cadence != DefaultCadence || *tm.FrequencyCap != DefaultFrequencyCap ||
		!slices.Equal(req.SuccessMetrics, DefaultSuccessMetrics) || req.Constraints != nil || req.Work() != 300_000 {
		t.Errorf("defaults not applied: %+v %+v %+v", req, *p, *tm)
	}
	// WithDefaults does not write through to its receiver's pointers.
	orig := SimulateRequest{Intervention: &Intervention{}, SimulationParams: &SimulationParams{}}
	_ = orig.WithDefaults()
	if orig.Intervention.Timing != nil || orig.SimulationParams.NumPersonas != nil {
		t.Error("WithDefaults modified its receiver")
	}
	// The JSON Schema's defaults are the Go ones.
	var doc struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Default any `json:"default"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(RequestSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	sp, ti := doc.Defs["simulationParams"].Properties, doc.Defs["timing"].Properties
	got := []any{sp["num_personas"].Default, sp["time_horizon_days"].Default, sp["monte_carlo_runs"].Default, sp["calibration_mode"].Default,
		sp["include_externalities"].Default, ti["schedule"].Default, ti["cadence"].Default, ti["frequency_cap"].Default}
	want := []any{float64(DefaultNumPersonas), float64(DefaultTimeHorizonDays), float64(DefaultMonteCarloRuns), string(DefaultCalibrationMode),
		DefaultIncludeExternalities, string(DefaultSchedule), string(DefaultCadence), float64(DefaultFrequencyCap)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schema defaults %v, Go defaults %v", got, want)
	}
}

func TestValidateBuiltRequest(t *testing.T) {
	r := SimulateRequest{IndustryContext: IndustryHealthcare, Intervention: &Intervention{Type: InterventionPolicyChange,
		Channels: []Channel{ChannelEmail}, ContentVariants: []ContentVariant{{ID: "p1", Template: "free shipping"}}},
		TargetPopulation: &TargetPopulation{SelectionMethod: SelectModelScore, Size: 10}}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	r.SimulationParams = &SimulationParams{NumPersonas: new(0)}
	err := r.Validate()
	if err == nil || err.Error() != "validation: request breaks the contract in 1 place(s): simulation_params.num_personas: must be in [1, 10000]" {
		t.Errorf("Validate: %v", err)
	}
}

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		e    Error
		want int
	}{
		{Error{Kind: KindValidation, Fields: []FieldError{{BodyPath, "x"}}}, 400},
		{Error{Kind: KindValidation, Fields: []FieldError{{"industry_context", "x"}}}, 422},
		{Error{Kind: KindLimit, Fields: []FieldError{{BodyPath, "x"}}}, 413},
		{Error{Kind: KindLimit, Fields: []FieldError{{"simulation_params", "x"}}}, 422},
		{Error{Kind: KindLimit}, 429},
		{Error{Kind: KindUnauthorized}, 401},
		{Error{Kind: KindTimeout}, 504},
		{Error{Kind: KindInternal}, 500},
	}
	for _, c := range cases {
		if got := c.e.HTTPStatus(); got != c.want {
			t.Errorf("%v: status %d, want %d", &c.e, got, c.want)
		}
	}
}

// TestEnumsMatchSchema checks that the Go enum lists are the JSON Schemas'.
func TestEnumsMatchSchema(t *testing.T) {
	req := jsonValue(t, RequestSchema())
	resp := jsonValue(t, ResponseSchema())
	enum := func(doc any, keys ...string) []string {
		t.Helper()
		v := dig(t, doc, append(keys, "enum")...)
		var out []string
		for _, e := range v.([]any) {
			out = append(out, e.(string))
		}
		return out
	}
	strs := func(vs ...string) []string { return vs }
	toStrings := func(vs any) []string {
		rv := reflect.ValueOf(vs)
		out := make([]string, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).String()
		}
		return out
	}
	cases := []struct {
		name      string
		got, want []string
	}{
		{"simulation_type", enum(req, "properties", "simulation_type"), toStrings(SimulationTypes)},
		{"industry_context", enum(req, "properties", "industry_context"), toStrings(Industries)},
		{"intervention.type", enum(req, "$defs", "intervention", "properties", "type"), toStrings(InterventionTypes)},
		{"channels", enum(req, "$defs", "intervention", "properties", "channels", "items"), toStrings(Channels)},
		{"schedule", enum(req, "$defs", "timing", "properties", "schedule"), toStrings(Schedules)},
		{"cadence", enum(req, "$defs", "timing", "properties", "cadence"), toStrings(Cadences)},
		{"selection_method", enum(req, "$defs", "targetPopulation", "properties", "selection_method"), toStrings(SelectionMethods)},
		{"calibration_mode", enum(req, "$defs", "simulationParams", "properties", "calibration_mode"), toStrings(CalibrationModes)},
		{"status", enum(resp, "properties", "status"), strs(string(StatusCompleted), string(StatusFailed))},
		{"risk_level", enum(resp, "$defs", "expectedOutcomes", "properties", "unsubscribe_rate", "properties", "risk_level"), toStrings(RiskLevels)},
		{"error.kind", enum(resp, "$defs", "error", "properties", "kind"), toStrings(ErrorKinds)},
	}
	metrics := dig(t, req, "properties", "success_metrics", "items", "anyOf").([]any)
	cases = append(cases, struct {
		name      string
		got, want []string
	}{"success_metrics", enum(metrics[0]), toStrings(Metrics)})
	for _, c := range cases {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: schema %q, Go %q", c.name, c.got, c.want)
		}
	}
}
