// Package embedded is the chDB backend of package warehouse: ClickHouse's
// engine in-process, loaded from libchdb.so by chdb-go through purego, with
// no server to run. Importing it registers the DSN scheme
//
//	chdb:///absolute/path?database=name
//
// The path is the chDB data directory (created when missing); the database
// defaults to "default".
//
// chdb-go opens libchdb.so when this package is initialized and panics when
// it cannot: it looks at $CHDB_LIB_PATH, then /usr/local/lib/libchdb.so.
// scripts/install-chdb.sh installs the library.
//
// chDB runs one session per process. Every Warehouse opened here shares it:
// opening a second data directory while the first is open is an error, and
// distinct databases in one directory are the way to keep data apart. The
// session is closed when the last Warehouse using it is closed. Queries are
// serialized; chDB cannot cancel a running query, so a context is only
// checked before each one starts.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"github.com/chdb-io/chdb-go/chdb"

	"github.com/preflight-hq/preflight/warehouse"
)

func init() { warehouse.Register("chdb", openDSN) }

// Config is a parsed chdb:// DSN.
type Config struct {
	// Path is the absolute chDB data directory.
	Path string
	// Database holds Preflight's tables.
	Database string
}

// ParseDSN parses chdb:///absolute/path?database=name.
func ParseDSN(u *url.URL) (Config, error) {
	c := Config{Database: "default"}
	if u.Scheme != "chdb" {
		return c, fmt.Errorf("cannot use DSN scheme %q for the embedded backend: want chdb:///path?database=name", u.Scheme)
	}
	if u.Host != "" || u.Opaque != "" {
		return c, fmt.Errorf("cannot use chdb DSN %q: the path must be absolute, as in chdb:///var/lib/preflight/chdb", u.Redacted())
	}
	if u.Path == "" || !filepath.IsAbs(u.Path) {
		return c, fmt.Errorf("cannot use chdb DSN %q: it names no absolute data directory (want chdb:///var/lib/preflight/chdb)", u.Redacted())
	}
	c.Path = filepath.Clean(u.Path)
	for key, vals := range u.Query() {
		switch key {
		case "database":
			c.Database = vals[len(vals)-1]
		default:
			return c, fmt.Errorf("cannot use chdb DSN: unknown parameter %q (known: database)", key)
		}
	}
	if !warehouse.ValidDatabaseName(c.Database) {
		return c, fmt.Errorf("cannot use database %q from the chdb DSN: want letters, digits and underscores", c.Database)
	}
	return c, nil
}

func openDSN(ctx context.Context, u *url.URL, _ warehouse.Options) (warehouse.Warehouse, error) {
	c, err := ParseDSN(u)
	if err != nil {
		return nil, err
	}
	return Open(ctx, c)
}

// Open returns the Warehouse of database c.Database in the chDB data
// directory c.Path, starting the process's chDB session on first use and
// creating the database when it is missing. It does not migrate.
func Open(ctx context.Context, c Config) (warehouse.Warehouse, error) {
	e, err := acquire(c.Path)
	if err != nil {
		return nil, err
	}
	w, err := warehouse.FromEngine(ctx, e, c.Database, "chdb")
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("cannot open chDB database %s in %s: %w", c.Database, c.Path, err)
	}
	return w, nil
}

// session is the process's one chDB session. mu serializes its queries as
// well as opening and closing it.
var session struct {
	mu   sync.Mutex
	s    *chdb.Session
	path string
	refs int
}

// acquire returns an engine on the session of path, starting it if needed.
func acquire(path string) (*engine, error) {
	session.mu.Lock()
	defer session.mu.Unlock()
	if session.s != nil {
		if session.path != path {
			return nil, fmt.Errorf("cannot open chDB data directory %s: this process already uses %s, and chDB allows one session per process (use another database= in the same directory instead)", path, session.path)
		}
		session.refs++
		return &engine{}, nil
	}
	s, err := chdb.NewSession(path)
	if err != nil {
		return nil, fmt.Errorf("cannot start chDB in %s: %w", path, err)
	}
	session.s, session.path, session.refs = s, path, 1
	return &engine{}, nil
}

