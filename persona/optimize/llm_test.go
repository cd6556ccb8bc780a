package optimize

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/llm"
	"github.com/preflight-hq/preflight/persona/llmtest"
)

var tagRE = regexp.MustCompile(`\[persona:([^\]]+)\] \[intervention:([^\]]+)\]`)

// httpBrain is the fake persona brain of brain_test.go behind the scripted
// server: it reads the persona and intervention of every user turn from
// its stable tag (looking them up in the world), takes each demo's answer
// from the assistant turn after it (parsed with persona.ParseJudgement),
// and answers the last user turn as answer() does, in the contract's JSON.
func httpBrain(w *world, bad *atomic.Int64) func(req openai.ChatCompletionRequest) string {
	return func(req openai.ChatCompletionRequest) string {
		var demos []demoObs
		var cur *demoObs
		for _, m := range req.Messages {
			switch m.Role {
			case openai.ChatMessageRoleUser:
				g := tagRE.FindStringSubmatch(m.Content)
				p, okP := w.pByID[g[1]]
				iv, okI := w.ivByID[g[2]]
				if len(g) != 3 || !okP || !okI {
					bad.Add(1)
					return "I cannot tell who I am."
				}
				cur = &demoObs{p: p, iv: iv}
			case openai.ChatMessageRoleAssistant:
				j, err := persona.ParseJudgement(m.Content)
				if err != nil || cur == nil {
					bad.Add(1)
					continue
				}
				cur.intent = j.IntentChange
				demos = append(demos, *cur)
				cur = nil
			}
		}
		if cur == nil {
			bad.Add(1)
			return "no question"
		}
		j := answer(cur.p, cur.iv, demos)
		b, err := json.Marshal(map[string]any{
			"rationale": j.Rationale, "drivers": j.Drivers, "intent_change": j.IntentChange, "confidence": j.Confidence,
		})
		if err != nil {
			panic(fmt.Sprintf("cannot encode a judgement: %v", err))
		}
		return string(b)
	}
}

// TestOptimizeImprovesThroughLLM is the acceptance test: on the synthetic
// history with known truth (brain_test.go), the optimizer, driving the real
// go-openai client (llm.Reasoner) against the scripted OpenAI-compatible
// server whose brain has a known zero-shot bias that demos correct,
// measurably improves the metric over the zero-shot program on both the
// validation and the held-out test interventions.
func TestOptimizeImprovesThroughLLM(t *testing.T) {
	w, s := testSplit(t)
	var bad atomic.Int64
	srv := llmtest.New(llmtest.Config{APIKey: "test-key", Brain: httpBrain(w, &bad)})
	defer srv.Close()
	client, err := llm.New(llm.Config{BaseURL: srv.BaseURL(), Model: "fake-persona", APIKey: "test-key", MaxConcurrency: 4, Seed: 1}, llm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := llm.NewReasoner(client)
	pr := func(prog persona.Program) persona.Reasoner { return base.WithProgram(prog) }

	prog := persona.DefaultProgram()
	res, err := Optimize(context.Background(), pr, prog, s, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkImproves(t, res, prog.Version)
	if bad.Load() != 0 {
		t.Errorf("the brain could not read %d prompts", bad.Load())
	}
	if n := srv.Count(); n == 0 || n > res.Calls {
		t.Errorf("server saw %d requests for %d reasoner calls", n, res.Calls)
	}
	if res.ZeroShot.FailureRate != 0 || res.Val.FailureRate != 0 {
		t.Errorf("failures: zero-shot %v, best %v", res.ZeroShot.FailureRate, res.Val.FailureRate)
	}
	// The winner's demos reached the wire: a request carries them as
	// user/assistant turns.
	found := false
	for _, r := range srv.Requests() {
		if len(r.Request.Messages) == 2+2*len(res.Program.Demos) {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no request carried the winner's %d demos", len(res.Program.Demos))
	}
	// Through the wire the brain sees the same programs as in process
	// (up to the three-decimal rounding of rendered demo answers), so the
	// search takes the same path.
	local, err := Optimize(context.Background(), inProcess(nil), prog, s, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(local.Candidates) != len(res.Candidates) || local.BestSeed != res.BestSeed {
		t.Errorf("in process: best seed %d of %d candidates; through HTTP: %d of %d", local.BestSeed, len(local.Candidates), res.BestSeed, len(res.Candidates))
	}
	for i := range min(len(local.Candidates), len(res.Candidates)) {
		if d := local.Candidates[i].Val.Score - res.Candidates[i].Val.Score; d > 0.01 || d < -0.01 {
			t.Errorf("candidate %d: in process %.4f, through HTTP %.4f", local.Candidates[i].Seed, local.Candidates[i].Val.Score, res.Candidates[i].Val.Score)
		}
	}
	if hw := srv.HighWater(); hw > 4 {
		t.Errorf("concurrency high water %d > 4", hw)
	}
}
