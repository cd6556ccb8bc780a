package optimize

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/persona"
)

var baseProgram = persona.Program{Version: 3, Instruction: "Judge the message as this person would."}

// testSplit returns the split of the standard test world.
func testSplit(t testing.TB) (*world, Split) {
	t.Helper()
	w := newWorld(1, 32, 3)
	s, err := SplitByIntervention(w.examples, Fractions{}, rand.New(rand.NewPCG(11, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return w, s
}

func testConfig() Config {
	return Config{NumCandidates: 6, MaxBootstrapped: 4, MaxLabeled: 4, Seed: 5, Workers: 4}
}

func TestOptimizeImprovesInProcess(t *testing.T) {
	_, s := testSplit(t)
	var calls atomic.Int64
	res, err := Optimize(context.Background(), inProcess(&calls), baseProgram, s, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkImproves(t, res, baseProgram.Version)
	if int64(res.Calls) != calls.Load() {
		t.Errorf("Calls = %d, reasoner saw %d", res.Calls, calls.Load())
	}
}

// checkImproves asserts the acceptance criterion: the optimized program
// beats zero-shot on validation by a clear margin, and on test too.
func checkImproves(t *testing.T, res *Result, baseVersion int) {
	t.Helper()
	for _, c := range res.Candidates {
		t.Logf("seed %3d demos %d boot %d score %.3f tau %.3f mse %.3f calls %d", c.Seed, c.Demos, c.Bootstrapped, c.Val.Score, c.Val.Tau, c.Val.MSE, c.Calls)
	}
	zs := res.Candidates[0]
	if zs.Seed != SeedZeroShot || zs.Demos != 0 {
		t.Fatalf("first candidate = %+v, want zero-shot", zs)
	}
	t.Logf("zero-shot val %.3f (tau %.3f, mse %.3f); best seed %d val %.3f (tau %.3f, mse %.3f); test %+v; calls %d",
		res.ZeroShot.Score, res.ZeroShot.Tau, res.ZeroShot.MSE, res.BestSeed, res.Val.Score, res.Val.Tau, res.Val.MSE, res.Test, res.Calls)
	if res.Val.Score < res.ZeroShot.Score+0.1 {
		t.Errorf("optimized val score %.3f does not beat zero-shot %.3f by 0.1", res.Val.Score, res.ZeroShot.Score)
	}
	if res.BestSeed == SeedZeroShot || len(res.Program.Demos) == 0 {
		t.Errorf("winner is the zero-shot program")
	}
	if res.Program.Version != baseVersion+1 {
		t.Errorf("Version = %d, want %d", res.Program.Version, baseVersion+1)
	}
	if !res.Promote {
		t.Error("Promote is false")
	}
	if res.Test == nil {
		t.Fatal("no test score")
	}
	if res.Stopped != StopCompleted {
		t.Errorf("Stopped = %q", res.Stopped)
	}
}

func TestOptimizeZeroShotTestScoreLower(t *testing.T) {
	// The held-out test interventions confirm the gain: score the base
	// program on test directly and compare with the winner's test score.
	_, s := testSplit(t)
	res, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	intents := make([]float64, len(s.Test))
	for i, ex := range s.Test {
		intents[i] = answer(ex.Persona, ex.Intervention, nil).IntentChange
	}
	zs := Evaluate(s.Test, intents, nil, res.Scale)
	t.Logf("test: zero-shot %.3f, optimized %.3f", zs.Score, res.Test.Score)
	if res.Test.Score <= zs.Score {
		t.Errorf("optimized test score %.3f <= zero-shot %.3f", res.Test.Score, zs.Score)
	}
}

func TestOptimizeDeterministic(t *testing.T) {
	_, s := testSplit(t)
	cfg := testConfig()
	a, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 1
	b, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different results:\n%+v\n%+v", a, b)
	}
	cfg.Seed = 99
	c, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Candidates, c.Candidates) {
		t.Errorf("a different seed gave the same candidates")
	}
}

func TestOptimizeBudget(t *testing.T) {
	_, s := testSplit(t)
	cfg := testConfig()
	// Zero-shot and labeled-only need len(Val) calls each; the test
	// needs len(Test). Leave room for a little more than that.
	cfg.Budget = 2*len(s.Val) + len(s.Test) + 10
	var calls atomic.Int64
	res, err := Optimize(context.Background(), inProcess(&calls), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopBudget {
		t.Errorf("Stopped = %q, want %q", res.Stopped, StopBudget)
	}
	if res.Calls > cfg.Budget || calls.Load() > int64(cfg.Budget) {
		t.Errorf("used %d calls (reasoner saw %d), budget %d", res.Calls, calls.Load(), cfg.Budget)
	}
	if res.Test == nil {
		t.Error("the test calls set aside were not used")
	}
	n := 0
	for _, c := range res.Candidates {
		if c.Evaluated {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d candidates evaluated, want 2 (zero-shot, labeled)", n)
	}
	if last := res.Candidates[len(res.Candidates)-1]; last.Evaluated {
		t.Errorf("last candidate %+v should be the unevaluated one", last)
	}

	cfg.Budget = len(s.Test) + len(s.Val) - 1
	if _, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("budget below zero-shot: err = %v, want ErrBudgetExhausted", err)
	}
}

func TestOptimizeStopAtScore(t *testing.T) {
	_, s := testSplit(t)
	cfg := testConfig()
	cfg.StopAtScore = 0.5 // zero-shot already reaches it
	res, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != StopAtScore || len(res.Candidates) != 1 {
		t.Errorf("Stopped = %q after %d candidates", res.Stopped, len(res.Candidates))
	}
}

func TestOptimizeCancel(t *testing.T) {
	_, s := testSplit(t)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	pr := func(prog persona.Program) persona.Reasoner {
		return cancelAfter{brainReasoner{prog: prog, calls: &calls}, &calls, 100, cancel}
	}
	_, err := Optimize(ctx, pr, baseProgram, s, testConfig())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// All workers are done: no call happens after Optimize returned.
	n := calls.Load()
	if n > 100+int64(testConfig().Workers) {
		t.Errorf("%d calls after cancelling at 100", n)
	}
	// A worker calls wg.Done just before it exits, so poll briefly.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after Optimize returned", before, after)
	}
	if calls.Load() != n {
		t.Errorf("calls continued after Optimize returned")
	}
}

// cancelAfter cancels the run's context once n calls have been made.
type cancelAfter struct {
	brainReasoner
	calls  *atomic.Int64
	n      int64
	cancel context.CancelFunc
}

func (c cancelAfter) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	if c.calls.Load() >= c.n {
		c.cancel()
	}
	return c.brainReasoner.Judge(ctx, p, iv)
}

func TestOptimizeFailuresScored(t *testing.T) {
	_, s := testSplit(t)
	pr := func(prog persona.Program) persona.Reasoner {
		return brainReasoner{prog: prog, fail: func(p persona.Spec, iv persona.Intervention) bool {
			return p.SegmentID == "loyal" && iv.ID < "ivn-12"
		}}
	}
	res, err := Optimize(context.Background(), pr, baseProgram, s, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if res.ZeroShot.Failures == 0 || res.ZeroShot.FailureRate <= 0 {
		t.Errorf("failures not reported: %+v", res.ZeroShot)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	_, s := testSplit(t)
	cfg := testConfig()
	cfg.NumCandidates = 2
	res, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "program.json")
	if err := WriteResult(path, res); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResult(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, res) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, res)
	}
}