// engine implements warehouse.Engine on the shared session.
type engine struct {
	closeOnce sync.Once
	closed    bool // guarded by session.mu
}

// run executes one query and returns its output in format.
func (e *engine) run(ctx context.Context, query, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	session.mu.Lock()
	defer session.mu.Unlock()
	if e.closed || session.s == nil {
		return nil, errors.New("the chDB warehouse is closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := session.s.Query(query, format)
	if err != nil {
		return nil, newError(err)
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, newError(err)
	}
	// Buf points into chDB's memory, freed above: copy it out.
	return append([]byte(nil), res.Buf()...), nil
}

// Exec implements warehouse.Engine.
func (e *engine) Exec(ctx context.Context, query string) error {
	_, err := e.run(ctx, query, "TabSeparated")
	return err
}

// Query implements warehouse.Engine, reading the result as
// JSONCompactEachRow.
func (e *engine) Query(ctx context.Context, query string) (warehouse.Rows, error) {
	out, err := e.run(ctx, query, "JSONCompactEachRow")
	if err != nil {
		return nil, err
	}
	return newRows(out), nil
}

// maxInsertBytes bounds the text of one insert statement. chDB takes the
// rows inline after FORMAT, and parses them as a stream rather than as
// query text, so max_query_size does not apply; the bound only keeps the
// copies of the text (Go, C, the engine) moderate for very large calls.
const maxInsertBytes = 64 << 20

// InsertRows implements warehouse.Engine with INSERT ... FORMAT JSONEachRow
// and the rows inline, in statements of at most maxInsertBytes.
func (e *engine) InsertRows(ctx context.Context, insert string, blk *warehouse.Block) error {
	if err := blk.Check(); err != nil {
		return err
	}
	n := blk.Len()
	head := insert + " FORMAT JSONEachRow\n"
	buf := make([]byte, 0, len(head)+n*256)
	buf = append(buf, head...)
	pending := 0
	for i := range n {
		var err error
		if buf, err = appendJSONRow(buf, blk, i); err != nil {
			return fmt.Errorf("cannot encode row %d of the insert: %w", i, err)
		}
		pending++
		if len(buf) >= maxInsertBytes {
			if _, err := e.run(ctx, string(buf), "TabSeparated"); err != nil {
				return fmt.Errorf("cannot insert rows %d to %d: %w", i+1-pending, i, err)
			}
			buf, pending = append(buf[:0], head...), 0
		}
	}
	if pending > 0 {
		if _, err := e.run(ctx, string(buf), "TabSeparated"); err != nil {
			return fmt.Errorf("cannot insert the last %d rows: %w", pending, err)
		}
	}
	return nil
}

// Close releases this engine's hold on the session and closes the session
// when no other Warehouse uses it.
func (e *engine) Close() error {
	e.closeOnce.Do(func() {
		session.mu.Lock()
		defer session.mu.Unlock()
		e.closed = true
		session.refs--
		if session.refs == 0 && session.s != nil {
			session.s.Close()
			session.s, session.path = nil, ""
		}
	})
	return nil
}

// Error is an error reported by chDB, with the ClickHouse exception code
// parsed from its message (0 when the message has none).
type Error struct {
	// Code is the ClickHouse exception code, e.g. 81 for UNKNOWN_DATABASE.
	Code int32
	// Message is chDB's message.
	Message string
}

// Error returns chDB's message.
func (e *Error) Error() string { return "chdb: " + e.Message }

// ExceptionCode implements warehouse.ExceptionCoder, so that
// warehouse.IsRetriable classifies chDB errors like server ones.
func (e *Error) ExceptionCode() int32 { return e.Code }

var codeRE = regexp.MustCompile(`Code: (\d+)\.`)

func newError(err error) error {
	msg := err.Error()
	e := &Error{Message: msg}
	if m := codeRE.FindStringSubmatch(msg); m != nil {
		if n, perr := strconv.ParseInt(m[1], 10, 32); perr == nil {
			e.Code = int32(n)
		}
	}
	return e
}
