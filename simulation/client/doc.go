// Package client is the Go client of the Preflight simulator, for programs
// that ask it what an intervention would do: NewKafka asks over Kafka
// request/reply (package streams/reqrep, Spring Kafka's convention), NewHTTP
// over POST /api/v1/simulate. Both send an api.SimulateRequest and return
// the api.SimulateResponse, and WriteReport renders one for people.
//
// # Errors
//
// A failed response (status "failed") is returned together with its
// *api.Error, so a caller sees every field problem and can ask
// errors.As(err, &apiErr) for the kind and apiErr.Retriable(). A request
// the simulator never answered returns a zero response and an error naming
// what failed; when the wait ran out it matches ErrTimeout. The request is
// not validated here: the simulator's answer lists every problem.
//
// # Retries
//
// The Kafka client resends a request that got no reply in time with the
// same correlation id, so a simulator that did compute it answers from its
// cache. The HTTP client resends on 429 and 503 after the Retry-After the
// simulator asked for, and on a retriable 5xx or a transport failure after
// an exponential backoff.
//
// # Scope
//
// A request is answered by the calibration of one scope: ScopeHeader when
// Scope is set, else the request's industry_context.
package client

import (
	"context"
	"errors"

	"github.com/preflight-hq/preflight/simulation/api"
)

// ScopeHeader is the HTTP header and Kafka record header naming the
// calibration scope, as package simulation/service reads it.
const ScopeHeader = "X-Preflight-Scope"

// ErrTimeout is matched (errors.Is) by the error of a request that got no
// answer before the client stopped waiting.
var ErrTimeout = errors.New("no answer from the simulator in time")

// Simulator asks the simulator. *Kafka and *HTTP implement it.
type Simulator interface {
	// Simulate sends req and returns the simulator's answer. A failed
	// answer is returned with its *api.Error.
	Simulate(ctx context.Context, req api.SimulateRequest) (api.SimulateResponse, error)
	// Close releases the connections.
	Close() error
}

// failure returns resp and its error: resp.Error for a failed response
// (one without an error object gets an internal one), nil otherwise.
func failure(resp api.SimulateResponse) (api.SimulateResponse, error) {
	if resp.Status != api.StatusFailed {
		return resp, nil
	}
	if resp.Error == nil {
		resp.Error = &api.Error{Kind: api.KindInternal, Message: "the simulator answered status failed without an error object"}
	}
	return resp, resp.Error
}
