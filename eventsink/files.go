package eventsink

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sync"

	"github.com/preflight-hq/preflight/schemas"
)

// FileOrder is the order in which ReadFiles reads the per-type files:
// definitions (segments, interventions) before the entities that refer to
// them, and those before their exposures and outcomes.
var FileOrder = []schemas.Type{
	schemas.TypeSegment,
	schemas.TypeIntervention,
	schemas.TypeEntity,
	schemas.TypeExposure,
	schemas.TypeOutcome,
}

// FileName returns the name of the JSON-lines file that holds events of type
// t, e.g. "exposure.jsonl".
func FileName(t schemas.Type) string { return string(t) + ".jsonl" }

// maxLine bounds one line that ReadFiles accepts, in bytes (16 MiB).
const maxLine = 16 << 20

// fileBufferSize is the write buffer of each per-type file, in bytes.
const fileBufferSize = 256 << 10

// Files is a Sink that appends each event as one line of JSON to the file
// named after its type (see FileName) in one directory. Each line holds
// exactly the bytes a Kafka record's value would carry, so the files can be
// replayed into Kafka later. It is safe for concurrent use.
type Files struct {
	dir string

	mu     sync.Mutex
	files  map[schemas.Type]*typedFile
	closed bool
	err    error // first write error; sticky
}

type typedFile struct {
	f     *os.File
	w     *bufio.Writer
	count int64
}

// NewFiles creates dir if needed and creates (or truncates) one file per
// event type in it, so that the directory afterwards holds exactly what is
// written through the returned sink.
func NewFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create event directory: %w", err)
	}
	s := &Files{dir: dir, files: make(map[schemas.Type]*typedFile, len(schemas.Types))}
	for _, t := range schemas.Types {
		path := filepath.Join(dir, FileName(t))
		f, err := os.Create(path)
		if err != nil {
			s.closeFiles()
			return nil, fmt.Errorf("cannot create event file: %w", err)
		}
		s.files[t] = &typedFile{f: f, w: bufio.NewWriterSize(f, fileBufferSize)}
	}
	return s, nil
}

// Dir returns the directory the sink writes to.
func (s *Files) Dir() string { return s.dir }

// Write encodes ev with schemas.Encode and appends it, followed by a
// newline, to its type's file. After the first write error every later
// Write returns that error.
func (s *Files) Write(ctx context.Context, ev schemas.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := schemas.Encode(ev)
	if err != nil {
		return fmt.Errorf("cannot encode %s event %s: %w", ev.Type(), ev.ID(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	tf, ok := s.files[ev.Type()]
	if !ok {
		return fmt.Errorf("cannot write event %s: unknown event type %q", ev.ID(), ev.Type())
	}
	b = append(b, '\n')
	if _, err := tf.w.Write(b); err != nil {
		s.err = fmt.Errorf("cannot write %s: %w", tf.f.Name(), err)
		return s.err
	}
	tf.count++
	return nil
}

// Counts returns how many events of each type were written so far.
func (s *Files) Counts() map[schemas.Type]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[schemas.Type]int64, len(s.files))
	for t, tf := range s.files {
		out[t] = tf.count
	}
	return out
}

// Close flushes and closes every file. It returns the first error met by
// Write, flushing or closing. Calling Close again returns nil.
func (s *Files) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	first := s.err
	for _, t := range schemas.Types {
		tf := s.files[t]
		if err := tf.w.Flush(); err != nil && first == nil {
			first = fmt.Errorf("cannot flush %s: %w", tf.f.Name(), err)
		}
	}
	if err := s.closeFiles(); err != nil && first == nil {
		first = err
	}
	return first
}

func (s *Files) closeFiles() error {
	var first error
	for _, tf := range s.files {
		if err := tf.f.Close(); err != nil && first == nil {
			first = fmt.Errorf("cannot close %s: %w", tf.f.Name(), err)
		}
	}
	return first
}

// Record is one line read back from a Files directory.
type Record struct {
	// Type is the event type, taken from the file name.
	Type schemas.Type
	// Value is the line without its newline: the encoded event, exactly
	// the bytes of a Kafka record's value. It is not reused by ReadFiles.
	Value []byte
	// Path is the file the record was read from.
	Path string
	// Line is the record's line in the file, from 1.
	Line int
}

// Schema returns the value of the Kafka "schema" header for the record,
// e.g. "exposure.v1".
func (r Record) Schema() string { return r.Type.SchemaName() }

// ReadFiles reads back a directory written by a Files sink. It yields the
// records of each type's file in line order, the files in FileOrder; a
// missing file counts as empty and blank lines are skipped. On an error it
// yields a zero Record with the error, which names the file and line, and
// stops.
func ReadFiles(dir string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for _, t := range FileOrder {
			path := filepath.Join(dir, FileName(t))
			f, err := os.Open(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				yield(Record{}, fmt.Errorf("cannot read events: %w", err))
				return
			}
			cont := readLines(f, path, t, yield)
			f.Close()
			if !cont {
				return
			}
		}
	}
}

// readLines yields the records of one file and reports whether to go on.
func readLines(f *os.File, path string, t schemas.Type, yield func(Record, error) bool) bool {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		v := make([]byte, len(b))
		copy(v, b)
		if !yield(Record{Type: t, Value: v, Path: path, Line: line}, nil) {
			return false
		}
	}
	if err := sc.Err(); err != nil {
		yield(Record{}, fmt.Errorf("cannot read %s after line %d: %w", path, line, err))
		return false
	}
	return true
}

// CopyFiles reads a directory written by a Files sink (see ReadFiles),
// decodes and validates every record with schemas.Decode and writes the
// events to sink, e.g. to send a generated world to Kafka later. It stops
// at the first bad record, naming its file and line, or at the first write
// error, and returns the number of events written. It does not close sink.
func CopyFiles(ctx context.Context, dir string, sink Sink) (int64, error) {
	var n int64
	for rec, err := range ReadFiles(dir) {
		if err != nil {
			return n, err
		}
		ev, err := schemas.Decode(rec.Schema(), rec.Value)
		if err != nil {
			return n, fmt.Errorf("cannot decode %s:%d: %w", rec.Path, rec.Line, err)
		}
		if err := sink.Write(ctx, ev); err != nil {
			return n, fmt.Errorf("cannot copy %s:%d: %w", rec.Path, rec.Line, err)
		}
		n++
	}
	return n, nil
}
