package persona

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParseError says which field of an answer could not be accepted and why.
// A caller may retry the request: the answer, not the program, was wrong.
type ParseError struct {
	// Field is the answer field at fault ("intent_change", "drivers[2]"),
	// or "answer" when no JSON object was found.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error implements error.
func (e *ParseError) Error() string {
	return "cannot parse judgement: " + e.Field + ": " + e.Reason
}

// maxWrapDepth bounds how deep ParseJudgement looks for the answer inside
// wrapper objects.
const maxWrapDepth = 3

// defaultConfidence is the confidence given to an answer that states none.
const defaultConfidence = 0.5

// factorSynonyms maps driver names models commonly use to Drivers.
var factorSynonyms = map[string]string{
	"cost": DriverPrice, "pricing": DriverPrice, "value": DriverPrice,
	"offer": DriverDiscount, "deal": DriverDiscount, "promotion": DriverDiscount, "incentive": DriverDiscount, "sale": DriverDiscount,
	"personalization": DriverRelevance, "personalisation": DriverRelevance, "interest": DriverRelevance, "category": DriverRelevance,
	"scarcity": DriverUrgency, "deadline": DriverUrgency, "fomo": DriverUrgency,
	"brand": DriverTrust, "credibility": DriverTrust, "tone": DriverTrust, "spam": DriverTrust,
	"length": DriverClarity, "readability": DriverClarity, "cta": DriverClarity,
	"time": DriverTiming, "send_time": DriverTiming, "sendtime": DriverTiming,
	"frequency": DriverFatigue, "annoyance": DriverFatigue, "overload": DriverFatigue,
	"medium": DriverChannel,
}

// ParseJudgement reads a reasoner's answer. It is tolerant of the ways
// models wrap JSON:
//
//   - the object alone, inside ``` or ```json fences, or with prose before
//     or after it (the first JSON object in the text that holds an
//     intent_change wins);
//   - the answer wrapped in an outer object ({"answer": {...}},
//     {"judgement": {...}}, any single level up to three deep);
//   - keys in another case or style (intentChange, Intent-Change);
//   - numbers written as strings ("0.4", "+0.4", "40%" means 0.4);
//   - drivers as {factor, effect}, {factor, direction: "+"/"-", strength}
//     or an object {"relevance": 0.4, ...}.
//
// It repairs what it can and records each repair in Judgement.Repairs:
// values outside their range are clamped (intent_change and driver effects
// into [-1, 1], confidence into [0, 1]), unknown driver factors become
// "other" (common synonyms map to their factor), a missing confidence
// becomes 0.5, a missing rationale or drivers become empty, drivers are
// sorted strongest first. intent_change is required. Errors are
// *ParseError naming the field and the reason.
func ParseJudgement(text string) (Judgement, error) {
	obj, err := findAnswer(text)
	if err != nil {
		return Judgement{}, err
	}
	var j Judgement
	repair := func(format string, args ...any) { j.Repairs = append(j.Repairs, fmt.Sprintf(format, args...)) }

	raw, ok := obj["intentchange"]
	if !ok || raw == nil {
		return Judgement{}, &ParseError{Field: "intent_change", Reason: "missing"}
	}
	ic, err := number(raw)
	if err != nil {
		return Judgement{}, &ParseError{Field: "intent_change", Reason: err.Error()}
	}
	j.IntentChange = clampNote(ic, -1, 1, "intent_change", repair)

	switch raw := obj["confidence"].(type) {
	case nil:
		j.Confidence = defaultConfidence
		repair("confidence missing, set to %g", defaultConfidence)
	default:
		c, err := number(raw)
		if err != nil {
			return Judgement{}, &ParseError{Field: "confidence", Reason: err.Error()}
		}
		j.Confidence = clampNote(c, 0, 1, "confidence", repair)
	}

	j.Rationale, err = text2(obj["rationale"], "rationale", repair)
	if err != nil {
		return Judgement{}, err
	}
	if _, ok := obj["reasoning"]; ok {
		if j.Reasoning, err = text2(obj["reasoning"], "reasoning", nil); err != nil {
			return Judgement{}, err
		}
	}
	if j.Drivers, err = drivers(obj["drivers"], repair); err != nil {
		return Judgement{}, err
	}
	return j, nil
}

// findAnswer returns the first JSON object in text, or nested in one, that
// has an intent_change, with its keys normalised. When no object has one
// it returns the first object found so the caller reports the missing
// field.
func findAnswer(text string) (map[string]any, error) {
	var first map[string]any
	for _, cand := range candidates(text) {
		for i := 0; i < len(cand); i++ {
			k := strings.IndexByte(cand[i:], '{')
			if k < 0 {
				break
			}
			i += k
			dec := json.NewDecoder(strings.NewReader(cand[i:]))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			m = normalizeKeys(m)
			if ans := unwrap(m, maxWrapDepth); ans != nil {
				return ans, nil
			}
			if first == nil {
				first = m
			}
			i += int(dec.InputOffset()) - 1
		}
	}
	if first != nil {
		return first, nil
	}
	return nil, &ParseError{Field: "answer", Reason: "no JSON object found in " + clip(text)}
}

// candidates returns the texts to search: the contents of each fenced
// block first, then the whole text.
func candidates(text string) []string {
	var out []string
	rest := text
	for {
		i := strings.Index(rest, "```")
		if i < 0 {
			break
		}
		body := rest[i+3:]
		// Skip the info string ("json") up to the end of the line.
		if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.Contains(body[:nl], "{") {
			body = body[nl+1:]
		}
		j := strings.Index(body, "```")
		if j < 0 {
			out = append(out, body)
			break
		}
		out = append(out, body[:j])
		rest = body[j+3:]
	}
	return append(out, text)
}

// unwrap returns m or the object nested in it (depth levels at most) that
// holds an intent_change.
func unwrap(m map[string]any, depth int) map[string]any {
	if _, ok := m["intentchange"]; ok {
		return m
	}
	if depth == 0 {
		return nil
	}
	for _, k := range sortedKeys(m) {
		switch v := m[k].(type) {
		case map[string]any:
			if ans := unwrap(v, depth-1); ans != nil {
				return ans
			}
		case []any:
			// {"judgements": [{...}]}: take the first element.
			if len(v) > 0 {
				if inner, ok := v[0].(map[string]any); ok {
					if ans := unwrap(inner, depth-1); ans != nil {
						return ans
					}
				}
			}
		}
	}
	return nil
}

// normKey folds a key to lower case without '_', '-' and spaces, so
// intent_change, intentChange and "Intent change" agree.
func normKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(k)) {
		if r == '_' || r == '-' || r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normalizeKeys folds the keys of m and of the objects nested in it.
func normalizeKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch x := v.(type) {
		case map[string]any:
			v = normalizeKeys(x)
		case []any:
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					x[i] = normalizeKeys(em)
				}
			}
		}
		nk := normKey(k)
		if _, dup := out[nk]; !dup {
			out[nk] = v
		}
	}
	return out
}

