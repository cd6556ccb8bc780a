package optimize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/persona"
)

// ProgramReasoner builds a Reasoner that judges with the given prompt
// program. The LLM reasoner (persona/llm, with its Program field set) and
// test reasoners plug in through it. The optimizer calls it once per
// program it needs (teacher and candidates) and calls the returned
// Reasoner concurrently during evaluation.
type ProgramReasoner func(prog persona.Program) persona.Reasoner

// RolloutReasoner is implemented by Reasoners that can give a fresh sample
// for a bootstrap round after the first: Rollout(round) returns a Reasoner
// that answers with temperature 1 and a salt distinct per round, so a
// response cache does not return the answer of round 0 again (DSPy's
// rollout_id). Reasoners that do not implement it are asked again as they
// are, which only helps when they sample.
type RolloutReasoner interface {
	persona.Reasoner
	Rollout(round int) persona.Reasoner
}

// Candidate seeds with a fixed meaning, as in DSPy's
// BootstrapFewShotWithRandomSearch; seeds s ≥ 0 are shuffled bootstraps.
const (
	// SeedZeroShot is the base program without demos.
	SeedZeroShot = -3
	// SeedLabeled is the base program with MaxLabeled labeled demos.
	SeedLabeled = -2
	// SeedUnshuffled bootstraps over the train set in its order.
	SeedUnshuffled = -1
)

// Stop reasons of a Result.
const (
	// StopCompleted means every candidate was evaluated.
	StopCompleted = "completed"
	// StopAtScore means a candidate reached Config.StopAtScore.
	StopAtScore = "stop_at_score"
	// StopBudget means the call budget ran out before every candidate was
	// evaluated.
	StopBudget = "budget_exhausted"
)

// ErrBudgetExhausted is returned by a reasoner call that would exceed
// Config.Budget. The optimizer handles it by stopping cleanly; it only
// reaches callers of Optimize when not even the zero-shot program could be
// evaluated.
var ErrBudgetExhausted = errors.New("optimize: reasoner call budget exhausted")

// Config configures Optimize. The zero value of a field means its default.
type Config struct {
	// MaxBootstrapped caps the bootstrapped demos of a candidate. Default
	// 4.
	MaxBootstrapped int `json:"max_bootstrapped"`
	// MaxLabeled caps the total demos of a candidate (bootstrapped demos
	// count against it, as in DSPy) and is the number of labeled demos of
	// the teacher and of the labeled-only candidate. Default 8 (DSPy uses
	// 16; persona and intervention blocks are long).
	MaxLabeled int `json:"max_labeled"`
	// NumCandidates is the number of shuffled-bootstrap candidates (seeds
	// 0…NumCandidates−1), after the three fixed ones. Default 16.
	NumCandidates int `json:"num_candidates"`
	// MaxRounds is the number of teacher attempts per train example while
	// bootstrapping. Default 1.
	MaxRounds int `json:"max_rounds"`
	// Workers is the number of concurrent reasoner calls while evaluating
	// a candidate. Default 4.
	Workers int `json:"workers"`
	// Seed makes the search reproducible: every random draw comes from
	// PCG sources seeded with it.
	Seed uint64 `json:"seed"`
	// StopAtScore stops the search once a candidate's validation score is
	// at least this value; 0 (or less) disables it.
	StopAtScore float64 `json:"stop_at_score,omitempty"`
	// Tolerance is the largest |intent_change − target| a bootstrapped
	// answer may have to be accepted, on the [−1, 1] scale. Default 0.3.
	Tolerance float64 `json:"tolerance"`
	// Budget is the maximum number of reasoner calls of the whole run,
	// bootstrapping and evaluation included; 0 means unlimited. The calls
	// needed to score the winner on the test set are set aside first, so
	// the search itself may use Budget − len(Test) calls.
	Budget int `json:"budget,omitempty"`
	// MaxErrors is the number of failed teacher calls tolerated while
	// bootstrapping one candidate before Optimize gives up with an error.
	// Default 10.
	MaxErrors int `json:"max_errors"`
	// PromoteMargin is how much the winner's validation score must exceed
	// the zero-shot score for Result.Promote to be true. Default 0.02.
	PromoteMargin float64 `json:"promote_margin"`
	// Logger receives one record per candidate; nil discards them.
	Logger *slog.Logger `json:"-"`
}

