// Package testenv gives tests of any package the real components they need:
// a ClickHouse 18.16 server on loopback (Debian's clickhouse-server, started
// by scripts/clickhouse-server.sh) and chDB data directories.
//
// A package whose tests use the server calls Main from its TestMain, so the
// server this process started is stopped when the tests end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Missing components fail the test with the command that installs them:
// a skipped test would hide a defect.
//
// This package must not import chdb-go: a binary that does panics at start
// when libchdb.so is missing, before any test could explain why.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// EnvClickHouseDSN names the environment variable that points the tests at
// a running ClickHouse server instead of starting one, e.g.
// clickhouse://default@127.0.0.1:19000/default.
const EnvClickHouseDSN = "PREFLIGHT_TEST_CLICKHOUSE_DSN"

// InstallServerCommand installs the ClickHouse server the tests use.
const InstallServerCommand = "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client"

// InstallChDBCommand installs libchdb.so.
const InstallChDBCommand = "scripts/install-chdb.sh (or set CHDB_LIB_PATH to an existing libchdb.so)"

const modulePath = "github.com/preflight-hq/preflight"

var (
	serverOnce sync.Once
	serverDSN  string
	serverErr  error

	chdbOnce sync.Once
	chdbDir  string
	chdbErr  error

	cleanupMu sync.Mutex
	cleanups  []func()
)

// Main runs the tests of a package and then stops what testenv started for
// them (the ClickHouse server, temporary directories). Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops what testenv started in this process. Main calls it; a
// TestMain that needs to do more after m.Run can call it directly.
func Shutdown() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func atExit(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

// ModuleRoot returns the root directory of the preflight module, found by
// walking up from the working directory (a package's directory under go
// test).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modFileIs(b, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find the module root: no go.mod of %s above the working directory", modulePath)
		}
		dir = parent
	}
}

func modFileIs(b []byte, module string) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "module" {
			return f[1] == module
		}
	}
	return false
}

// ServerBinary returns the path of Debian's clickhouse-server, or an error
// that names the command installing it.
func ServerBinary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("clickhouse-server is not installed; install it with `%s`, or set %s to the DSN of a running server", InstallServerCommand, EnvClickHouseDSN)
}

// ClickHouseDSN returns the DSN of the ClickHouse server the tests use: the
// one in $PREFLIGHT_TEST_CLICKHOUSE_DSN, or else a server this process
// starts once, on free loopback ports with a throwaway data directory, and
// stops in Main. The DSN names the database "default"; use NewDatabase for
// a database of the test's own.
func ClickHouseDSN(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverDSN, serverErr = startServer() })
	if serverErr != nil {
		t.Fatalf("no ClickHouse server for the tests: %v", serverErr)
	}
	return serverDSN
}

func startServer() (string, error) {
	if dsn := os.Getenv(EnvClickHouseDSN); dsn != "" {
		return dsn, nil
	}
	srv, err := newServer()
	if err != nil {
		return "", err
	}
	if err := srv.Start(); err != nil {
		srv.remove()
		return "", err
	}
	atExit(srv.remove)
	return srv.DSN(), nil
}

// Server is a ClickHouse server of its own, for tests that stop and restart
// it. Its data survives Stop and Start.
type Server struct {
	script, state string
	env           []string
	dsn           string
}

// StartServer starts a ClickHouse server for this test alone, on free
// loopback ports, and removes it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	srv, err := newServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.remove)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	return srv
}

func newServer() (*Server, error) {
	if _, err := ServerBinary(); err != nil {
		return nil, err
	}
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	state, err := os.MkdirTemp("", "preflight-ch-")
	if err != nil {
		return nil, fmt.Errorf("cannot create the server's state dir: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		os.RemoveAll(state)
		return nil, err
	}
	return &Server{
		script: filepath.Join(root, "scripts", "clickhouse-server.sh"),
		state:  state,
		env: append(os.Environ(),
			"PREFLIGHT_STATE="+state,
			"PREFLIGHT_CH_PORT="+strconv.Itoa(ports[0]),
			"PREFLIGHT_CH_HTTP_PORT="+strconv.Itoa(ports[1]),
			"PREFLIGHT_CH_OWNER_PID="+strconv.Itoa(os.Getpid()),
			"PREFLIGHT_CH_EPHEMERAL=1",
		),
	}, nil
}

func (s *Server) run(arg string) (string, error) {
	cmd := exec.Command("bash", s.script, arg)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s failed: %w\n%s", s.script, arg, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() error {
	out, err := s.run("start")
	if err != nil {
		return err
	}
	lines := strings.Split(out, "\n")
	dsn := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(dsn, "clickhouse://") {
		return fmt.Errorf("%s start printed %q, want a clickhouse:// DSN", s.script, out)
	}
	s.dsn = dsn
	return nil
}

// Stop stops the server and waits for it to exit; its data stays.
func (s *Server) Stop() error {
	_, err := s.run("stop")
	return err
}

// DSN returns the server's DSN (database "default").
func (s *Server) DSN() string { return s.dsn }

func (s *Server) remove() {
	s.run("stop")
	os.RemoveAll(s.state)
}

// freePorts returns n distinct loopback ports free at the time of the call.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cannot find a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// UniqueName returns prefix followed by 12 random hex digits, a valid
// database name.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// NewDatabase returns the DSN of a database of the test's own on the test
// server (ClickHouseDSN), named test_<random>. The database is created by
// the warehouse when it opens the DSN; it is dropped when the test ends,
// unless the test failed, so that its data can be inspected.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := ClickHouseDSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("cannot parse the test ClickHouse DSN: %v", err)
	}
	name := UniqueName("test_")
	u.Path = "/" + name
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keeping ClickHouse database %s of the failed test", name)
			return
		}
		if err := dropDatabase(u, name); err != nil {
			t.Logf("cannot drop test database %s: %v", name, err)
		}
	})
	return u.String()
}

// dropDatabase drops a test database on the server of u.
func dropDatabase(u *url.URL, name string) error {
	pass, _ := u.User.Password()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{u.Host},
		Auth:        clickhouse.Auth{Username: u.User.Username(), Password: pass},
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
}

// ChDBLibrary returns the libchdb.so that chdb-go will load: $CHDB_LIB_PATH
// when set, else /usr/local/lib/libchdb.so. It is an error when the file is
// missing.
func ChDBLibrary() (string, error) {
	p := os.Getenv("CHDB_LIB_PATH")
	if p == "" {
		p = "/usr/local/lib/libchdb.so"
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("libchdb.so is not installed (looked for %s): run %s", p, InstallChDBCommand)
	}
	if st.IsDir() {
		return "", fmt.Errorf("libchdb.so path %s is a directory: set CHDB_LIB_PATH to the file itself", p)
	}
	return p, nil
}

// ChDBDSN returns a chdb:// DSN for the test: a data directory shared by
// the whole test process (chDB allows one per process), removed in Main, and
// a database of the test's own, test_<random>. It fails the test when
// libchdb.so is missing.
func ChDBDSN(t testing.TB) string {
	t.Helper()
	if _, err := ChDBLibrary(); err != nil {
		t.Fatal(err)
	}
	chdbOnce.Do(func() {
		chdbDir, chdbErr = os.MkdirTemp("", "preflight-chdb-")
		if chdbErr == nil {
			dir := chdbDir
			atExit(func() { os.RemoveAll(dir) })
		}
	})
	if chdbErr != nil {
		t.Fatalf("cannot create the chDB data directory: %v", chdbErr)
	}
	return (&url.URL{Scheme: "chdb", Path: chdbDir, RawQuery: "database=" + UniqueName("test_")}).String()
}