// number reads a JSON number, or a string holding one ("0.4", "+0.4",
// "40%" as 0.4).
func number(v any) (float64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = strings.TrimSpace(x)
	case float64:
		return x, nil
	case bool, nil:
		return 0, fmt.Errorf("must be a number, got %v", v)
	default:
		return 0, fmt.Errorf("must be a number, got %s", kind(v))
	}
	pct := strings.HasSuffix(s, "%")
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("must be a finite number, got %q", clip(s))
	}
	if pct {
		f /= 100
	}
	return f, nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// clampNote clamps x into [lo, hi], recording a repair when it moves.
func clampNote(x, lo, hi float64, field string, repair func(string, ...any)) float64 {
	c := min(max(x, lo), hi)
	if c != x && repair != nil {
		repair("%s %g clamped to %g", field, x, c)
	}
	return c
}

// text2 reads a free-text field: a string, or anything else rendered as
// JSON; nil is empty (and a repair when repair is not nil).
func text2(v any, field string, repair func(string, ...any)) (string, error) {
	switch x := v.(type) {
	case nil:
		if repair != nil {
			repair("%s missing, left empty", field)
		}
		return "", nil
	case string:
		return strings.TrimSpace(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				parts = append(parts, strings.TrimSpace(s))
			}
		}
		return strings.Join(parts, " "), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", &ParseError{Field: field, Reason: "must be text"}
	}
	return string(data), nil
}