func (c Config) withDefaults() Config {
	if c.MaxBootstrapped <= 0 {
		c.MaxBootstrapped = 4
	}
	if c.MaxLabeled <= 0 {
		c.MaxLabeled = 8
	}
	if c.NumCandidates < 0 {
		c.NumCandidates = 0
	} else if c.NumCandidates == 0 {
		c.NumCandidates = 16
	}
	if c.MaxRounds <= 0 {
		c.MaxRounds = 1
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Tolerance <= 0 {
		c.Tolerance = 0.3
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = 10
	}
	if c.PromoteMargin <= 0 {
		c.PromoteMargin = 0.02
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// CandidateScore is the outcome of one candidate program.
type CandidateScore struct {
	// Seed is the candidate's seed: SeedZeroShot, SeedLabeled,
	// SeedUnshuffled or a shuffle seed ≥ 0.
	Seed int `json:"seed"`
	// Demos is the number of demos of the candidate's program.
	Demos int `json:"demos"`
	// Bootstrapped is how many of them were bootstrapped.
	Bootstrapped int `json:"bootstrapped"`
	// Evaluated is false when the budget ran out before the candidate
	// was scored; Val is then empty.
	Evaluated bool `json:"evaluated"`
	// Val is the candidate's metric on the validation set.
	Val Report `json:"val"`
	// Calls is the number of reasoner calls the candidate used.
	Calls int `json:"calls"`
}

// Result is the compiled artifact of an optimizer run. It is plain JSON
// (see WriteResult and ReadResult), and Program is what production loads.
type Result struct {
	// FormatVersion is the artifact format, currently 1.
	FormatVersion int `json:"format_version"`
	// Program is the winning program, its Version one above the base's.
	Program persona.Program `json:"program"`
	// BestSeed is the winner's candidate seed.
	BestSeed int `json:"best_seed"`
	// Candidates lists every candidate in the order tried.
	Candidates []CandidateScore `json:"candidates"`
	// ZeroShot is the base program's validation metric (seed −3).
	ZeroShot Report `json:"zero_shot"`
	// Val is the winner's validation metric.
	Val Report `json:"val"`
	// Test is the winner's metric on the held-out test interventions, nil
	// when the budget did not allow it.
	Test *Report `json:"test,omitempty"`
	// Promote says whether the winner should replace the base program: it
	// is not the zero-shot candidate and its validation score exceeds the
	// zero-shot score by at least Config.PromoteMargin.
	Promote bool `json:"promote"`
	// Calls is the number of reasoner calls made.
	Calls int `json:"calls"`
	// Budget is Config.Budget (0 = unlimited).
	Budget int `json:"budget,omitempty"`
	// Stopped says why the search ended: StopCompleted, StopAtScore or
	// StopBudget.
	Stopped string `json:"stopped"`
	// Seed is Config.Seed.
	Seed uint64 `json:"seed"`
	// Scale is the lift that maps to intent 1 (TargetScale of the train
	// set).
	Scale float64 `json:"scale"`
	// TrainInterventions, ValInterventions and TestInterventions record
	// the split.
	TrainInterventions []string `json:"train_interventions"`
	ValInterventions   []string `json:"val_interventions"`
	TestInterventions  []string `json:"test_interventions"`
}

// budget counts reasoner calls against a limit. The optimizer's phases run
// one after another, so the limit may be raised between phases.
type budget struct {
	limit int64 // 0 = unlimited
	used  atomic.Int64
}

func (b *budget) take() bool {
	if b.limit == 0 {
		b.used.Add(1)
		return true
	}
	for {
		u := b.used.Load()
		if u >= b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+1) {
			return true
		}
	}
}

func (b *budget) remaining() int64 {
	if b.limit == 0 {
		return math.MaxInt64
	}
	return b.limit - b.used.Load()
}

// counted wraps a Reasoner so that every call is charged to a budget.
type counted struct {
	r persona.Reasoner
	b *budget
}

func (c counted) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	if !c.b.take() {
		return persona.Judgement{}, ErrBudgetExhausted
	}
	return c.r.Judge(ctx, p, iv)
}

// Optimize searches for a better prompt program in the manner of DSPy's
// BootstrapFewShotWithRandomSearch (Khattab et al. 2023, "DSPy: Compiling
// Declarative Language Model Calls into Self-Improving Pipelines"), with a
// set-level metric (Evaluate) instead of DSPy's per-example mean and a
// split by intervention instead of DSPy's default val = train.
//
// Candidates are tried in seed order: −3 the base program (zero-shot, its
// demos removed); −2 the base with MaxLabeled labeled demos sampled from
// train; −1 a bootstrap over train in its order with up to MaxBootstrapped
// demos; and s = 0…NumCandidates−1 a bootstrap over train shuffled with a
// source seeded (Seed, s), its demo budget drawn uniformly from
// [1, MaxBootstrapped] by the same source. A bootstrap walks the examples
// with a teacher program (base instruction plus the labeled demos, the
// example at hand removed), keeps each answer that passes Accept, stops
// once it has enough, and fills the rest of the MaxLabeled demo slots with
// labeled demos from the examples not bootstrapped. Every candidate is
// scored on the whole validation set with Workers concurrent calls; the
// first strictly higher score wins. The search stops early at StopAtScore,
// or cleanly when the call budget cannot cover the next step (Stopped
// says so). The winner is then scored once on the test set.
//
// All goroutines Optimize starts have returned when it returns. It returns
// ctx's error when ctx ends, ErrBudgetExhausted when the budget does not
// cover even the zero-shot evaluation, and an error when the teacher fails
// more than MaxErrors times in one bootstrap.
func Optimize(ctx context.Context, newReasoner ProgramReasoner, base persona.Program, split Split, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if newReasoner == nil {
		return nil, errors.New("optimize: no ProgramReasoner")
	}
	if len(split.Train) == 0 || len(split.Val) == 0 {
		return nil, errors.New("optimize: train and validation sets must not be empty")
	}
	o := &run{
		cfg:   cfg,
		newR:  newReasoner,
		base:  base,
		split: split,
		scale: TargetScale(split.Train),
	}
	o.base.Demos = nil
	o.b.limit = int64(cfg.Budget)
	if cfg.Budget > 0 {
		o.b.limit = int64(cfg.Budget - len(split.Test))
		if o.b.limit <= 0 {
			return nil, fmt.Errorf("budget of %d calls does not cover the %d test judgements: %w", cfg.Budget, len(split.Test), ErrBudgetExhausted)
		}
	}
	o.labeled = o.sampleLabeled()

	res := &Result{
		FormatVersion:      1,
		Budget:             cfg.Budget,
		Seed:               cfg.Seed,
		Scale:              o.scale,
		Stopped:            StopCompleted,
		TrainInterventions: interventionIDs(split.Train),
		ValInterventions:   interventionIDs(split.Val),
		TestInterventions:  interventionIDs(split.Test),
	}
	var best persona.Program
	bestScore := math.Inf(-1)
	haveBest := false

search:
	for seed := SeedZeroShot; seed < cfg.NumCandidates; seed++ {
		before := o.b.used.Load()
		prog, nBoot, err := o.candidate(ctx, seed)
		cs := CandidateScore{Seed: seed, Demos: len(prog.Demos), Bootstrapped: nBoot}
		if err == nil {
			cs.Val, err = o.score(ctx, prog, split.Val)
			cs.Evaluated = err == nil
		}
		cs.Calls = int(o.b.used.Load() - before)
		switch {
		case errors.Is(err, ErrBudgetExhausted):
			res.Candidates = append(res.Candidates, cs)
			res.Stopped = StopBudget
			cfg.Logger.Info("optimizer budget exhausted", "seed", seed, "calls", o.b.used.Load())
			break search
		case err != nil:
			return nil, err
		}
		res.Candidates = append(res.Candidates, cs)
		cfg.Logger.Info("optimizer candidate", "seed", seed, "demos", cs.Demos,
			"bootstrapped", nBoot, "score", cs.Val.Score, "tau", cs.Val.Tau, "mse", cs.Val.MSE, "calls", cs.Calls)
		if seed == SeedZeroShot {
			res.ZeroShot = cs.Val
		}
		if cs.Val.Score > bestScore {
			best, bestScore, haveBest = prog, cs.Val.Score, true
			res.BestSeed, res.Val = seed, cs.Val
		}
		if cfg.StopAtScore > 0 && cs.Val.Score >= cfg.StopAtScore {
			res.Stopped = StopAtScore
			break
		}
	}
	if !haveBest {
		return nil, fmt.Errorf("cannot evaluate even the zero-shot program on %d validation examples: %w", len(split.Val), ErrBudgetExhausted)
	}
	best.Version = base.Version + 1
	res.Program = best
	res.Promote = res.BestSeed != SeedZeroShot && res.Val.Score >= res.ZeroShot.Score+cfg.PromoteMargin

	if len(split.Test) > 0 {
		o.b.limit = int64(cfg.Budget) // release the calls set aside for the test
		rep, err := o.score(ctx, best, split.Test)
		switch {
		case err == nil:
			res.Test = &rep
		case errors.Is(err, ErrBudgetExhausted):
		default:
			return nil, err
		}
	}
	res.Calls = int(o.b.used.Load())
	return res, nil
}

// run holds the state of one Optimize call.
type run struct {
	cfg     Config
	newR    ProgramReasoner
	base    persona.Program
	split   Split
	scale   float64
	labeled []int // indices into split.Train of the labeled demos
	b       budget
}

// rng returns the PCG source of one stream of the run.
func (o *run) rng(stream int) *rand.Rand {
	return rand.New(rand.NewPCG(o.cfg.Seed, uint64(int64(stream))))
}

// labeledStream is the stream of the labeled-demo sample; candidate seeds
// s ≥ 0 use stream s, so it is negative.
const labeledStream = -100

// sampleLabeled draws min(MaxLabeled, |train|) distinct train examples,
// DSPy's LabeledFewShot.
func (o *run) sampleLabeled() []int {
	k := min(o.cfg.MaxLabeled, len(o.split.Train))
	return o.rng(labeledStream).Perm(len(o.split.Train))[:k]
}

// candidate builds the program of one seed and returns it with its number
// of bootstrapped demos.
func (o *run) candidate(ctx context.Context, seed int) (persona.Program, int, error) {
	prog := o.base
	switch seed {
	case SeedZeroShot:
		return prog, 0, nil
	case SeedLabeled:
		for _, i := range o.labeled {
			prog.Demos = append(prog.Demos, LabeledDemo(o.split.Train[i], o.scale))
		}
		return prog, 0, nil
	}
	order := make([]int, len(o.split.Train))
	for i := range order {
		order[i] = i
	}
	size := o.cfg.MaxBootstrapped
	r := o.rng(seed)
	if seed >= 0 {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		size = 1 + r.IntN(o.cfg.MaxBootstrapped)
	}
	demos, nBoot, err := o.bootstrap(ctx, order, size, r)
	prog.Demos = demos
	return prog, nBoot, err
}

// bootstrap is DSPy's BootstrapFewShot over the train examples in order:
// it collects up to size accepted teacher answers as demos, then fills up
// to MaxLabeled demos with labeled demos drawn (by r) from the examples
// that were not bootstrapped.
func (o *run) bootstrap(ctx context.Context, order []int, size int, r *rand.Rand) ([]persona.Demo, int, error) {
	var demos []persona.Demo
	done := make([]bool, len(o.split.Train))
	errs := 0
	for _, i := range order {
		if len(demos) >= size {
			break
		}
		ex := o.split.Train[i]
		teacher := o.base
		for _, j := range o.labeled {
			if o.split.Train[j].key() != ex.key() {
				teacher.Demos = append(teacher.Demos, LabeledDemo(o.split.Train[j], o.scale))
			}
		}
		tr := o.newR(teacher)
		for round := 0; round < o.cfg.MaxRounds; round++ {
			rr := tr
			if round > 0 {
				if ro, ok := tr.(RolloutReasoner); ok {
					rr = ro.Rollout(round)
				}
			}
			j, err := counted{rr, &o.b}.Judge(ctx, ex.Persona, ex.Intervention)
			if err != nil {
				if errors.Is(err, ErrBudgetExhausted) {
					return demos, len(demos), err
				}
				if ctx.Err() != nil {
					return demos, len(demos), ctx.Err()
				}
				errs++
				if errs > o.cfg.MaxErrors {
					return demos, len(demos), fmt.Errorf("cannot bootstrap: teacher failed %d times, last: %w", errs, err)
				}
				continue
			}
			if Accept(j, Target(ex.ObservedLift, o.scale), o.cfg.Tolerance) {
				demos = append(demos, persona.Demo{Persona: ex.Persona, Intervention: ex.Intervention, Answer: j, Source: "bootstrapped"})
				done[i] = true
				break
			}
		}
	}
	nBoot := len(demos)
	var raw []int
	for i := range o.split.Train {
		if !done[i] {
			raw = append(raw, i)
		}
	}
	r.Shuffle(len(raw), func(a, b int) { raw[a], raw[b] = raw[b], raw[a] })
	for _, i := range raw {
		if len(demos) >= o.cfg.MaxLabeled {
			break
		}
		demos = append(demos, LabeledDemo(o.split.Train[i], o.scale))
	}
	return demos, nBoot, nil
}

// score judges every example with prog, Workers calls at a time, and
// returns the Report. It makes no call and returns ErrBudgetExhausted when
// the remaining budget cannot cover every example.
func (o *run) score(ctx context.Context, prog persona.Program, exs []Example) (Report, error) {
	if o.b.remaining() < int64(len(exs)) {
		return Report{}, ErrBudgetExhausted
	}
	intents, failed, err := judgeAll(ctx, counted{o.newR(prog), &o.b}, exs, o.cfg.Workers)
	if err != nil {
		return Report{}, err
	}
	return Evaluate(exs, intents, failed, o.scale), nil
}

// judgeAll judges every example with a pool of workers goroutines, all
// finished on return. A failed judgement is marked in failed; the first
// context or budget error stops the pool and is returned.
func judgeAll(ctx context.Context, r persona.Reasoner, exs []Example, workers int) ([]float64, []bool, error) {
	intents := make([]float64, len(exs))
	failed := make([]bool, len(exs))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for w := 0; w < min(workers, len(exs)); w++ {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(exs) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				j, err := r.Judge(gctx, exs[i].Persona, exs[i].Intervention)
				switch {
				case err == nil:
					intents[i] = j.IntentChange
				case errors.Is(err, ErrBudgetExhausted):
					return err
				case gctx.Err() != nil:
					return gctx.Err()
				default:
					failed[i] = true
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, err
	}
	return intents, failed, nil
}

// Accept is the bootstrap acceptance rule (DSPy's metric with a trace): an
// answer is kept as a demo when its intent change has the sign of the
// target (any sign is accepted for a target of 0), lies within tol of the
// target, has a non-empty rationale, and its drivers, if any, do not add
// up to the opposite sign.
func Accept(j persona.Judgement, target, tol float64) bool {
	if j.Rationale == "" || math.IsNaN(j.IntentChange) {
		return false
	}
	if sign(target) != 0 && sign(j.IntentChange) != sign(target) {
		return false
	}
	if math.Abs(j.IntentChange-target) > tol {
		return false
	}
	sum := 0.0
	for _, d := range j.Drivers {
		sum += d.Effect
	}
	return !(len(j.Drivers) > 0 && sign(sum) != 0 && sign(sum) != sign(j.IntentChange))
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// LabeledDemo turns an example into a labeled demo: its answer's intent
// change is the observed lift mapped by Target(lift, scale), with a
// first-person rationale stating the measured outcome and a confidence of
// 1.
func LabeledDemo(ex Example, scale float64) persona.Demo {
	t := Target(ex.ObservedLift, scale)
	var feel string
	switch {
	case t >= 0.5:
		feel = "clearly more likely to act"
	case t > 0.05:
		feel = "a little more likely to act"
	case t > -0.05:
		feel = "about as likely to act as without it"
	case t > -0.5:
		feel = "a little less likely to act"
	default:
		feel = "clearly less likely to act"
	}
	return persona.Demo{
		Persona:      ex.Persona,
		Intervention: ex.Intervention,
		Answer: persona.Judgement{
			IntentChange: t,
			Rationale: fmt.Sprintf("People like me (segment %s) responded to this message with a measured lift of %+.4g against the control group, so it makes me %s.",
				ex.Segment, ex.ObservedLift, feel),
			Confidence: 1,
		},
		Source: "labeled",
	}
}
