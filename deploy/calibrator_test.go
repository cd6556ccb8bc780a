package deploy

// The calibrator's side of the deploy files: its metric contract, its compose
// service, and the ClickHouse queries of the dashboards, checked against the
// warehouse migrations.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	calibratorService = "calibrator"
	calibratorJob     = "preflight-calibrator"
	// calibratorPkg is the calibrator's command. Until it lands the
	// Dockerfile tests accept that its directory is missing and skip what
	// needs go list (see commandsInProgress).
	calibratorPkg = "./cmd/calibrator"
	// calibratorMetricsPath defines the metrics cmd/calibrator exports.
	calibratorMetricsPath = "../calibration/service/metrics.go"
	// migrationsDir holds the warehouse's ClickHouse schema.
	migrationsDir = "../warehouse/migrations"
	// clickhouseType is the type of the ClickHouse plugin's data sources.
	clickhouseType = "grafana-clickhouse-datasource"
)

// commandsInProgress are ./cmd packages that the Dockerfile and compose
// already build but that are being written in parallel: a missing directory
// is not an error yet. Remove an entry once its command is merged.
var commandsInProgress = []string{calibratorPkg}

// metricSpec is one metric family of a service's contract.
type metricSpec struct {
	typ    string              // counter, gauge, histogram or summary
	labels []string            // label names, in addition to job and instance
	values map[string][]string // the bounded values of some labels
}

// backtestMetrics are the values of the metric label of the backtest gauges.
var backtestMetrics = []string{"conversion_rate", "revenue", "unsubscribe_rate"}

// driftDetectors are the calibrator's detectors (warehouse.DriftEvent.Detector).
var driftDetectors = []string{"psi", "page_hinkley", "adwin", "cusum"}

// calibratorMetrics is the contract with cmd/calibrator: the metric families
// it exports on /metrics (PREFLIGHT_HTTP_ADDR, :9102 in compose).
var calibratorMetrics = map[string]metricSpec{
	"calib_drift_statistic":                    {typ: "gauge", labels: []string{"scope", "moment", "detector"}, values: map[string][]string{"detector": driftDetectors}},
	"calib_drift_threshold":                    {typ: "gauge", labels: []string{"scope", "detector"}, values: map[string][]string{"detector": driftDetectors}},
	"calib_drift_alarms_total":                 {typ: "counter", labels: []string{"scope", "detector"}, values: map[string][]string{"detector": driftDetectors}},
	"calib_last_calibration_timestamp_seconds": {typ: "gauge", labels: []string{"scope"}},
	"calib_watermark_timestamp_seconds":        {typ: "gauge", labels: []string{"scope"}},
	"calib_backtest_mape_ratio":                {typ: "gauge", labels: []string{"scope", "metric"}, values: map[string][]string{"metric": backtestMetrics}},
	"calib_backtest_correlation":               {typ: "gauge", labels: []string{"scope", "metric"}, values: map[string][]string{"metric": backtestMetrics}},
	"calib_backtest_coverage_ratio":            {typ: "gauge", labels: []string{"scope", "metric"}, values: map[string][]string{"metric": backtestMetrics}},
	"calib_refresh_duration_seconds":           {typ: "histogram", labels: []string{"scope"}},
	"calib_refresh_rows_total":                 {typ: "counter", labels: []string{"scope"}},
	"calib_retunes_total":                      {typ: "counter", labels: []string{"scope", "reason", "result"}, values: map[string][]string{"reason": {"initial", "drift", "schedule"}, "result": {"ok", "error"}}},
	"calib_event_to_moment_seconds":            {typ: "histogram"},
	"calib_owned_scopes":                       {typ: "gauge"},
	"calib_snapshot_version":                   {typ: "gauge", labels: []string{"scope"}},
}

