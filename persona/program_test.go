package persona

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cannot read golden file (run go test -update): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// testSpec returns a hand-written persona who buys category cat.
func testSpec(id, cat string) Spec {
	return Spec{
		ID: id, SegmentID: "loyal", Weight: 0.5,
		Name: "Mia Schneider", AgeBand: "35-44", Gender: "woman", Region: "Hamburg, Germany",
		Occupation: "nurse", IncomeBand: "medium",
		Traits: map[string]float64{TraitOpenness: 0.62, TraitConscientiousness: 0.4, TraitExtraversion: 0.55,
			TraitAgreeableness: 0.7, TraitNeuroticism: 0.3},
		Preferences:      map[string]float64{cat: 0.8, "beauty": 0.3, "home": 0.2},
		ChannelAffinity:  map[string]float64{"email": 0.7, "sms": 0.2, "push": 0.45},
		PriceSensitivity: 0.6, FatigueTolerance: 0.5, LifecycleStage: StageActive,
		PurchaseHistory: PurchaseHistory{Categories: map[string]int{cat: 6, "beauty": 1}, OrdersPerYear: 7,
			AvgOrderValue: 64.2, DaysSinceLastOrder: 12},
		PreferredHours: HourBand{From: 18, To: 22},
	}
}

func testIntervention(id, cat string) Intervention {
	return Intervention{ID: id, Channel: "email", Subject: "New in " + cat,
		Template: "{{first_name}}, new in " + cat + " based on {{last_purchase}} - this week only.",
		Category: cat, Offer: Offer{Kind: OfferPercentOff, Value: 20, ExpiresHours: 72},
		SendHour: 19, DayOfWeek: 2, RecentExposures: 1}
}

func twoDemoProgram() Program {
	p := DefaultProgram()
	p.Version = 3
	p.Demos = []Demo{
		{Persona: testSpec("demo-a", "fashion"), Intervention: testIntervention("iv-a", "fashion"), Source: "labeled",
			Answer: Judgement{IntentChange: 0.45, Confidence: 0.7, Rationale: `I buy fashion a lot & 20% "off" helps.`,
				Drivers: []Driver{{DriverRelevance, 0.5}, {DriverDiscount, 0.2}}}},
		{Persona: testSpec("demo-b", "sports"), Intervention: Intervention{ID: "iv-b", Channel: "sms",
			Template: "LAST CHANCE!!! Everything must go", Offer: Offer{Kind: OfferNone}, SendHour: 23, DayOfWeek: -1,
			RecentExposures: 6}, Source: "bootstrapped",
			Answer: Judgement{IntentChange: -0.6, Confidence: 0.8, Rationale: "Too many texts, and late at night.",
				Drivers: []Driver{{DriverFatigue, -0.7}, {DriverTiming, -0.2}, {DriverTrust, -0.15}}}},
	}
	return p
}

func renderMessages(msgs []Message) []byte {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("=== " + m.Role + "\n")
		b.WriteString(m.Content)
		b.WriteString("\n")
	}
	return []byte(b.String())
}

func TestProgramMessagesGolden(t *testing.T) {
	p := twoDemoProgram()
	msgs := p.Messages(testSpec("p-0001", "electronics"), testIntervention("v-7", "electronics"))
	if len(msgs) != 6 {
		t.Fatalf("got %d messages, want 6", len(msgs))
	}
	roles := []string{"system", "user", "assistant", "user", "assistant", "user"}
	for i, m := range msgs {
		if m.Role != roles[i] {
			t.Errorf("message %d role %q, want %q", i, m.Role, roles[i])
		}
	}
	last := msgs[len(msgs)-1].Content
	if !strings.HasPrefix(last, "[persona:p-0001] [intervention:v-7]\n") {
		t.Errorf("final user turn does not start with the tag line: %q", last[:40])
	}
	// Demo answers are the exact JSON the parser reads back.
	for i, d := range p.Demos {
		got, err := ParseJudgement(msgs[2+2*i].Content)
		if err != nil {
			t.Fatalf("demo %d answer does not parse: %v", i, err)
		}
		if got.IntentChange != d.Answer.IntentChange || got.Confidence != d.Answer.Confidence ||
			got.Rationale != d.Answer.Rationale || !reflect.DeepEqual(got.Drivers, d.Answer.Drivers) || len(got.Repairs) > 0 {
			t.Errorf("demo %d answer round trip: got %+v, want %+v", i, got, d.Answer)
		}
	}
	golden(t, "program_two_demos.golden", renderMessages(msgs))

	// Rendering is deterministic (maps are iterated in a fixed order).
	for range 20 {
		again := p.Messages(testSpec("p-0001", "electronics"), testIntervention("v-7", "electronics"))
		if !reflect.DeepEqual(again, msgs) {
			t.Fatal("Messages is not deterministic")
		}
	}
}

