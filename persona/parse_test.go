package persona

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseJudgement(t *testing.T) {
	const clean = `{"rationale":"I like it.","drivers":[{"factor":"relevance","effect":0.4},{"factor":"discount","effect":0.2}],"intent_change":0.3,"confidence":0.8}`
	want := Judgement{IntentChange: 0.3, Confidence: 0.8, Rationale: "I like it.",
		Drivers: []Driver{{DriverRelevance, 0.4}, {DriverDiscount, 0.2}}}
	cases := []struct {
		name    string
		in      string
		want    Judgement
		repairs int // number of repairs expected
	}{
		{"clean", clean, want, 0},
		{"json fence", "```json\n" + clean + "\n```", want, 0},
		{"bare fence", "```\n" + clean + "\n```", want, 0},
		{"prose around", "Sure! Here is my answer:\n" + clean + "\nHope this helps {really}.", want, 0},
		{"prose with braces before", "As {the persona} I think:\n" + clean, want, 0},
		{"fence with prose", "Thinking...\n```json\n" + clean + "\n```\nDone.", want, 0},
		{"answer wrapper", `{"answer": ` + clean + `}`, want, 0},
		{"judgement wrapper", `{"judgement": ` + clean + `, "model": "x"}`, want, 0},
		{"double wrapper", `{"output": {"judgment": ` + clean + `}}`, want, 0},
		{"array wrapper", `{"judgements": [` + clean + `]}`, want, 0},
		{"numbers as strings",
			`{"rationale":"I like it.","drivers":[{"factor":"relevance","effect":"0.4"},{"factor":"discount","effect":"+0.2"}],"intent_change":"0.3","confidence":"80%"}`,
			want, 0},
		{"camel case keys",
			`{"Rationale":"I like it.","drivers":[{"Factor":"relevance","Effect":0.4},{"factor":"discount","effect":0.2}],"intentChange":0.3,"confidence":0.8}`,
			want, 0},
		{"out of range clamped",
			`{"rationale":"Wow.","drivers":[{"factor":"discount","effect":1.7}],"intent_change":1.4,"confidence":-0.2}`,
			Judgement{IntentChange: 1, Confidence: 0, Rationale: "Wow.", Drivers: []Driver{{DriverDiscount, 1}}}, 3},
		{"unknown factor to other, synonym mapped, sorted",
			`{"rationale":"Meh.","drivers":[{"factor":"vibes","effect":0.1},{"factor":"Brand","effect":-0.3}],"intent_change":-0.2,"confidence":0.5}`,
			Judgement{IntentChange: -0.2, Confidence: 0.5, Rationale: "Meh.", Drivers: []Driver{{DriverTrust, -0.3}, {DriverOther, 0.1}}}, 1},
		{"direction and strength",
			`{"rationale":"No.","drivers":[{"factor":"fatigue","direction":"-","strength":0.6},{"factor":"timing","direction":"+","strength":0.1}],"intent_change":-0.5,"confidence":0.9}`,
			Judgement{IntentChange: -0.5, Confidence: 0.9, Rationale: "No.", Drivers: []Driver{{DriverFatigue, -0.6}, {DriverTiming, 0.1}}}, 0},
		{"drivers as object",
			`{"rationale":"Ok.","drivers":{"urgency":0.2,"channel":-0.1},"intent_change":0.1,"confidence":0.6}`,
			Judgement{IntentChange: 0.1, Confidence: 0.6, Rationale: "Ok.", Drivers: []Driver{{DriverUrgency, 0.2}, {DriverChannel, -0.1}}}, 0},
		{"missing optional fields",
			`{"intent_change": -0.1}`,
			Judgement{IntentChange: -0.1, Confidence: 0.5}, 3},
		{"chain of thought",
			`{"reasoning":"I rarely buy this.","rationale":"Not for me.","drivers":[],"intent_change":0,"confidence":0.7}`,
			Judgement{Confidence: 0.7, Rationale: "Not for me.", Reasoning: "I rarely buy this.", Drivers: nil}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseJudgement(c.in)
			if err != nil {
				t.Fatalf("ParseJudgement: %v", err)
			}
			if len(got.Repairs) != c.repairs {
				t.Errorf("repairs %q, want %d of them", got.Repairs, c.repairs)
			}
			got.Repairs = nil
			if len(got.Drivers) == 0 {
				got.Drivers = nil
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseJudgementClampSaysSo(t *testing.T) {
	j, err := ParseJudgement(`{"rationale":"x","drivers":[],"intent_change":-3,"confidence":0.5}`)
	if err != nil {
		t.Fatal(err)
	}
	if j.IntentChange != -1 || len(j.Repairs) != 1 || !strings.Contains(j.Repairs[0], "intent_change -3 clamped to -1") {
		t.Errorf("got %+v", j)
	}
}

func TestParseJudgementErrors(t *testing.T) {
	cases := []struct {
		name, in, field, reason string
	}{
		{"empty", "", "answer", "no JSON object"},
		{"garbage", "I don't know, maybe a bit more likely?", "answer", "no JSON object"},
		{"broken json", `{"intent_change": 0.3,`, "answer", "no JSON object"},
		{"missing intent_change", `{"rationale":"x","drivers":[],"confidence":0.5}`, "intent_change", "missing"},
		{"null intent_change", `{"intent_change":null}`, "intent_change", "missing"},
		{"intent_change not a number", `{"intent_change":"a lot"}`, "intent_change", "finite number"},
		{"intent_change an object", `{"intent_change":{"value":1}}`, "intent_change", "object"},
		{"intent_change a bool", `{"intent_change":true}`, "intent_change", "must be a number"},
		{"confidence not a number", `{"intent_change":0.1,"confidence":"high"}`, "confidence", "finite number"},
		{"driver not an object", `{"intent_change":0.1,"drivers":[1]}`, "drivers[0]", "must be an object"},
		{"driver without effect", `{"intent_change":0.1,"drivers":[{"factor":"price"}]}`, "drivers[0]", "effect: missing"},
		{"drivers a number", `{"intent_change":0.1,"drivers":3}`, "drivers", "must be an array"},
		{"array only", `[0.3]`, "answer", "no JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseJudgement(c.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got error %v, want a *ParseError", err)
			}
			if pe.Field != c.field || !strings.Contains(pe.Reason, c.reason) {
				t.Errorf("got field %q reason %q, want field %q reason containing %q", pe.Field, pe.Reason, c.field, c.reason)
			}
			if !strings.HasPrefix(err.Error(), "cannot parse judgement: "+c.field+": ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}