// exportedMetrics returns every metric family Preflight's services export,
// with its type: the ingestor's (from ingest/metrics.go), the calibrator's
// (calibratorMetrics) and the simulator's (simulatorMetrics and
// reqrepMetrics).
func exportedMetrics(t *testing.T) map[string]string {
	t.Helper()
	metrics := loadIngestorMetrics(t)
	for _, contract := range []map[string]metricSpec{calibratorMetrics, simulatorMetrics, reqrepMetrics} {
		for name, spec := range contract {
			if _, dup := metrics[name]; dup {
				t.Fatalf("metric %s is in two services' contracts", name)
			}
			metrics[name] = spec.typ
		}
	}
	return metrics
}

// contractSpec returns the written contract of a metric family: its type,
// labels and bounded label values, from calibratorMetrics, simulatorMetrics
// or reqrepMetrics. The ingestor's metrics have none (only their names and
// types are read from ingest/metrics.go).
func contractSpec(family string) (metricSpec, bool) {
	for _, contract := range []map[string]metricSpec{calibratorMetrics, simulatorMetrics, reqrepMetrics} {
		if spec, ok := contract[family]; ok {
			return spec, true
		}
	}
	return metricSpec{}, false
}

// TestCalibratorMetricsContract checks calibratorMetrics against the
// metrics calibration/service defines: the same names, types and labels.
func TestCalibratorMetricsContract(t *testing.T) {
	if _, err := os.Stat(calibratorMetricsPath); os.IsNotExist(err) {
		t.Skipf("%s does not exist yet", calibratorMetricsPath)
	}
	defined := loadMetricsFrom(t, calibratorMetricsPath)
	labels := loadMetricLabels(t, calibratorMetricsPath)
	for name, spec := range calibratorMetrics {
		typ, ok := defined[name]
		switch {
		case !ok:
			t.Errorf("%s does not define %s, which deploy's rules and dashboards use", calibratorMetricsPath, name)
		case typ != spec.typ:
			t.Errorf("%s is a %s in %s, not a %s", name, typ, calibratorMetricsPath, spec.typ)
		case !slices.Equal(labels[name], spec.labels):
			t.Errorf("%s has labels %v in %s, not %v", name, labels[name], calibratorMetricsPath, spec.labels)
		}
	}
	for name := range defined {
		if _, ok := calibratorMetrics[name]; !ok {
			t.Errorf("%s defines %s; add it to calibratorMetrics", calibratorMetricsPath, name)
		}
	}
}

// loadMetricLabels reads the label names of the metric vectors a Go file
// creates with prometheus.NewCounterVec(opts, []string{...}) and the like.
func loadMetricLabels(t *testing.T, file string) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		opts, ok1 := call.Args[0].(*ast.CompositeLit)
		list, ok2 := call.Args[1].(*ast.CompositeLit)
		if !ok1 || !ok2 {
			return true
		}
		var name string
		for _, e := range opts.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Name" {
					if bl, ok := kv.Value.(*ast.BasicLit); ok {
						name, _ = strconv.Unquote(bl.Value)
					}
				}
			}
		}
		var labels []string
		for _, e := range list.Elts {
			if bl, ok := e.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				l, _ := strconv.Unquote(bl.Value)
				labels = append(labels, l)
			}
		}
		if name != "" {
			out[name] = labels
		}
		return true
	})
	return out
}

// calibrationTables are the tables migration 0004 creates for the
// calibrator (warehouse.Calibrations), with the columns the dashboards may
// rely on. Until the migration exists the dashboards are checked against
// this list; once it does, against the migration, which must then have at
// least these columns.
var calibrationTables = map[string][]string{
	"drift_events":           {"event_id", "scope", "moment", "detector", "statistic", "threshold", "magnitude", "window_start", "window_end", "detected_at", "details"},
	"calibration_snapshots":  {"scope", "version", "created_at", "body"},
	"calibration_watermarks": {"scope", "watermark", "updated_at"},
}

