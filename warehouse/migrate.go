package warehouse

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the versioned migrations, NNNN_name.sql. A file may
// hold several statements separated by ";". Every statement must be
// idempotent (CREATE ... IF NOT EXISTS): a process that dies between a
// statement and the record of its migration runs it again. "{db}" stands
// for the quoted database name.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change.
type Migration struct {
	// Version is the file's number, e.g. 2 for 0002_raw_tables.sql.
	Version uint32
	// Name is the rest of the file name, e.g. "raw_tables".
	Name string
	// Statements are the file's statements, comments removed, with "{db}"
	// still in place.
	Statements []string
}

var migrationNameRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order. The first
// one creates the schema_migrations table that records the others.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("cannot list the embedded migrations: %w", err)
	}
	var out []Migration
	for _, name := range names {
		m := migrationNameRE.FindStringSubmatch(path.Base(name))
		if m == nil {
			return nil, fmt.Errorf("cannot read migration %s: want a name like 0001_create_things.sql", name)
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %s: %w", name, err)
		}
		stmts, err := SplitStatements(string(body))
		if err != nil {
			return nil, fmt.Errorf("cannot parse migration %s: %w", name, err)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("cannot use migration %s: it holds no statement", name)
		}
		out = append(out, Migration{Version: uint32(v), Name: m[2], Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("cannot use the migrations: version %04d appears twice", out[i].Version)
		}
	}
	return out, nil
}

// SplitStatements splits SQL text on the semicolons that end statements. It
// removes comments (-- to the end of the line and /* ... */), keeps
// semicolons inside quoted strings and identifiers ('...', "...", `...`,
// with backslash escapes and doubled quotes), trims each statement and
// drops empty ones.
func SplitStatements(sql string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment at byte %d", i)
			}
			i += 2 + end + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == '\\' {
					j++
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(sql) {
				return nil, fmt.Errorf("unterminated %c quote at byte %d", c, i)
			}
			cur.WriteString(sql[i : j+1])
			i = j
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return stmts, nil
}

// Migrate implements Warehouse.
func (w *sqlWarehouse) Migrate(ctx context.Context) error {
	w.migrateMu.Lock()
	defer w.migrateMu.Unlock()
	ms, err := Migrations()
	if err != nil {
		return err
	}
	// The first migration creates schema_migrations itself; it is
	// idempotent, so run it before asking what was applied.
	if err := w.runMigration(ctx, ms[0]); err != nil {
		return err
	}
	applied := map[uint32]bool{}
	rows, err := w.e.Query(ctx, w.q.appliedMigrations())
	if err != nil {
		return fmt.Errorf("cannot read the applied migrations of %s: %w", w.database, err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read the applied migrations of %s: %w", w.database, err)
		}
		applied[v] = true
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("cannot read the applied migrations of %s: %w", w.database, err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if m.Version != ms[0].Version {
			if err := w.runMigration(ctx, m); err != nil {
				return err
			}
		}
		b := &Block{
			Columns: []string{"version", "name", "applied_at"},
			Data:    []any{[]uint32{m.Version}, []string{m.Name}, []time.Time{time.Now().UTC().Truncate(time.Second)}},
		}
		err := w.e.InsertRows(ctx, w.q.insert("schema_migrations", b.Columns), b)
		if err != nil {
			return fmt.Errorf("cannot record migration %04d_%s in %s: %w", m.Version, m.Name, w.database, err)
		}
	}
	return nil
}

func (w *sqlWarehouse) runMigration(ctx context.Context, m Migration) error {
	for i, s := range m.Statements {
		stmt := strings.ReplaceAll(s, "{db}", w.q.db)
		if err := w.e.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("cannot apply migration %04d_%s (statement %d) to %s: %w", m.Version, m.Name, i+1, w.database, err)
		}
	}
	return nil
}
