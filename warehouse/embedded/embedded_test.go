package embedded_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/warehouse"
	"github.com/preflight-hq/preflight/warehouse/embedded"
	"github.com/preflight-hq/preflight/warehouse/warehousetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// openChDB opens a fresh database in the process's chDB directory.
func openChDB(t testing.TB) warehouse.Warehouse {
	t.Helper()
	return warehousetest.Open(t, testenv.ChDBDSN(t))
}

func TestChDBConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse { return openChDB(t) })
}

func TestChDBBackend(t *testing.T) {
	w := openChDB(t)
	if !strings.HasPrefix(w.Backend(), "chdb 26.") {
		t.Errorf("Backend() = %q, want chdb 26.x", w.Backend())
	}
}

func TestChDBOneDirectoryPerProcess(t *testing.T) {
	w := openChDB(t) // holds the session on the shared directory
	other := filepath.Join(t.TempDir(), "other")
	_, err := warehouse.Open(context.Background(), "chdb://"+other+"?database=x", warehouse.Options{})
	if err == nil || !strings.Contains(err.Error(), "one session per process") {
		t.Errorf("Open of a second directory: %v, want an error about one session per process", err)
	}
	// Two databases in the same directory are isolated.
	w2 := openChDB(t)
	ctx := context.Background()
	for _, x := range []warehouse.Warehouse{w, w2} {
		if err := x.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Insert(ctx, "exposure", warehousetest.ExposureBatch(10, warehousetest.Day1)); err != nil {
		t.Fatal(err)
	}
	if n, err := w2.Count(ctx, "exposure"); err != nil || n != 0 {
		t.Errorf("Count in the other database = %d, %v; want 0", n, err)
	}
	// A closed warehouse refuses queries but leaves the others working.
	w3 := openChDB(t)
	w3.Close()
	if err := w3.Ping(ctx); err == nil {
		t.Error("Ping of a closed warehouse: no error")
	}
	if err := w.Ping(ctx); err != nil {
		t.Errorf("Ping after closing another warehouse: %v", err)
	}
}

func TestChDBReopenAfterClose(t *testing.T) {
	// With every warehouse closed, the session ends and another directory
	// may be opened.
	dir := filepath.Join(t.TempDir(), "solo")
	ctx := context.Background()
	w, err := embedded.Open(ctx, embedded.Config{Path: dir, Database: "solo"})
	if err != nil {
		// Another test still holds the shared directory open (tests of this
		// package run sequentially, so this means a leak).
		t.Fatalf("Open of a new directory after the other tests closed theirs: %v", err)
	}
	defer w.Close()
	if err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestParseDSN(t *testing.T) {
	for dsn, want := range map[string]embedded.Config{
		"chdb:///var/lib/p/chdb?database=prod": {Path: "/var/lib/p/chdb", Database: "prod"},
		"chdb:///var/lib/p/chdb/":              {Path: "/var/lib/p/chdb", Database: "default"},
	} {
		u, _ := url.Parse(dsn)
		got, err := embedded.ParseDSN(u)
		if err != nil || got != want {
			t.Errorf("ParseDSN(%q) = %+v, %v; want %+v", dsn, got, err, want)
		}
	}
	for _, bad := range []string{"chdb://relative/path", "chdb:relative", "chdb:///p?database=bad-name", "chdb:///p?db=x", "chdb://"} {
		u, _ := url.Parse(bad)
		if _, err := embedded.ParseDSN(u); err == nil {
			t.Errorf("ParseDSN(%q): no error", bad)
		}
	}
}

func TestChDBErrorsCarryCodes(t *testing.T) {
	w := openChDB(t)
	ctx := context.Background()
	// Count before Migrate: the table is missing (UNKNOWN_TABLE, 60).
	_, err := w.Count(ctx, "exposure")
	var e *embedded.Error
	if !errors.As(err, &e) || e.Code != 60 {
		t.Fatalf("Count without tables: %v, want a chdb error with code 60", err)
	}
	if code, ok := warehouse.ExceptionCode(err); !ok || code != 60 {
		t.Errorf("ExceptionCode = %d, %v; want 60", code, ok)
	}
	if warehouse.IsRetriable(err) {
		t.Error("IsRetriable(unknown table) = true")
	}
	if !warehouse.IsRetriable(&embedded.Error{Code: 252, Message: "Too many parts"}) {
		t.Error("IsRetriable(TOO_MANY_PARTS) = false")
	}
}

func TestChDBLargeInsert(t *testing.T) {
	w := openChDB(t)
	ctx := context.Background()
	if err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 50000
	res, err := w.Insert(ctx, "exposure", warehousetest.ExposureBatch(n, warehousetest.Day1))
	if err != nil || res.Inserted != n {
		t.Fatalf("Insert of %d rows: %+v, %v", n, res, err)
	}
	if c, err := w.Count(ctx, "exposure"); err != nil || c != n {
		t.Errorf("Count = %d, %v; want %d", c, err, n)
	}
}

func BenchmarkInsert(b *testing.B) {
	w := openChDB(b)
	if err := w.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	warehousetest.BenchmarkInsert(b, w, 10000)
}