var (
	// createTableRe finds CREATE TABLE statements of the migrations.
	createTableRe = regexp.MustCompile(`(?is)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\{db\}\.|[A-Za-z_][A-Za-z0-9_]*\.)?([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	// sqlLineComment and sqlBlockComment are SQL comments.
	sqlLineComment  = regexp.MustCompile(`--[^\n]*`)
	sqlBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// loadSchema parses the CREATE TABLE statements of the warehouse migrations
// into table -> columns, and adds the calibrator's tables from
// calibrationTables while migration 0004 is not there yet.
func loadSchema(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations in %s (%v)", migrationsDir, err)
	}
	schema := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sql := sqlLineComment.ReplaceAllString(sqlBlockComment.ReplaceAllString(string(data), " "), " ")
		for _, loc := range createTableRe.FindAllStringSubmatchIndex(sql, -1) {
			table := sql[loc[2]:loc[3]]
			body, ok := balanced(sql[loc[1]-1:])
			if !ok {
				t.Fatalf("%s: CREATE TABLE %s: unbalanced parentheses", f, table)
			}
			var cols []string
			for _, def := range splitTopLevel(body) {
				f := strings.Fields(def)
				if len(f) == 0 || slices.Contains([]string{"INDEX", "PROJECTION", "CONSTRAINT"}, strings.ToUpper(f[0])) {
					continue
				}
				cols = append(cols, strings.Trim(f[0], "`\""))
			}
			if _, dup := schema[table]; dup {
				t.Errorf("%s: table %s is created twice in the migrations", f, table)
			}
			schema[table] = cols
		}
	}
	for table, want := range calibrationTables {
		got, ok := schema[table]
		if !ok {
			t.Logf("%s: no migration creates %s yet; checking against the expected columns %v", migrationsDir, table, want)
			schema[table] = want
			continue
		}
		for _, col := range want {
			if !slices.Contains(got, col) {
				t.Errorf("%s: table %s has no column %s, which deploy's dashboards expect (it has %v)", migrationsDir, table, col, got)
			}
		}
	}
	return schema
}

// balanced returns the text inside the parenthesis that s starts with.
func balanced(s string) (string, bool) {
	depth := 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], true
			}
		}
	}
	return "", false
}

// splitTopLevel splits s on commas outside parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

var (
	// sqlString is a single-quoted SQL string literal.
	sqlString = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)
	// grafanaVar is a Grafana variable: $name, ${name} or ${name:format}.
	grafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*`)
	// sqlNumber is a numeric literal.
	sqlNumber = regexp.MustCompile(`\b\d[\w.]*`)
	// sqlIdent is an identifier, possibly qualified, and what follows it.
	sqlIdent = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)
	// sqlFromRe finds the tables a query reads.
	sqlFromRe = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`)
	// sqlAliasRe finds names a query defines with AS.
	sqlAliasRe = regexp.MustCompile(`(?i)\bAS\s+([A-Za-z_][A-Za-z0-9_]*)`)
)

// sqlKeywords are the SQL keywords the dashboards' queries may use; any
// other bare word must be a column, an alias or a function name.
var sqlKeywords = strings.Fields(`SELECT FROM WHERE PREWHERE AND OR NOT IN AS BY GROUP ORDER LIMIT
	OFFSET DESC ASC FINAL HAVING WITH DISTINCT JOIN LEFT RIGHT INNER OUTER ANY ALL ON USING CASE WHEN
	THEN ELSE END INTERVAL SECOND MINUTE HOUR DAY WEEK MONTH YEAR IS NULL LIKE ILIKE BETWEEN UNION
	SETTINGS FILL TO STEP TRUE FALSE NULLS FIRST LAST ARRAY`)

