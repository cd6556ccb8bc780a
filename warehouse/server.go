package warehouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

func init() { Register("clickhouse", openServer) }

// ServerConfig is a parsed clickhouse:// DSN. It never holds the password
// in a form that String prints.
type ServerConfig struct {
	// Addr is host:port of the native protocol (port 9000, or 9440 with TLS,
	// when the DSN names none).
	Addr string
	// User is the ClickHouse user, "default" when the DSN names none.
	User string
	// Password is the user's password: Options.Password when set, else the
	// DSN's.
	Password string
	// Database holds Preflight's tables, "default" when the DSN names none.
	Database string
	// TLS is nil for a plain connection.
	TLS *tls.Config
	// DialTimeout bounds connecting, 10s unless the DSN sets dial_timeout.
	DialTimeout time.Duration
	// Compress turns on LZ4 compression of blocks (on unless compress=false).
	Compress bool
}

// String describes the configuration without the password.
func (c ServerConfig) String() string {
	s := "clickhouse://" + c.User + "@" + c.Addr + "/" + c.Database
	if c.TLS != nil {
		s += "?secure=true"
	}
	return s
}

// ParseServerDSN parses clickhouse://user[:pass]@host[:port][/db] with the
// query parameters secure, skip_verify, ca_file, dial_timeout and compress.
// A non-empty opts.Password overrides the DSN's password. Unknown
// parameters are an error, so that a misspelt one is not silently ignored.
func ParseServerDSN(u *url.URL, opts Options) (ServerConfig, error) {
	c := ServerConfig{User: "default", Database: "default", DialTimeout: 10 * time.Second, Compress: true}
	if u.Scheme != "clickhouse" {
		return c, fmt.Errorf("cannot use DSN scheme %q for the ClickHouse server backend: want clickhouse://", u.Scheme)
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			c.User = name
		}
		c.Password, _ = u.User.Password()
	}
	if opts.Password != "" {
		c.Password = opts.Password
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		c.Database = db
	}
	if !ValidDatabaseName(c.Database) {
		return c, fmt.Errorf("cannot use database %q from the ClickHouse DSN: want letters, digits and underscores", c.Database)
	}
	host := u.Hostname()
	if host == "" {
		return c, errors.New("cannot use the ClickHouse DSN: it names no host (want clickhouse://user@host:9000/db)")
	}
	var secure, skipVerify bool
	var caFile string
	for key, vals := range u.Query() {
		val := vals[len(vals)-1]
		var err error
		switch key {
		case "secure":
			secure, err = strconv.ParseBool(val)
		case "skip_verify":
			skipVerify, err = strconv.ParseBool(val)
		case "ca_file":
			caFile = val
		case "dial_timeout":
			c.DialTimeout, err = time.ParseDuration(val)
		case "compress":
			c.Compress, err = strconv.ParseBool(val)
		default:
			return c, fmt.Errorf("cannot use the ClickHouse DSN: unknown parameter %q (known: secure, skip_verify, ca_file, dial_timeout, compress)", key)
		}
		if err != nil {
			return c, fmt.Errorf("cannot use the ClickHouse DSN parameter %s=%q: %w", key, val, err)
		}
	}
	port := u.Port()
	if port == "" {
		port = "9000"
		if secure {
			port = "9440"
		}
	}
	c.Addr = net.JoinHostPort(host, port)
	if secure {
		c.TLS = &tls.Config{ServerName: host, InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return c, fmt.Errorf("cannot read the CA file of the ClickHouse DSN: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return c, fmt.Errorf("cannot use CA file %s: it holds no PEM certificate", caFile)
			}
			c.TLS.RootCAs = pool
		}
	} else if skipVerify || caFile != "" {
		return c, errors.New("cannot use the ClickHouse DSN: skip_verify and ca_file need secure=true")
	}
	return c, nil
}

// openServer is the Opener of the clickhouse scheme.
func openServer(ctx context.Context, u *url.URL, opts Options) (Warehouse, error) {
	cfg, err := ParseServerDSN(u, opts)
	if err != nil {
		return nil, err
	}
	return OpenServer(ctx, cfg)
}

