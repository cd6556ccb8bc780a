package testenv

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, dsn string) clickhouse.Conn {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{u.Host}, Auth: clickhouse.Auth{Username: u.User.Username()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func databaseExists(t *testing.T, conn clickhouse.Conn, name string) bool {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.databases WHERE name = '"+name+"'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestClickHouseDSN(t *testing.T) {
	dsn := ClickHouseDSN(t)
	if again := ClickHouseDSN(t); again != dsn {
		t.Errorf("second ClickHouseDSN = %q, want the same server %q", again, dsn)
	}
	conn := connect(t, dsn)
	ctx := context.Background()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("Ping %s: %v", dsn, err)
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s at %s", version, dsn)
	if os.Getenv(EnvClickHouseDSN) == "" && !strings.HasPrefix(version, "18.16") {
		t.Errorf("the started server is %s, want Debian's 18.16", version)
	}
}

func TestNewDatabase(t *testing.T) {
	conn := connect(t, ClickHouseDSN(t))
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn := NewDatabase(t)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
		if !strings.HasPrefix(name, "test_") || len(name) != len("test_")+12 {
			t.Fatalf("NewDatabase DSN %s: database %q, want test_<12 hex digits>", dsn, name)
		}
		if err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
	})
	if databaseExists(t, conn, name) {
		t.Errorf("database %s of a passed test was not dropped", name)
	}
}

func TestChDBDSN(t *testing.T) {
	a, b := ChDBDSN(t), ChDBDSN(t)
	ua, err := url.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	ub, _ := url.Parse(b)
	if ua.Scheme != "chdb" || ua.Host != "" || !filepath.IsAbs(ua.Path) {
		t.Errorf("ChDBDSN = %s, want chdb:///absolute/path?database=...", a)
	}
	if ua.Path != ub.Path {
		t.Errorf("two ChDBDSN calls use %s and %s; want one directory per process", ua.Path, ub.Path)
	}
	if ua.Query().Get("database") == ub.Query().Get("database") {
		t.Errorf("two ChDBDSN calls share database %s", ua.Query().Get("database"))
	}
	if st, err := os.Stat(ua.Path); err != nil || !st.IsDir() {
		t.Errorf("the chDB directory %s does not exist: %v", ua.Path, err)
	}
}

func TestChDBLibraryMissing(t *testing.T) {
	t.Setenv("CHDB_LIB_PATH", filepath.Join(t.TempDir(), "nope.so"))
	_, err := ChDBLibrary()
	if err == nil || !strings.Contains(err.Error(), "install-chdb.sh") {
		t.Errorf("ChDBLibrary with a missing file: %v, want an error naming scripts/install-chdb.sh", err)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "clickhouse-server.sh")); err != nil {
		t.Errorf("module root %s has no scripts/clickhouse-server.sh: %v", root, err)
	}
}

// TestServerScriptWatchdog starts a second server owned by a short-lived
// process and expects the script's watchdog to stop it, and remove its
// state, once the owner has exited.
func TestServerScriptWatchdog(t *testing.T) {
	if _, err := ServerBinary(); err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	owner := exec.Command("sleep", "3")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Wait()
	state := filepath.Join(t.TempDir(), "state")
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "clickhouse-server.sh"), "start")
	cmd.Env = append(os.Environ(),
		"PREFLIGHT_STATE="+state,
		"PREFLIGHT_CH_PORT="+strconv.Itoa(ports[0]),
		"PREFLIGHT_CH_HTTP_PORT="+strconv.Itoa(ports[1]),
		"PREFLIGHT_CH_OWNER_PID="+strconv.Itoa(owner.Process.Pid),
		"PREFLIGHT_CH_EPHEMERAL=1",
	)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clickhouse-server.sh start: %v\n%s", err, out)
	}
	dsn := strings.TrimSpace(string(out))
	if want := "clickhouse://default@127.0.0.1:" + strconv.Itoa(ports[0]) + "/default"; dsn != want {
		t.Errorf("start printed %q, want %q", dsn, want)
	}
	pidText, err := os.ReadFile(filepath.Join(state, "clickhouse-server.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	alive := func() bool { return exec.Command("kill", "-0", strconv.Itoa(pid)).Run() == nil }
	if !alive() {
		t.Fatal("the server is not running after start")
	}
	owner.Wait()
	deadline := time.Now().Add(45 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
			t.Fatal("the server outlived its owner by 45s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The watchdog removes the state dir right after the server exits.
	for time.Now().Before(deadline) {
		if _, err := os.Stat(state); os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the watchdog left the state dir %s", state)
}