// checkClickHouseSQL checks a dashboard's ClickHouse query against the
// warehouse schema: it reads existing tables of database db (or unqualified
// ones), and every other bare word is a keyword, a function, an alias it
// defines or a column of one of the tables it reads. Grafana's macros and
// variables are dropped first; the columns macros take are checked.
func checkClickHouseSQL(t *testing.T, where, sql, db string, schema map[string][]string) {
	t.Helper()
	if strings.TrimSpace(sql) == "" {
		t.Errorf("%s: ClickHouse query without rawSql", where)
		return
	}
	s := sqlLineComment.ReplaceAllString(sqlBlockComment.ReplaceAllString(sql, " "), " ")
	s = sqlString.ReplaceAllString(s, "''")
	s = grafanaVar.ReplaceAllString(s, " ")
	s = sqlNumber.ReplaceAllString(s, " ")
	var tables []string
	for _, m := range sqlFromRe.FindAllStringSubmatch(s, -1) {
		table := m[1]
		if d, name, ok := strings.Cut(table, "."); ok {
			if d != db {
				t.Errorf("%s: reads %s, outside the data source's database %s", where, table, db)
			}
			table = name
		}
		if _, ok := schema[table]; !ok {
			t.Errorf("%s: table %s is not created by any migration in %s", where, table, migrationsDir)
			continue
		}
		tables = append(tables, table)
	}
	if len(tables) == 0 {
		t.Errorf("%s: reads no table of the warehouse: %s", where, sql)
		return
	}
	aliases := map[string]bool{}
	for _, m := range sqlAliasRe.FindAllStringSubmatch(s, -1) {
		aliases[m[1]] = true
	}
	columns := map[string]bool{}
	for _, table := range tables {
		for _, c := range schema[table] {
			columns[c] = true
		}
	}
	for alias := range aliases {
		if columns[alias] {
			// ClickHouse resolves the column to the alias, so max(x) AS x
			// fails with an aggregate inside an aggregate.
			t.Errorf("%s: alias %s shadows a column of %v", where, alias, tables)
		}
	}
	for _, loc := range sqlIdent.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		switch {
		case strings.HasPrefix(rest, "("): // a function
		case slices.Contains(sqlKeywords, strings.ToUpper(word)):
		case aliases[word] || columns[word]:
		case strings.Contains(word, "."): // a table (checked above) or table.column
			parts := strings.Split(word, ".")
			last := parts[len(parts)-1]
			if !columns[last] && !slices.Contains(tables, last) {
				t.Errorf("%s: %s is not a column of %v", where, word, tables)
			}
		case slices.Contains(tables, word):
		default:
			t.Errorf("%s: %s is not a column of %v, an alias or a keyword", where, word, tables)
		}
	}
}

// TestCalibratorEnvironment checks the calibrator's configuration, variable
// by variable, against the ingestor's where they must agree.
func TestCalibratorEnvironment(t *testing.T) {
	c, _ := loadCompose(t)
	env := c.svc(t, calibratorService).Environment
	same := func(key string) string { return c.env(t, ingestorService, key) }
	checkEnvironment(t, env, []envCase{
		{key: "PREFLIGHT_KAFKA_BROKERS", want: same("PREFLIGHT_KAFKA_BROKERS")},
		{key: "PREFLIGHT_TOPIC_PREFIX", want: same("PREFLIGHT_TOPIC_PREFIX")},
		{key: "PREFLIGHT_GROUP", want: "preflight-calibrator"},
		{key: "PREFLIGHT_CLICKHOUSE_DSN", want: same("PREFLIGHT_CLICKHOUSE_DSN")},
		{key: "PREFLIGHT_CLICKHOUSE_PASSWORD", refVar: "CLICKHOUSE_PASSWORD"},
		{key: "PREFLIGHT_SCOPES", match: regexp.MustCompile(`^[a-z0-9_-]+(,[a-z0-9_-]+)*$`)},
		{key: "PREFLIGHT_HTTP_ADDR", want: ":9102"},
		{key: "PREFLIGHT_LOG_FORMAT", want: "json"},
	}, "calibrator")
	t.Run("waits for healthy kafka and clickhouse", func(t *testing.T) {
		deps := c.svc(t, calibratorService).DependsOn
		for _, dep := range []string{"kafka", "clickhouse"} {
			if deps[dep] != "service_healthy" {
				t.Errorf("depends_on %s: condition %q, want service_healthy", dep, deps[dep])
			}
		}
	})
	t.Run("builds the calibrator target", func(t *testing.T) {
		s := c.svc(t, calibratorService)
		if s.Build == nil || s.Build.Args["TARGET"] != "calibrator" {
			t.Errorf("want build.args.TARGET calibrator")
		}
	})
}

