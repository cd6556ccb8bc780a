package replay

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
)

// The arm labels of the Hillstrom file's "segment" column.
const (
	ArmLabelMens   = "Mens E-Mail"
	ArmLabelWomens = "Womens E-Mail"
	ArmLabelNone   = "No E-Mail"
)

// hillstromColumns are the columns the file must have, in the file's order.
var hillstromColumns = []string{
	"recency", "history_segment", "history", "mens", "womens", "zip_code",
	"newbie", "channel", "segment", "visit", "conversion", "spend",
}

// Column indexes into hillstromColumns.
const (
	colRecency = iota
	colHistorySegment
	colHistory
	colMens
	colWomens
	colZipCode
	colNewbie
	colChannel
	colSegment
	colVisit
	colConversion
	colSpend
)

// Row is one customer of the Hillstrom file.
type Row struct {
	// Index numbers the data rows from 1.
	Index int
	// Line is the row's line in the file (the header is line 1).
	Line int

	Recency        int     // months since the last purchase
	HistorySegment string  // e.g. "6) $750 - $1,000"
	HistoryBin     int     // the leading number of HistorySegment, 1–7
	History        float64 // dollars spent in the past year
	Mens           bool    // bought men's merchandise in the past year
	Womens         bool    // bought women's merchandise in the past year
	ZipCode        string  // Urban, Surburban (sic) or Rural
	Newbie         bool    // new customer in the past twelve months
	Channel        string  // Phone, Web or Multichannel: where they bought
	Arm            string  // ArmLabelMens, ArmLabelWomens or ArmLabelNone
	Visit          bool    // visited the website within two weeks
	Conversion     bool    // bought within two weeks
	Spend          float64 // dollars spent within two weeks
}

// ParseError locates a problem in a CSV file.
type ParseError struct {
	// Line is the 1-based line of the problem.
	Line int
	// Column is the 1-based byte column of the problem, 0 when unknown.
	Column int
	// Field names the CSV column, when the problem is in one field.
	Field string
	// Err says what is wrong.
	Err error
}

// Error renders the error as "line L, column C (field): reason".
func (e *ParseError) Error() string {
	s := fmt.Sprintf("line %d", e.Line)
	if e.Column > 0 {
		s += fmt.Sprintf(", column %d", e.Column)
	}
	if e.Field != "" {
		s += fmt.Sprintf(" (%s)", e.Field)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

var historySegmentRE = regexp.MustCompile(`^([1-9][0-9]?)\) `)

// ParseHillstrom reads the whole Hillstrom CSV (see /work/shared/data/README.md
// for the format: a header line, CRLF line ends, quoted commas). Every
// malformed line or value is reported as a *ParseError naming the line, the
// column and the field; the first one stops the parse.
func ParseHillstrom(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &ParseError{Line: 1, Err: errors.New("empty file: want a header line")}
	}
	if err != nil {
		return nil, csvError(err)
	}
	idx, err := mapHeader(header)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, 64000)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		row := Row{Index: len(rows) + 1, Line: line}
		if err := parseRow(cr, rec, idx, &row); err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, &ParseError{Line: 2, Err: errors.New("no data rows after the header")}
	}
	return rows, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{Line: pe.Line, Column: pe.Column, Err: pe.Err}
	}
	return fmt.Errorf("cannot read CSV: %w", err)
}

// mapHeader returns, for each of hillstromColumns, its index in header.
func mapHeader(header []string) ([]int, error) {
	pos := map[string]int{}
	for i, h := range header {
		if _, dup := pos[h]; dup {
			return nil, &ParseError{Line: 1, Field: h, Err: fmt.Errorf("column %q appears twice in the header", h)}
		}
		pos[h] = i
	}
	idx := make([]int, len(hillstromColumns))
	for i, name := range hillstromColumns {
		j, ok := pos[name]
		if !ok {
			return nil, &ParseError{Line: 1, Field: name, Err: fmt.Errorf("header lacks column %q (want %v)", name, hillstromColumns)}
		}
		idx[i] = j
	}
	return idx, nil
}

func parseRow(cr *csv.Reader, rec []string, idx []int, row *Row) error {
	fail := func(col int, format string, args ...any) error {
		line, column := cr.FieldPos(idx[col])
		return &ParseError{Line: line, Column: column, Field: hillstromColumns[col], Err: fmt.Errorf(format, args...)}
	}
	field := func(col int) string { return rec[idx[col]] }
	flag := func(col int) (bool, error) {
		switch field(col) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return false, fail(col, "want 0 or 1, got %q", field(col))
	}
	number := func(col int) (float64, error) {
		v, err := strconv.ParseFloat(field(col), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return 0, fail(col, "want a non-negative number, got %q", field(col))
		}
		return v, nil
	}
	var err error
	if row.Recency, err = strconv.Atoi(field(colRecency)); err != nil || row.Recency < 0 {
		return fail(colRecency, "want a non-negative whole number of months, got %q", field(colRecency))
	}
	row.HistorySegment = field(colHistorySegment)
	m := historySegmentRE.FindStringSubmatch(row.HistorySegment)
	if m == nil {
		return fail(colHistorySegment, `want a label such as "2) $100 - $200", got %q`, row.HistorySegment)
	}
	row.HistoryBin, _ = strconv.Atoi(m[1])
	if row.History, err = number(colHistory); err != nil {
		return err
	}
	if row.Mens, err = flag(colMens); err != nil {
		return err
	}
	if row.Womens, err = flag(colWomens); err != nil {
		return err
	}
	if row.ZipCode = field(colZipCode); row.ZipCode == "" {
		return fail(colZipCode, "must not be empty")
	}
	if row.Newbie, err = flag(colNewbie); err != nil {
		return err
	}
	if row.Channel = field(colChannel); row.Channel == "" {
		return fail(colChannel, "must not be empty")
	}
	switch row.Arm = field(colSegment); row.Arm {
	case ArmLabelMens, ArmLabelWomens, ArmLabelNone:
	default:
		return fail(colSegment, "want %q, %q or %q, got %q", ArmLabelMens, ArmLabelWomens, ArmLabelNone, row.Arm)
	}
	if row.Visit, err = flag(colVisit); err != nil {
		return err
	}
	if row.Conversion, err = flag(colConversion); err != nil {
		return err
	}
	if row.Spend, err = number(colSpend); err != nil {
		return err
	}
	// ReuseRecord: keep no reference to rec; strings are immutable copies.
	return nil
}
