package api

import (
	"net/http"
	"strings"
)

// BodyPath is the Path of a FieldError about the body as a whole rather
// than one field: too large, not JSON, not an object. No field of the
// contract has this name.
const BodyPath = "(body)"

// FieldError is one problem with one field of a request.
type FieldError struct {
	// Path is the field's path, e.g. "intervention.content_variants[1].id",
	// or BodyPath.
	Path string `json:"path"`
	// Reason says what is wrong, e.g. "is required".
	Reason string `json:"reason"`
}

// Error implements error as "path: reason".
func (e FieldError) Error() string { return e.Path + ": " + e.Reason }

// ErrorKind classifies a failed request.
type ErrorKind string

// The error kinds.
const (
	// KindValidation means the request breaks the contract; Fields says
	// where. It is not retriable as is.
	KindValidation ErrorKind = "validation"
	// KindTimeout means the simulation did not finish before the
	// request's deadline. It is retriable, perhaps with less work.
	KindTimeout ErrorKind = "timeout"
	// KindLimit means the request exceeds a configured limit (body size,
	// work, rate); Fields says which. It is retriable only once smaller,
	// or, for the rate limit (no Fields), after waiting.
	KindLimit ErrorKind = "limit"
	// KindInternal means the simulator failed. It is retriable.
	KindInternal ErrorKind = "internal"
	// KindUnauthorized means the API key is missing or not valid (HTTP
	// only).
	// The PRD names no error kinds; this one exists so that a 401 has the
	// same body as every other failure.
	KindUnauthorized ErrorKind = "unauthorized"
)

// ErrorKinds lists the allowed error.kind values.
var ErrorKinds = []ErrorKind{KindValidation, KindTimeout, KindLimit, KindInternal, KindUnauthorized}

// Error is the error object of a failed response, and the error Decode
// returns.
type Error struct {
	// Kind classifies the failure.
	Kind ErrorKind `json:"kind"`
	// Message is a one-line summary for people.
	Message string `json:"message"`
	// Fields lists every problem found, in a stable order: the order of the
	// contract's fields, array elements by index, unknown fields last by
	// name. Empty for timeout and internal errors.
	Fields []FieldError `json:"fields,omitempty"`
}

// Error implements error: the message, then every field problem.
func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return string(e.Kind) + ": " + e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return string(e.Kind) + ": " + e.Message + ": " + strings.Join(parts, "; ")
}

// Retriable reports whether the same request may succeed if sent again
// later: timeouts and internal errors.
func (e *Error) Retriable() bool { return e.Kind == KindTimeout || e.Kind == KindInternal }

// HTTPStatus returns the HTTP status of a response carrying e, as the
// OpenAPI document states: 400 when the body is not a JSON object, 401 for
// KindUnauthorized, 413 when the body is too large, 429 for a limit error
// without fields (the rate limit), 422 for any other validation or limit
// error, 504 for a timeout and 500 otherwise.
func (e *Error) HTTPStatus() int {
	body := len(e.Fields) == 1 && e.Fields[0].Path == BodyPath
	switch {
	case e.Kind == KindUnauthorized:
		return http.StatusUnauthorized
	case e.Kind == KindLimit && len(e.Fields) == 0:
		return http.StatusTooManyRequests
	case e.Kind == KindLimit && body:
		return http.StatusRequestEntityTooLarge
	case e.Kind == KindValidation && body:
		return http.StatusBadRequest
	case e.Kind == KindValidation || e.Kind == KindLimit:
		return http.StatusUnprocessableEntity
	case e.Kind == KindTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
