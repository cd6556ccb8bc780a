// Package eventsink writes Preflight events somewhere: JSON-lines files (one
// per event type), a Kafka cluster through segmentio/kafka-go, or memory.
//
// Every sink writes the bytes schemas.Encode produces, so a line of a file
// sink and the value of a Kafka record are the same bytes, and either decodes
// with schemas.Decode(ev.Type().SchemaName(), value).
//
// The generators (package synth) and the replays (package replay) write
// through the Sink interface and do not know where their events go.
package eventsink

import (
	"context"
	"errors"
	"sync"

	"github.com/preflight-hq/preflight/schemas"
)

// Sink receives events. Write may buffer; Close flushes whatever is buffered,
// releases the sink's resources and returns the first error met while
// delivering, so a caller that sees Write and Close both return nil knows
// every event was delivered. Implementations in this package are safe for
// concurrent use; Write after Close returns an error.
type Sink interface {
	// Write hands one event to the sink. It does not keep a reference to
	// ev beyond the call unless the implementation says so (Memory does).
	Write(ctx context.Context, ev schemas.Event) error
	// Close flushes and returns the first delivery error, if any.
	Close() error
}

// Func adapts a function to a Sink whose Close does nothing. It is handy
// for counting, for benchmarks and for tests.
type Func func(ctx context.Context, ev schemas.Event) error

// Write calls f.
func (f Func) Write(ctx context.Context, ev schemas.Event) error { return f(ctx, ev) }

// Close returns nil.
func (Func) Close() error { return nil }

// Memory keeps every event written to it, in order. It keeps the event
// values themselves (not copies), so writers must not change an event after
// writing it. The zero value is ready to use.
type Memory struct {
	mu     sync.Mutex
	events []schemas.Event
	closed bool
}

// NewMemory returns an empty Memory sink.
func NewMemory() *Memory { return &Memory{} }

// Write appends ev.
func (m *Memory) Write(ctx context.Context, ev schemas.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.events = append(m.events, ev)
	return nil
}

// Close marks the sink closed; the events stay readable.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// Events returns the events written so far, in write order. The slice is a
// copy; the events are shared.
func (m *Memory) Events() []schemas.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]schemas.Event, len(m.events))
	copy(out, m.events)
	return out
}

// Len returns how many events were written.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("eventsink: write to a closed sink")