func TestBootstrapSelfExclusionAndAssembly(t *testing.T) {
	_, s := testSplit(t)
	var seen []persona.Program
	var target Example
	pr := func(prog persona.Program) persona.Reasoner {
		seen = append(seen, prog)
		return brainReasoner{prog: prog}
	}
	o := &run{cfg: Config{MaxBootstrapped: 2, MaxLabeled: 5, Seed: 1}.withDefaults(), newR: pr, base: baseProgram, split: s, scale: TargetScale(s.Train)}
	o.labeled = o.sampleLabeled()
	target = s.Train[o.labeled[0]]
	order := []int{o.labeled[0]}
	for i := range s.Train {
		if i != o.labeled[0] {
			order = append(order, i)
		}
	}
	demos, nBoot, err := o.bootstrap(context.Background(), order, 2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range seen[0].Demos {
		if d.Persona.ID == target.Persona.ID && d.Intervention.ID == target.Intervention.ID {
			t.Errorf("teacher for %s/%s saw its own example", target.Persona.ID, target.Intervention.ID)
		}
	}
	if len(seen[0].Demos) != len(o.labeled)-1 {
		t.Errorf("teacher had %d demos, want %d", len(seen[0].Demos), len(o.labeled)-1)
	}
	if nBoot != 2 || len(demos) != 5 {
		t.Fatalf("bootstrapped %d, total %d demos; want 2 and 5", nBoot, len(demos))
	}
	for i, d := range demos {
		want := "labeled"
		if i < nBoot {
			want = "bootstrapped"
		}
		if d.Source != want {
			t.Errorf("demo %d source %q, want %q", i, d.Source, want)
		}
	}
}

// roundReasoner answers without a rationale in round 0 and with the brain
// in later rounds, which it reaches only through Rollout.
type roundReasoner struct {
	brainReasoner
	round  int
	rounds *[]int
}

func (r roundReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	*r.rounds = append(*r.rounds, r.round)
	j, err := r.brainReasoner.Judge(ctx, p, iv)
	if r.round == 0 {
		j.Rationale = ""
	}
	return j, err
}

func (r roundReasoner) Rollout(round int) persona.Reasoner {
	r.round = round
	return r
}

func TestBootstrapRounds(t *testing.T) {
	_, s := testSplit(t)
	for _, rounds := range []int{1, 2} {
		var seen []int
		pr := func(prog persona.Program) persona.Reasoner {
			return roundReasoner{brainReasoner: brainReasoner{prog: prog}, rounds: &seen}
		}
		o := &run{cfg: Config{MaxBootstrapped: 3, MaxLabeled: 3, MaxRounds: rounds}.withDefaults(), newR: pr, base: baseProgram, split: s, scale: TargetScale(s.Train)}
		o.labeled = o.sampleLabeled()
		order := make([]int, len(s.Train))
		for i := range order {
			order[i] = i
		}
		_, nBoot, err := o.bootstrap(context.Background(), order, 3, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		switch rounds {
		case 1:
			if nBoot != 0 || len(seen) != len(s.Train) {
				t.Errorf("1 round: %d bootstrapped after %d calls, want 0 after %d", nBoot, len(seen), len(s.Train))
			}
		case 2:
			if nBoot != 3 || len(seen) < 6 || seen[0] != 0 || seen[1] != 1 {
				t.Errorf("2 rounds: %d bootstrapped, rounds %v", nBoot, seen)
			}
		}
	}
}

func TestBootstrapMaxErrors(t *testing.T) {
	_, s := testSplit(t)
	pr := func(prog persona.Program) persona.Reasoner {
		return brainReasoner{prog: prog, fail: func(persona.Spec, persona.Intervention) bool { return len(prog.Demos) > 0 }}
	}
	cfg := testConfig()
	cfg.MaxErrors = 3
	if _, err := Optimize(context.Background(), pr, baseProgram, s, cfg); err == nil {
		t.Error("a teacher that always fails did not stop the run")
	}
}
