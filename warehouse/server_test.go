package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/warehouse"
	"github.com/preflight-hq/preflight/warehouse/warehousetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// openServer opens a fresh database on the test server.
func openServer(t testing.TB) warehouse.Warehouse {
	t.Helper()
	return warehousetest.Open(t, testenv.NewDatabase(t))
}

func TestServerConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse { return openServer(t) })
}

func TestServerBackendIs1816(t *testing.T) {
	w := openServer(t)
	if !strings.HasPrefix(w.Backend(), "clickhouse ") {
		t.Errorf("Backend() = %q, want clickhouse <version>", w.Backend())
	}
	t.Logf("server: %s", w.Backend())
}

func TestServerOpenErrors(t *testing.T) {
	ctx := context.Background()
	// Nothing listens on port 1 of loopback.
	_, err := warehouse.Open(ctx, "clickhouse://default@127.0.0.1:1/x?dial_timeout=2s", warehouse.Options{})
	if err == nil {
		t.Fatal("Open of a closed port: no error")
	}
	if !warehouse.IsRetriable(err) {
		t.Errorf("IsRetriable(%v) = false, want true for a refused connection", err)
	}
	// A wrong password is refused, and the password never shows in the error.
	base, _ := url.Parse(testenv.ClickHouseDSN(t))
	_, err = warehouse.Open(ctx, base.String(), warehouse.Options{Password: "s3cret-pw"})
	if err == nil {
		t.Fatal("Open with a wrong password: no error")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if warehouse.IsRetriable(err) {
		t.Errorf("IsRetriable(%v) = true for a refused login", err)
	}
}

func TestParseServerDSN(t *testing.T) {
	parse := func(dsn string, o warehouse.Options) (warehouse.ServerConfig, error) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return warehouse.ParseServerDSN(u, o)
	}
	c, err := parse("clickhouse://alice:pw@db.example:9001/prod", warehouse.Options{})
	if err != nil || c.Addr != "db.example:9001" || c.User != "alice" || c.Password != "pw" || c.Database != "prod" || c.TLS != nil {
		t.Errorf("plain DSN: %+v, %v", c, err)
	}
	c, err = parse("clickhouse://alice:pw@db.example/prod", warehouse.Options{Password: "from-env"})
	if err != nil || c.Password != "from-env" || c.Addr != "db.example:9000" {
		t.Errorf("Options.Password must override the DSN's: %+v, %v", c, err)
	}
	if strings.Contains(c.String(), "from-env") || strings.Contains(fmt.Sprint(c.String()), "pw") {
		t.Errorf("String() shows the password: %s", c)
	}
	c, err = parse("clickhouse://h?secure=true&skip_verify=true", warehouse.Options{})
	if err != nil || c.Addr != "h:9440" || c.TLS == nil || !c.TLS.InsecureSkipVerify || c.User != "default" || c.Database != "default" {
		t.Errorf("TLS DSN: %+v, %v", c, err)
	}
	for _, bad := range []string{
		"clickhouse:///db",                       // no host
		"clickhouse://h/bad-name",                // database name
		"clickhouse://h/db?sekure=true",          // unknown parameter
		"clickhouse://h/db?secure=maybe",         // not a bool
		"clickhouse://h/db?skip_verify=true",     // needs secure
		"clickhouse://h/db?secure=1&ca_file=/no", // missing CA file
	} {
		if _, err := parse(bad, warehouse.Options{}); err == nil {
			t.Errorf("ParseServerDSN(%q): no error", bad)
		}
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	for _, dsn := range []string{"postgres://x/y", "chdb:///tmp/x"} {
		if _, err := warehouse.Open(context.Background(), dsn, warehouse.Options{}); err == nil {
			t.Errorf("Open(%q): no error", dsn)
		}
	}
}

func TestIsRetriable(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("syntax error"), false},
		{context.Canceled, false},
		{fmt.Errorf("cannot insert: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("cannot insert: %w", &clickhouse.Exception{Code: 252, Message: "Too many parts"}), true},
		{&clickhouse.Exception{Code: 319}, true},
		{&clickhouse.Exception{Code: 62, Message: "Syntax error"}, false},
		{&clickhouse.Exception{Code: 60, Message: "Table doesn't exist"}, false},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("write: %w", syscall.EPIPE), true},
		{clickhouse.ErrAcquireConnTimeout, true},
	}
	for _, c := range cases {
		if got := warehouse.IsRetriable(c.err); got != c.want {
			t.Errorf("IsRetriable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	sql := `-- a comment; with a semicolon
CREATE TABLE a (x String DEFAULT 'a;b') ENGINE = Memory; /* block; comment */
SELECT 'it''s; fine', "we;ird", ` + "`id;x`" + `, 'back\'slash;' ;

;`
	got, err := warehouse.SplitStatements(sql)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE a (x String DEFAULT 'a;b') ENGINE = Memory",
		"SELECT 'it''s; fine', \"we;ird\", `id;x`, 'back\\'slash;'",
	}
	if len(got) != len(want) {
		t.Fatalf("SplitStatements = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
	if _, err := warehouse.SplitStatements("SELECT 'open"); err == nil {
		t.Error("SplitStatements of an unterminated quote: no error")
	}
}

func TestMigrations(t *testing.T) {
	ms, err := warehouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 || ms[0].Version != 1 || ms[0].Name != "schema_migrations" {
		t.Fatalf("Migrations() = %+v, want schema_migrations first", ms)
	}
	for i, m := range ms {
		if m.Version != uint32(i+1) {
			t.Errorf("migration %d has version %d, want consecutive versions", i, m.Version)
		}
		for _, s := range m.Statements {
			if !strings.Contains(s, "{db}.") {
				t.Errorf("migration %04d_%s: statement does not qualify its table with {db}: %.60s", m.Version, m.Name, s)
			}
			if !strings.Contains(s, "IF NOT EXISTS") {
				t.Errorf("migration %04d_%s: statement is not idempotent: %.60s", m.Version, m.Name, s)
			}
		}
	}
}

func BenchmarkInsert(b *testing.B) {
	w := openServer(b)
	if err := w.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	warehousetest.BenchmarkInsert(b, w, 10000)
}
