package eventsink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/schemas"
)

func TestFilesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "events")
	// A stale file from an earlier run must not survive NewFiles.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "outcome.jsonl"), []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	evs := makeEvents(50)
	want := map[schemas.Type][][]byte{}
	for _, ev := range evs {
		if err := s.Write(ctx, ev); err != nil {
			t.Fatal(err)
		}
		want[ev.Type()] = append(want[ev.Type()], mustEncode(t, ev))
	}
	if got := s.Counts()[schemas.TypeExposure]; got != 50 {
		t.Errorf("Counts()[exposure] = %d, want 50", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Write(ctx, evs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}

	got := map[schemas.Type][][]byte{}
	var order []schemas.Type
	for rec, err := range ReadFiles(dir) {
		if err != nil {
			t.Fatal(err)
		}
		if len(order) == 0 || order[len(order)-1] != rec.Type {
			order = append(order, rec.Type)
		}
		if _, err := schemas.Decode(rec.Schema(), rec.Value); err != nil {
			t.Errorf("%s:%d does not decode: %v", rec.Path, rec.Line, err)
		}
		got[rec.Type] = append(got[rec.Type], rec.Value)
	}
	wantOrder := []schemas.Type{schemas.TypeSegment, schemas.TypeIntervention, schemas.TypeEntity, schemas.TypeExposure, schemas.TypeOutcome}
	if len(order) != len(wantOrder) {
		t.Fatalf("types read in order %v, want %v", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("types read in order %v, want %v", order, wantOrder)
		}
	}
	for typ, lines := range want {
		if len(got[typ]) != len(lines) {
			t.Fatalf("%s: read %d lines, want %d", typ, len(got[typ]), len(lines))
		}
		for i := range lines {
			if !bytes.Equal(got[typ][i], lines[i]) {
				t.Fatalf("%s line %d = %s, want %s", typ, i+1, got[typ][i], lines[i])
			}
		}
	}
}

func TestReadFilesMissingDirAndStop(t *testing.T) {
	n := 0
	for _, err := range ReadFiles(filepath.Join(t.TempDir(), "nothing")) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 0 {
		t.Errorf("read %d records from a missing directory, want 0", n)
	}

	dir := t.TempDir()
	s, err := NewFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range makeEvents(10) {
		if err := s.Write(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	n = 0
	for range ReadFiles(dir) {
		n++
		if n == 3 {
			break // the iterator must honour an early stop
		}
	}
	if n != 3 {
		t.Errorf("stopped after %d records, want 3", n)
	}
}

func TestMemoryAndFunc(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	var count int
	f := Func(func(context.Context, schemas.Event) error { count++; return nil })
	evs := makeEvents(3)
	for _, ev := range evs {
		if err := m.Write(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := f.Write(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != len(evs) || count != len(evs) {
		t.Errorf("Memory.Len() = %d, Func count = %d, want %d", m.Len(), count, len(evs))
	}
	if got := m.Events()[2]; got != evs[2] {
		t.Errorf("Events()[2] = %v, want %v", got, evs[2])
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(ctx, evs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := NewMemory().Write(cctx, evs[0]); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestCopyFiles(t *testing.T) {
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	s, err := NewFiles(src)
	if err != nil {
		t.Fatal(err)
	}
	evs := makeEvents(30)
	for _, ev := range evs {
		if err := s.Write(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := NewFiles(dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := CopyFiles(ctx, src, d)
	if err != nil || n != int64(len(evs)) {
		t.Fatalf("CopyFiles = %d, %v, want %d, nil", n, err, len(evs))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range schemas.Types {
		a, _ := os.ReadFile(filepath.Join(src, FileName(typ)))
		b, _ := os.ReadFile(filepath.Join(dst, FileName(typ)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: copy differs from the original", typ)
		}
	}

	// A bad line is reported with its file and line.
	bad := filepath.Join(src, FileName(schemas.TypeOutcome))
	if err := os.WriteFile(bad, []byte(`{"event_id":"x"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CopyFiles(ctx, src, NewMemory())
	if err == nil || !strings.Contains(err.Error(), "outcome.jsonl:1") {
		t.Errorf("CopyFiles of a bad line = %v, want an error naming outcome.jsonl:1", err)
	}
}