// TestCalibratorRules checks that the calibrator's alerts exist and watch
// what their names say.
func TestCalibratorRules(t *testing.T) {
	byName := map[string]rule{}
	for _, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				byName[r.Alert] = r
			}
		}
	}
	tests := []struct {
		alert    string
		wantExpr []string
	}{
		{"CalibratorDown", []string{`up{job="preflight-calibrator"} == 0`, `absent(up{job="preflight-calibrator"})`}},
		{"CalibratorOwnsNoScopes", []string{"calib_owned_scopes"}},
		{"CalibrationDriftAlarm", []string{"increase(calib_drift_alarms_total"}},
		{"CalibrationStale", []string{"time() - ", "calib_last_calibration_timestamp_seconds"}},
		{"CalibrationMissing", []string{"calib_owned_scopes", "count(calib_last_calibration_timestamp_seconds"}},
		{"CalibrationBacktestMAPEHigh", []string{"calib_backtest_mape_ratio"}},
		{"CalibrationBacktestCoverageLow", []string{"calib_backtest_coverage_ratio"}},
		{"CalibrationRefreshSlow", []string{"histogram_quantile(0.99", "calib_refresh_duration_seconds_bucket"}},
		{"CalibrationRetuneFailing", []string{`result="error"`, "calib_retunes_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.alert, func(t *testing.T) {
			r, ok := byName[tt.alert]
			if !ok {
				t.Fatalf("no alert %s in %s", tt.alert, rulesDir)
			}
			for _, want := range tt.wantExpr {
				if !strings.Contains(r.Expr, want) {
					t.Errorf("expr %q does not use %s", r.Expr, want)
				}
			}
		})
	}
}

// TestRuleTestSeries checks that the input series of the promtool unit tests
// carry only the labels their metrics have, so that a test cannot pass on a
// series the services never export.
func TestRuleTestSeries(t *testing.T) {
	name := regexp.MustCompile(`^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$`)
	for f, rt := range loadRuleTests(t) {
		for _, tc := range rt.Tests {
			for _, in := range tc.InputSeries {
				m := name.FindStringSubmatch(in.Series)
				if m == nil {
					t.Errorf("%s: test %q: cannot parse series %q", f, tc.Name, in.Series)
					continue
				}
				family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
				spec, ok := contractSpec(family)
				if !ok {
					spec, ok = contractSpec(m[1])
				}
				if !ok {
					continue // the ingestor's and up are checked by TestRuleTests
				}
				for _, mt := range matcherRe.FindAllStringSubmatch(m[2], -1) {
					if mt[1] == "le" && !strings.HasSuffix(m[1], "_bucket") {
						t.Errorf("%s: test %q: %s has an le label", f, tc.Name, m[1])
					}
				}
				var have []string
				for _, mt := range matcherRe.FindAllStringSubmatch(m[2], -1) {
					have = append(have, mt[1])
				}
				for _, l := range spec.labels {
					if !slices.Contains(have, l) {
						t.Errorf("%s: test %q: series %s lacks label %s, which its service always sets", f, tc.Name, in.Series, l)
					}
				}
			}
		}
	}
}

