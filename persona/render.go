package persona

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// OutputSchemaName is the name under which OutputSchema is sent as a
// structured-output response format.
const OutputSchemaName = "persona_judgement"

// DefaultInstruction is the zero-shot instruction of DefaultProgram.
const DefaultInstruction = `Read the description of the person you are and the message they received. ` +
	`Think about how this person, with their tastes, budget, habits and mood about marketing, would really react: ` +
	`whether the message is about something they buy, whether the offer matters to them, whether it comes on a ` +
	`channel and at a time that suits them, and whether they already hear from this brand too often. ` +
	`Then say how receiving it changes their intent to visit or buy, and why, in their own words.`

// frame is the fixed, non-optimised start of every system message.
const frame = `You are simulating one specific person, described in the user message. You are not an assistant and ` +
	`you are not trying to be helpful or polite: you answer as this person would, from their situation, tastes and habits. ` +
	`Start from a neutral stance and do not invent facts about the person that are not given.

The message shown is one variant being compared; everything else about the person's situation is unchanged. ` +
	`Judge only the change this message causes in the person's intent to act (visit or buy) compared with not ` +
	`receiving it at all.

Negative and indifferent reactions are expected and normal: many marketing messages leave people cold, and some ` +
	`annoy them enough to make them less likely to act. intent_change is not a probability of conversion: -1 means ` +
	`much less likely to act than without the message, 0 means no change, +1 means much more likely.`

// DefaultProgram returns the zero-shot program: DefaultInstruction, no
// demos, no chain of thought, version 1.
func DefaultProgram() Program {
	return Program{Version: 1, Instruction: DefaultInstruction}
}

// Messages renders the program for one persona and one intervention as
// chat messages:
//
//   - a system message: the fixed frame (simulate this person, not an
//     assistant; judge only the change versus not receiving the message;
//     negative and indifferent reactions are expected; intent_change is not
//     a probability of conversion), then p.Instruction, then the output
//     contract (the JSON fields, their ranges and order, with "reasoning"
//     first when p.ChainOfThought is set);
//   - for each demo, a user turn (persona block and intervention block) and
//     an assistant turn holding the exact answer JSON;
//   - the final user turn for s and iv.
//
// Every user turn starts with the line "[persona:<id>] [intervention:<id>]"
// so that scripted test servers can match requests; the question is the
// last user message. Rendering is deterministic: fixed field order, floats
// rounded to three decimals (two in the persona block), no map iteration
// order leaks.
func (p Program) Messages(s Spec, iv Intervention) []Message {
	msgs := make([]Message, 0, 2+2*len(p.Demos))
	msgs = append(msgs, Message{Role: "system", Content: p.systemMessage()})
	for _, d := range p.Demos {
		msgs = append(msgs,
			Message{Role: "user", Content: userTurn(d.Persona, d.Intervention)},
			Message{Role: "assistant", Content: p.renderAnswer(d.Answer)})
	}
	return append(msgs, Message{Role: "user", Content: userTurn(s, iv)})
}

// Tag returns the stable tag line of a user turn for persona id and
// intervention id, "[persona:<pid>] [intervention:<ivid>]".
func Tag(personaID, interventionID string) string {
	return "[persona:" + personaID + "] [intervention:" + interventionID + "]"
}

func (p Program) systemMessage() string {
	var b strings.Builder
	b.WriteString(frame)
	if ins := strings.TrimSpace(p.Instruction); ins != "" {
		b.WriteString("\n\n")
		b.WriteString(ins)
	}
	b.WriteString("\n\n")
	b.WriteString(p.contract())
	return b.String()
}

// contract describes the answer format in words.
func (p Program) contract() string {
	var b strings.Builder
	b.WriteString("Answer with one JSON object and nothing else, with exactly these fields in this order:\n")
	if p.ChainOfThought {
		b.WriteString(`- "reasoning": string, your short step-by-step thinking as this person, before you decide;` + "\n")
	}
	b.WriteString(`- "rationale": string, your reason in the first person, at most 80 words;` + "\n")
	b.WriteString(`- "drivers": array of at most 5 objects {"factor": one of ` + quotedList(Drivers) +
		`, "effect": number in [-1, 1], positive when the factor raises your intent}, strongest first;` + "\n")
	b.WriteString(`- "intent_change": number in [-1, 1], the change in your intent to act caused by this message;` + "\n")
	b.WriteString(`- "confidence": number in [0, 1], how sure you are of your judgement.`)
	return b.String()
}

func quotedList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// userTurn renders the persona block and the intervention block.
func userTurn(s Spec, iv Intervention) string {
	var b strings.Builder
	b.WriteString(Tag(s.ID, iv.ID))
	b.WriteString("\n\n## Who you are\n")
	b.WriteString(s.Render())
	b.WriteString("\n## The message you received\n")
	b.WriteString(iv.Render(s))
	b.WriteString("\nHow does receiving this message change your intent to act, compared with not receiving it? " +
		"Answer with the JSON object only.")
	return b.String()
}

var dayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// Render returns the intervention block of a prompt as the persona sees
// it: known personalization fields ({{first_name}}, {{name}},
// {{favorite_category}}, {{last_purchase}}) are filled in from s, others
// are left as written. One "Field: value" line each, in a fixed order,
// ending with a newline.
func (iv Intervention) Render(s Spec) string {
	var b strings.Builder
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	line("Channel", orUnknown(iv.Channel))
	if iv.Subject != "" {
		line("Subject", fillTemplate(iv.Subject, s))
	}
	line("Message", fillTemplate(iv.Template, s))
	if iv.Category != "" {
		line("About", iv.Category)
	}
	line("Offer", iv.Offer.describe())
	line("Sent", describeSendTime(iv.DayOfWeek, iv.SendHour))
	line("Messages you received from this brand in the 7 days before this one", strconv.Itoa(iv.RecentExposures))
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func describeSendTime(day, hour int) string {
	var parts []string
	if day >= 0 && day < 7 {
		parts = append(parts, dayNames[day])
	}
	if hour >= 0 && hour < 24 {
		parts = append(parts, fmt.Sprintf("%02d:00", hour))
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}

// describe renders the offer in words.
func (o Offer) describe() string {
	var s string
	switch o.Kind {
	case "", OfferNone:
		return "none"
	case OfferPercentOff:
		s = fmtNum(o.Value) + "% off"
	case OfferAmountOff:
		s = fmtNum(o.Value) + " off your order"
	case OfferFreeShipping:
		s = "free shipping"
	case OfferGift:
		s = "a free gift"
	default:
		s = o.Kind
		if o.Value != 0 {
			s += " " + fmtNum(o.Value)
		}
	}
	if o.ExpiresHours > 0 {
		s += ", expires " + fmtNum(o.ExpiresHours) + " hours after sending"
	}
	return s
}

// Offer kinds.
const (
	OfferNone         = "none"
	OfferPercentOff   = "percent_off"
	OfferAmountOff    = "amount_off"
	OfferFreeShipping = "free_shipping"
	OfferGift         = "gift"
)

// fillTemplate substitutes the personalization fields Preflight knows.
func fillTemplate(t string, s Spec) string {
	if !strings.Contains(t, "{{") {
		return t
	}
	first := s.Name
	if i := strings.IndexByte(first, ' '); i > 0 {
		first = first[:i]
	}
	r := strings.NewReplacer(
		"{{first_name}}", first,
		"{{name}}", s.Name,
		"{{favorite_category}}", s.FavoriteCategory(),
		"{{last_purchase}}", s.TopPurchaseCategory(),
	)
	return r.Replace(t)
}

// renderAnswer writes a judgement as the answer JSON of the contract, in
// the contract's field order, on one line.
func (p Program) renderAnswer(j Judgement) string {
	var b bytes.Buffer
	b.WriteByte('{')
	if p.ChainOfThought {
		reasoning := j.Reasoning
		if reasoning == "" {
			reasoning = j.Rationale
		}
		b.WriteString(`"reasoning":`)
		b.WriteString(jsonString(reasoning))
		b.WriteByte(',')
	}
	b.WriteString(`"rationale":`)
	b.WriteString(jsonString(j.Rationale))
	b.WriteString(`,"drivers":[`)
	for i, d := range j.Drivers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"factor":`)
		b.WriteString(jsonString(d.Factor))
		b.WriteString(`,"effect":`)
		b.WriteString(fmtNum(d.Effect))
		b.WriteByte('}')
	}
	b.WriteString(`],"intent_change":`)
	b.WriteString(fmtNum(j.IntentChange))
	b.WriteString(`,"confidence":`)
	b.WriteString(fmtNum(j.Confidence))
	b.WriteByte('}')
	return b.String()
}

// jsonString quotes s as a JSON string without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// fmtNum formats x rounded to three decimals in its shortest form ("0.35",
// "-1", "12.5"); NaN and infinities, which the contract never allows,
// format as 0.
func fmtNum(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "0"
	}
	r := math.Round(x*1000) / 1000
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// fmt2 formats x with exactly two decimals.
func fmt2(x float64) string {
	r := math.Round(x*100) / 100
	if r == 0 {
		r = 0
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

// OutputSchema returns the JSON Schema (draft 2020-12 subset accepted by
// OpenAI strict structured output) of the program's answer: every field
// required, additionalProperties false, "reasoning" first when
// p.ChainOfThought is set. The bytes are the same for the same
// ChainOfThought setting.
func (p Program) OutputSchema() json.RawMessage {
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{`)
	if p.ChainOfThought {
		b.WriteString(`"reasoning":{"type":"string","description":"Short step-by-step thinking as the persona, before deciding."},`)
	}
	b.WriteString(`"rationale":{"type":"string","description":"The persona's reason, first person, at most 80 words."},`)
	b.WriteString(`"drivers":{"type":"array","maxItems":5,"description":"Factors behind the judgement, strongest first.","items":{"type":"object","properties":{`)
	b.WriteString(`"factor":{"type":"string","enum":[` + strings.ReplaceAll(quotedList(Drivers), ", ", ",") + `]},`)
	b.WriteString(`"effect":{"type":"number","minimum":-1,"maximum":1,"description":"Signed contribution; positive raises intent."}`)
	b.WriteString(`},"required":["factor","effect"],"additionalProperties":false}},`)
	b.WriteString(`"intent_change":{"type":"number","minimum":-1,"maximum":1,"description":"Change in intent to act caused by the message versus not receiving it; not a probability of conversion."},`)
	b.WriteString(`"confidence":{"type":"number","minimum":0,"maximum":1,"description":"How sure the persona is of the judgement."}`)
	b.WriteString(`},"required":[`)
	if p.ChainOfThought {
		b.WriteString(`"reasoning",`)
	}
	b.WriteString(`"rationale","drivers","intent_change","confidence"],"additionalProperties":false}`)
	return json.RawMessage(b.String())
}

// Hash returns the hex SHA-256 of the program's canonical JSON (the
// encoding/json encoding of p: struct fields in declaration order, map keys
// sorted), so equal programs have equal hashes across processes.
func (p Program) Hash() string {
	data, err := json.Marshal(p)
	if err != nil {
		// Only NaN or infinite floats in demos can fail; hash their
		// printed form instead so Hash stays total.
		data = fmt.Appendf(nil, "%#v", p)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
