package llm

import (
	"context"
	"fmt"
	"math"

	"github.com/preflight-hq/preflight/persona"
)

// Reasoner is a persona.Reasoner on an OpenAI-compatible endpoint. It
// renders Program for the persona and intervention, asks the Client for a
// JSON answer (with the program's output schema in json_schema mode),
// parses it tolerantly with persona.ParseJudgement, and when the answer
// cannot be parsed asks once more with the parse error appended (the
// repair retry). It is safe for concurrent use as long as its fields are
// not changed while it is in use.
type Reasoner struct {
	// Client makes the completions. Required.
	Client *Client
	// Program is the prompt program; a zero Program means
	// persona.DefaultProgram().
	Program persona.Program
}

var _ persona.Reasoner = (*Reasoner)(nil)

// NewReasoner returns a Reasoner on c with persona.DefaultProgram().
func NewReasoner(c *Client) *Reasoner {
	return &Reasoner{Client: c, Program: persona.DefaultProgram()}
}

// WithProgram returns a copy of r that renders prog, sharing r's Client
// (its concurrency limit, cache and metrics).
func (r *Reasoner) WithProgram(prog persona.Program) *Reasoner {
	return &Reasoner{Client: r.Client, Program: prog}
}

// Judge judges iv for p with sample index 0.
func (r *Reasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	return r.JudgeSample(ctx, p, iv, 0)
}

// JudgeSample judges iv for p as independent sample number sample: the
// sample index is part of the cache key, and the request's seed is derived
// from the Client's run seed, the sample, the persona id and the
// intervention id (DeriveSeed), so k samples are k distinct, reproducible
// requests. It returns an error only when no judgement could be made: the
// endpoint failed after its retries, the context ended, or the answer
// could not be parsed even after the repair retry.
func (r *Reasoner) JudgeSample(ctx context.Context, p persona.Spec, iv persona.Intervention, sample int) (persona.Judgement, error) {
	prog := r.program()
	model := r.Client.Model()
	seed := DeriveSeed(r.Client.Config().Seed, sample, p.ID, iv.ID)
	req := Request{
		Messages:   prog.Messages(p, iv),
		Schema:     prog.OutputSchema(),
		SchemaName: persona.OutputSchemaName,
		Sample:     sample,
		Seed:       &seed,
	}
	resp, err := r.Client.Complete(ctx, req)
	if err != nil {
		r.Client.m.judgements.WithLabelValues(model, "failed").Inc()
		return persona.Judgement{}, fmt.Errorf("cannot judge intervention %s for persona %s: %w", iv.ID, p.ID, err)
	}
	j, perr := persona.ParseJudgement(resp.Content)
	if perr == nil {
		r.Client.m.judgements.WithLabelValues(model, "ok").Inc()
		return clampJudgement(j), nil
	}

	r.Client.log.Debug("answer could not be parsed; asking again", "model", model, "persona", p.ID, "intervention", iv.ID, "err", perr)
	req.Messages = append(req.Messages,
		persona.Message{Role: "assistant", Content: resp.Content},
		persona.Message{Role: "user", Content: repairPrompt(p.ID, iv.ID, perr)},
	)
	resp, err = r.Client.Complete(ctx, req)
	if err != nil {
		r.Client.m.judgements.WithLabelValues(model, "failed").Inc()
		return persona.Judgement{}, fmt.Errorf("cannot judge intervention %s for persona %s: repair retry after %v: %w", iv.ID, p.ID, perr, err)
	}
	j, err = persona.ParseJudgement(resp.Content)
	if err != nil {
		r.Client.m.judgements.WithLabelValues(model, "failed").Inc()
		return persona.Judgement{}, fmt.Errorf("cannot judge intervention %s for persona %s: answer unparseable after a repair retry: %w", iv.ID, p.ID, err)
	}
	r.Client.m.judgements.WithLabelValues(model, "repaired").Inc()
	j.Repairs = append(j.Repairs, "answer re-requested after: "+perr.Error())
	return clampJudgement(j), nil
}

func (r *Reasoner) program() persona.Program {
	if r.Program.Version == 0 && r.Program.Instruction == "" && len(r.Program.Demos) == 0 && !r.Program.ChainOfThought {
		return persona.DefaultProgram()
	}
	return r.Program
}

// repairPrompt is the user turn of the repair retry. It starts with the
// persona/intervention tag line so that scripted servers still recognise
// the request.
func repairPrompt(personaID, interventionID string, perr error) string {
	return persona.Tag(personaID, interventionID) + "\n\n" +
		"Your previous answer could not be used: " + perr.Error() + ".\n" +
		"Answer again with only the JSON object described in the instructions: all fields present, " +
		`"intent_change" a number in [-1, 1], "confidence" a number in [0, 1], no text before or after it.`
}

// clampJudgement keeps every number of j in its range (ParseJudgement
// already clamps; this guards the Reasoner's contract on its own).
func clampJudgement(j persona.Judgement) persona.Judgement {
	j.IntentChange = clamp(j.IntentChange, -1, 1)
	j.Confidence = clamp(j.Confidence, 0, 1)
	for i := range j.Drivers {
		j.Drivers[i].Effect = clamp(j.Drivers[i].Effect, -1, 1)
	}
	return j
}

func clamp(x, lo, hi float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return min(max(x, lo), hi)
}
