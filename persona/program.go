package persona

// Program is a prompt program in the spirit of DSPy (Khattab et al. 2023):
// the fixed signature "persona, intervention → intent_change, rationale"
// (plus drivers and confidence), an optimisable Instruction, few-shot Demos
// and optional chain of thought. It is plain, versioned data so that a
// calibration snapshot can carry one; the optimizer in persona/optimize
// produces better ones.
type Program struct {
	// Version increments when the instruction or demos change; the
	// optimizer sets it.
	Version int `json:"version"`
	// Instruction is the task text placed in the system message.
	Instruction string `json:"instruction"`
	// Demos are worked examples shown before the question, as
	// user/assistant turns.
	Demos []Demo `json:"demos,omitempty"`
	// ChainOfThought asks for a short step-by-step reasoning field before
	// the answer.
	ChainOfThought bool `json:"chain_of_thought,omitempty"`
}

// Demo is one few-shot example of a program: a persona, an intervention
// and the answer the program should give.
type Demo struct {
	Persona      Spec         `json:"persona"`
	Intervention Intervention `json:"intervention"`
	Answer       Judgement    `json:"answer"`
	// Source says where the demo came from: "labeled" (built from a
	// measured outcome) or "bootstrapped" (a reasoner's own accepted
	// answer).
	Source string `json:"source"`
}

// Message is one chat message of a rendered program.
type Message struct {
	// Role is "system", "user" or "assistant".
	Role    string `json:"role"`
	Content string `json:"content"`
}