// drivers reads the drivers field in any of the shapes ParseJudgement
// accepts.
func drivers(v any, repair func(string, ...any)) ([]Driver, error) {
	var out []Driver
	switch x := v.(type) {
	case nil:
		repair("drivers missing, left empty")
		return nil, nil
	case map[string]any:
		// {"relevance": 0.4, "discount": "0.2"}
		for _, k := range sortedKeys(x) {
			e, err := number(x[k])
			if err != nil {
				return nil, &ParseError{Field: "drivers." + k, Reason: err.Error()}
			}
			out = append(out, driver(k, e, "drivers."+k, repair))
		}
	case []any:
		for i, el := range x {
			field := fmt.Sprintf("drivers[%d]", i)
			m, ok := el.(map[string]any)
			if !ok {
				if s, ok := el.(string); ok {
					// A bare factor name has no direction; keep it as
					// a zero effect so the factor is not lost.
					out = append(out, driver(s, 0, field, repair))
					repair("%s has no effect, set to 0", field)
					continue
				}
				return nil, &ParseError{Field: field, Reason: "must be an object, got " + kind(el)}
			}
			name, _ := m["factor"].(string)
			if name == "" {
				name, _ = m["name"].(string)
			}
			e, err := driverEffect(m)
			if err != nil {
				return nil, &ParseError{Field: field, Reason: err.Error()}
			}
			out = append(out, driver(name, e, field, repair))
		}
	default:
		return nil, &ParseError{Field: "drivers", Reason: "must be an array, got " + kind(v)}
	}
	slices.SortStableFunc(out, func(a, b Driver) int {
		switch ea, eb := math.Abs(a.Effect), math.Abs(b.Effect); {
		case ea > eb:
			return -1
		case ea < eb:
			return 1
		}
		return 0
	})
	return out, nil
}

// driverEffect reads a driver's signed effect from "effect", or from
// "direction" and "strength".
func driverEffect(m map[string]any) (float64, error) {
	if v, ok := m["effect"]; ok && v != nil {
		e, err := number(v)
		if err != nil {
			return 0, fmt.Errorf("effect %s", err.Error())
		}
		return e, nil
	}
	if v, ok := m["strength"]; ok && v != nil {
		e, err := number(v)
		if err != nil {
			return 0, fmt.Errorf("strength %s", err.Error())
		}
		e = math.Abs(e)
		if d, _ := m["direction"].(string); strings.HasPrefix(strings.TrimSpace(d), "-") ||
			strings.HasPrefix(strings.TrimSpace(d), "−") || strings.EqualFold(strings.TrimSpace(d), "negative") {
			e = -e
		}
		return e, nil
	}
	return 0, fmt.Errorf("effect: missing")
}

// driver builds one driver, mapping the factor to Drivers and clamping the
// effect.
func driver(name string, effect float64, field string, repair func(string, ...any)) Driver {
	f := strings.ToLower(strings.TrimSpace(name))
	if !slices.Contains(Drivers, f) {
		if syn, ok := factorSynonyms[strings.ReplaceAll(f, " ", "_")]; ok {
			f = syn
		} else {
			repair("%s factor %q is not a known driver, counted as %q", field, clip(name), DriverOther)
			f = DriverOther
		}
	}
	return Driver{Factor: f, Effect: clampNote(effect, -1, 1, field+".effect", repair)}
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 60
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