// TestCalibrationDashboard checks the drift and calibration dashboard's
// ClickHouse queries against the migrations and its links against the other
// dashboards; TestDashboards checks its data sources and PromQL.
func TestCalibrationDashboard(t *testing.T) {
	c, _ := loadCompose(t)
	ds := loadDatasources(t)
	schema := loadSchema(t)
	chDB := map[string]string{} // ClickHouse data source uid -> database
	for _, d := range ds.Datasources {
		if d.Type == clickhouseType {
			chDB[d.UID] = fmt.Sprint(d.JSONData["defaultDatabase"])
		}
	}
	dashboards := map[string]dashboard{}
	uids := map[string]bool{}
	for _, dir := range dashboardDirs(t, c) {
		maps.Copy(dashboards, loadDashboards(t, dir))
	}
	for _, d := range dashboards {
		uids[d.UID] = true
	}
	var calib *dashboard
	for file, d := range dashboards {
		if filepath.Base(file) == "calibration.json" {
			calib = &d
		}
	}
	if calib == nil {
		t.Fatalf("no calibration.json among the provisioned dashboards")
	}
	for file, d := range dashboards {
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, q := range d.sqlQueries() {
				db, ok := chDB[q.uid]
				if !ok {
					t.Errorf("%s: rawSql on data source %q, which is not a provisioned ClickHouse data source", q.where, q.uid)
					continue
				}
				checkClickHouseSQL(t, q.where, q.sql, db, schema)
				if (q.timeSeries || q.annotation) && !regexp.MustCompile(`(?i)\bAS\s+time\b`).MatchString(q.sql) {
					t.Errorf("%s: a time series or annotation query needs a column aliased time", q.where)
				}
			}
			for _, l := range d.Links {
				if uid, ok := strings.CutPrefix(l.URL, "/d/"); ok {
					uid, _, _ = strings.Cut(uid, "/")
					uid, _, _ = strings.Cut(uid, "?")
					if !uids[uid] {
						t.Errorf("link %q points at dashboard %s, which is not provisioned", l.Title, uid)
					}
				}
			}
		})
	}
	t.Run("calibration.json shows what its brief asks for", func(t *testing.T) {
		var exprs, sqls []string
		for _, q := range calib.queries() {
			exprs = append(exprs, q.expr)
		}
		for _, q := range calib.sqlQueries() {
			sqls = append(sqls, q.sql)
		}
		all := strings.Join(exprs, "\n")
		for _, want := range []string{
			"calib_drift_statistic", "calib_drift_threshold", "calib_drift_alarms_total",
			"time() - ", "calib_last_calibration_timestamp_seconds", "calib_watermark_timestamp_seconds",
			"calib_backtest_mape_ratio", "calib_backtest_correlation", "calib_backtest_coverage_ratio",
			"calib_snapshot_version", "calib_refresh_duration_seconds_bucket", "calib_refresh_rows_total",
			"calib_retunes_total", "calib_event_to_moment_seconds_bucket", "calib_owned_scopes",
			"ingest_records_total", "ingest_insert_duration_seconds_bucket", "ingest_consumer_lag_records",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("no PromQL query uses %s", want)
			}
		}
		if !slices.ContainsFunc(sqls, func(s string) bool {
			return strings.Contains(s, "drift_events") && strings.Contains(s, "$__timeFilter(detected_at)")
		}) {
			t.Errorf("no ClickHouse query reads drift_events with $__timeFilter(detected_at)")
		}
		if !slices.ContainsFunc(calib.sqlQueries(), func(q sqlQuery) bool { return q.annotation && strings.Contains(q.sql, "drift_events") }) {
			t.Errorf("drift events are not an annotation")
		}
		if !slices.ContainsFunc(calib.Templating.List, func(v templateVar) bool { return v.Name == "scope" }) {
			t.Errorf("no template variable scope")
		}
		if !slices.ContainsFunc(calib.Links, func(l dashLink) bool { return l.URL == "/d/preflight-pipeline" }) {
			t.Errorf("no link to the pipeline dashboard")
		}
	})
}