func TestProgramChainOfThought(t *testing.T) {
	p := twoDemoProgram()
	p.ChainOfThought = true
	msgs := p.Messages(testSpec("p-1", "home"), testIntervention("v-1", "home"))
	if !strings.Contains(msgs[0].Content, `"reasoning"`) {
		t.Error("system message of a chain-of-thought program does not ask for reasoning")
	}
	if !strings.HasPrefix(msgs[2].Content, `{"reasoning":`) {
		t.Errorf("demo answer does not start with reasoning: %s", msgs[2].Content)
	}
	j, err := ParseJudgement(msgs[2].Content)
	if err != nil || j.Reasoning == "" {
		t.Errorf("chain-of-thought demo answer: %+v, %v", j, err)
	}
	plain := DefaultProgram().Messages(testSpec("p-1", "home"), testIntervention("v-1", "home"))
	if strings.Contains(plain[0].Content, `"reasoning"`) {
		t.Error("system message of a plain program asks for reasoning")
	}
}

func TestOutputSchema(t *testing.T) {
	for _, cot := range []bool{false, true} {
		p := Program{ChainOfThought: cot}
		raw := p.OutputSchema()
		name := "output_schema.golden"
		if cot {
			name = "output_schema_cot.golden"
		}
		var pretty map[string]any
		if err := json.Unmarshal(raw, &pretty); err != nil {
			t.Fatalf("schema is not JSON: %v", err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, raw, "", "  "); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
		golden(t, name, out.Bytes())

		// Strict structured output: all properties required, no extras.
		props := pretty["properties"].(map[string]any)
		req := pretty["required"].([]any)
		if len(props) != len(req) || pretty["additionalProperties"] != false {
			t.Errorf("cot=%v: %d properties, %d required, additionalProperties %v", cot, len(props), len(req), pretty["additionalProperties"])
		}
		if first := req[0]; cot && first != "reasoning" {
			t.Errorf("cot schema: first required field %v, want reasoning", first)
		}

		// The schema accepts a rendered demo answer and rejects a bad one.
		c := jsonschema.NewCompiler()
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("judgement.json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("judgement.json")
		if err != nil {
			t.Fatalf("schema does not compile: %v", err)
		}
		ans := p.renderAnswer(twoDemoProgram().Demos[1].Answer)
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(ans))
		if err := sch.Validate(inst); err != nil {
			t.Errorf("cot=%v: schema rejects a rendered answer %s: %v", cot, ans, err)
		}
		bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"rationale":"x","drivers":[],"intent_change":2,"confidence":0.5}`))
		if err := sch.Validate(bad); err == nil {
			t.Errorf("cot=%v: schema accepts intent_change 2", cot)
		}
	}
}

func TestProgramHashAndJSON(t *testing.T) {
	p := twoDemoProgram()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Program
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("JSON round trip changed the program:\n%+v\n%+v", back, p)
	}
	if back.Hash() != p.Hash() {
		t.Error("hash changed over a JSON round trip")
	}
	if len(p.Hash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", p.Hash())
	}
	q := twoDemoProgram()
	q.Instruction += " Be brief."
	if q.Hash() == p.Hash() {
		t.Error("different instructions give the same hash")
	}
	if DefaultProgram().Hash() != DefaultProgram().Hash() {
		t.Error("hash is not stable")
	}
}

func TestFmtNum(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{0.35, "0.35"}, {-1, "-1"}, {12.5, "12.5"}, {1.0 / 3, "0.333"}, {-0.0001, "0"}, {0.1 + 0.2, "0.3"}} {
		if got := fmtNum(c.in); got != c.want {
			t.Errorf("fmtNum(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
