package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/preflight-hq/preflight/warehouse"
)

// appendJSONRow appends row i of blk as one JSONEachRow line: an object
// with one member per column. blk has passed Block.Check.
func appendJSONRow(b []byte, blk *warehouse.Block, i int) ([]byte, error) {
	b = append(b, '{')
	for c, name := range blk.Columns {
		if c > 0 {
			b = append(b, ',')
		}
		b = warehouse.AppendJSONString(b, name)
		b = append(b, ':')
		switch col := blk.Data[c].(type) {
		case []string:
			b = warehouse.AppendJSONString(b, col[i])
		case []int32:
			b = strconv.AppendInt(b, int64(col[i]), 10)
		case []int64:
			b = strconv.AppendInt(b, col[i], 10)
		case []uint32:
			b = strconv.AppendUint(b, uint64(col[i]), 10)
		case []uint64:
			b = strconv.AppendUint(b, col[i], 10)
		case []float64:
			v := col[i]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return b, fmt.Errorf("column %s: %v is not a finite number", name, v)
			}
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		case []time.Time:
			b = append(b, '"')
			b = col[i].UTC().AppendFormat(b, "2006-01-02 15:04:05")
			b = append(b, '"')
		default:
			return b, fmt.Errorf("column %s: cannot encode a %T", name, col)
		}
	}
	return append(b, '}', '\n'), nil
}

// rows iterates over JSONCompactEachRow output: one JSON array per line.
type rows struct {
	data []byte
	cur  []json.RawMessage
	err  error
}

func newRows(data []byte) *rows { return &rows{data: data} }

// Next implements warehouse.Rows.
func (r *rows) Next() bool {
	for r.err == nil && len(r.data) > 0 {
		line := r.data
		if i := bytes.IndexByte(r.data, '\n'); i >= 0 {
			line, r.data = r.data[:i], r.data[i+1:]
		} else {
			r.data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		r.cur = r.cur[:0]
		if err := json.Unmarshal(line, &r.cur); err != nil {
			r.err = fmt.Errorf("cannot parse a chDB result row: %w", err)
			return false
		}
		return true
	}
	return false
}

// Scan implements warehouse.Rows.
func (r *rows) Scan(dest ...any) error {
	if r.cur == nil {
		return errors.New("Scan called without a current row")
	}
	if len(dest) != len(r.cur) {
		return fmt.Errorf("cannot scan %d columns into %d values", len(r.cur), len(dest))
	}
	for i, d := range dest {
		if err := scanValue(r.cur[i], d); err != nil {
			return fmt.Errorf("cannot scan column %d: %w", i+1, err)
		}
	}
	return nil
}

// Err implements warehouse.Rows.
func (r *rows) Err() error { return r.err }

// Close implements warehouse.Rows.
func (r *rows) Close() error { r.data, r.cur = nil, nil; return nil }

// numberText returns the digits of a JSON number, or of a quoted one
// (ClickHouse may quote 64-bit integers and non-finite floats).
func numberText(raw json.RawMessage) (string, error) {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	return string(raw), nil
}

func scanValue(raw json.RawMessage, dest any) error {
	switch d := dest.(type) {
	case *string:
		return json.Unmarshal(raw, d)
	case *uint32:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(s, 10, 32)
		*d = uint32(v)
		return err
	case *uint64:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		v, err := strconv.ParseUint(s, 10, 64)
		*d = v
		return err
	case *int64:
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(s, 10, 64)
		*d = v
		return err
	case *float64:
		if string(raw) == "null" { // nan and inf print as null
			*d = math.NaN()
			return nil
		}
		s, err := numberText(raw)
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		*d = v
		return err
	case *time.Time:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		layout := "2006-01-02 15:04:05"
		if len(s) == len("2006-01-02") {
			layout = "2006-01-02"
		}
		t, err := time.ParseInLocation(layout, s, time.UTC)
		*d = t
		return err
	}
	return fmt.Errorf("cannot scan into %T", dest)
}