// OpenServer connects to a ClickHouse server over the native protocol and
// returns its Warehouse, creating the database when it is missing. It does
// not migrate.
func OpenServer(ctx context.Context, cfg ServerConfig) (Warehouse, error) {
	o := &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		// The connection uses the user's default database: the one we
		// want may not exist yet, and every statement names its tables
		// with the database anyway.
		Auth:            clickhouse.Auth{Username: cfg.User, Password: cfg.Password},
		TLS:             cfg.TLS,
		DialTimeout:     cfg.DialTimeout,
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: time.Hour,
		ClientInfo: clickhouse.ClientInfo{Products: []struct {
			Name    string
			Version string
		}{{Name: "preflight", Version: "1"}}},
	}
	if cfg.Compress {
		o.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("cannot open ClickHouse at %s: %w", cfg, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot reach ClickHouse at %s: %w", cfg, err)
	}
	w, err := FromEngine(ctx, &serverEngine{conn: conn}, cfg.Database, "clickhouse")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("cannot open ClickHouse at %s: %w", cfg, err)
	}
	return w, nil
}

// serverEngine is the Engine of a ClickHouse server.
type serverEngine struct {
	conn chdriver.Conn
}

// Exec implements Engine.
func (e *serverEngine) Exec(ctx context.Context, query string) error {
	return e.conn.Exec(ctx, query)
}

// Query implements Engine.
func (e *serverEngine) Query(ctx context.Context, query string) (Rows, error) {
	return e.conn.Query(ctx, query)
}

// InsertRows implements Engine with one clickhouse-go batch, one typed
// column at a time (clickhouse-go copies a typed slice without the per-value
// reflection of appending row by row). The statement names its columns,
// which ClickHouse 18.16 requires of batch inserts.
func (e *serverEngine) InsertRows(ctx context.Context, insert string, b *Block) error {
	if err := b.Check(); err != nil {
		return err
	}
	batch, err := e.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return fmt.Errorf("cannot prepare the insert: %w", err)
	}
	defer batch.Abort() // no-op once sent
	for c, col := range b.Data {
		if err := batch.Column(c).Append(col); err != nil {
			return fmt.Errorf("cannot append column %s to the insert: %w", b.Columns[c], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot send the insert: %w", err)
	}
	return nil
}

// QueryWithIDs implements IDQuerier with clickhouse-go's external tables.
func (e *serverEngine) QueryWithIDs(ctx context.Context, query, table string, ids []string) (Rows, error) {
	t, err := ext.NewTable(table, ext.Column("id", "String"))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := t.Append(id); err != nil {
			return nil, err
		}
	}
	return e.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), query)
}

// Close implements Engine.
func (e *serverEngine) Close() error { return e.conn.Close() }

// ExceptionCoder is implemented by errors that carry a ClickHouse exception
// code, such as those of the embedded backend.
type ExceptionCoder interface {
	ExceptionCode() int32
}

// ExceptionCode returns the ClickHouse exception code in err's chain, from
// the server (clickhouse-go's *clickhouse.Exception) or from an error that
// implements ExceptionCoder.
func ExceptionCode(err error) (int32, bool) {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code, true
	}
	var c ExceptionCoder
	if errors.As(err, &c) {
		return c.ExceptionCode(), true
	}
	return 0, false
}

// retriableCodes are the ClickHouse exception codes worth retrying, from the
// clickhouse-kafka-connect sink: 3 UNEXPECTED_END_OF_FILE, 159 TIMEOUT_EXCEEDED,
// 164 READONLY, 202 TOO_MANY_SIMULTANEOUS_QUERIES, 203 NO_FREE_CONNECTION,
// 209 SOCKET_TIMEOUT, 210 NETWORK_ERROR, 242 TABLE_IS_READ_ONLY,
// 252 TOO_MANY_PARTS, 285 TOO_FEW_LIVE_REPLICAS, 319 UNKNOWN_STATUS_OF_INSERT,
// 425 SYSTEM_ERROR, 999 KEEPER_EXCEPTION, 1002 UNKNOWN_EXCEPTION.
var retriableCodes = map[int32]bool{
	3: true, 159: true, 164: true, 202: true, 203: true, 209: true, 210: true, 242: true,
	252: true, 285: true, 319: true, 425: true, 999: true, 1002: true,
}

// IsRetriable reports whether the operation that returned err may succeed
// if tried again unchanged: network failures (refused, reset or broken
// connections, timeouts, an unexpected end of stream, no free connection in
// the pool) and ClickHouse exceptions whose codes mean overload or a
// transient failure (the clickhouse-kafka-connect retry list). A cancelled
// context and every other error, such as bad SQL or a type mismatch, are
// not retriable. Retrying an Insert is always safe: its duplicate check
// skips the rows a failed attempt may have stored.
func IsRetriable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if code, ok := ExceptionCode(err); ok {
		return retriableCodes[code]
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	return false
}
