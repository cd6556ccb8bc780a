package deploy

// The simulator's side of the deploy files: its metric contract (with its
// Kafka request/reply server's), its compose service, its alert rules and its
// dashboard.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	simulatorService = "simulator"
	simulatorJob     = "preflight-simulator"
	// simulatorPkg is the simulator's command.
	simulatorPkg = "./cmd/simulator"
	// simulatorMetricsPath defines the metrics cmd/simulator exports.
	simulatorMetricsPath = "../simulation/service/metrics.go"
	// reqrepMetricsPath defines the metrics of the simulator's Kafka
	// request/reply server, which it exports too.
	reqrepMetricsPath = "../streams/reqrep/metrics.go"
	// simulatorDashboard is the simulator's dashboard file and uid.
	simulatorDashboard    = "simulator.json"
	simulatorDashboardUID = "preflight-simulator"
)

var (
	// simulatorTransports are the values of the transport label.
	simulatorTransports = []string{"http", "kafka"}
	// simulatorResults are the values of simulator_requests_total's result label.
	simulatorResults = []string{"completed", "validation", "limit", "unauthorized", "rate_limited", "no_snapshot", "timeout", "internal"}
	// judgementResults are the values of simulator_judgements_total's result label.
	judgementResults = []string{"hit", "miss"}
	// reqrepResults are the values of reqrep_requests_total's result label.
	reqrepResults = []string{"ok", "error", "invalid", "expired", "refused", "duplicate", "lost"}
)

// simulatorMetrics is the contract with cmd/simulator: the metric families
// package simulation/service exports on /metrics (PREFLIGHT_HTTP_ADDR, :9103
// in compose).
var simulatorMetrics = map[string]metricSpec{
	"simulator_requests_total":                        {typ: "counter", labels: []string{"transport", "result"}, values: map[string][]string{"transport": simulatorTransports, "result": simulatorResults}},
	"simulator_request_duration_seconds":              {typ: "histogram", labels: []string{"transport"}, values: map[string][]string{"transport": simulatorTransports}},
	"simulator_engine_duration_seconds":               {typ: "histogram"},
	"simulator_in_flight_requests":                    {typ: "gauge", labels: []string{"transport"}, values: map[string][]string{"transport": simulatorTransports}},
	"simulator_request_work_units":                    {typ: "histogram"},
	"simulator_snapshot_version":                      {typ: "gauge", labels: []string{"scope"}},
	"simulator_snapshot_created_timestamp_seconds":    {typ: "gauge", labels: []string{"scope"}},
	"simulator_calibration_historical_accuracy_ratio": {typ: "gauge", labels: []string{"scope"}},
	"simulator_calibration_drift_detected":            {typ: "gauge", labels: []string{"scope"}},
	"simulator_snapshot_loads_total":                  {typ: "counter"},
	"simulator_snapshot_errors_total":                 {typ: "counter"},
	"simulator_ready":                                 {typ: "gauge"},
	"simulator_judgements_total":                      {typ: "counter", labels: []string{"result"}, values: map[string][]string{"result": judgementResults}},
	"simulator_judgement_cache_entries":               {typ: "gauge"},
}

// reqrepMetrics are the metric families of package streams/reqrep's
// Server, which cmd/simulator registers on the same /metrics.
var reqrepMetrics = map[string]metricSpec{
	"reqrep_requests_total":           {typ: "counter", labels: []string{"result"}, values: map[string][]string{"result": reqrepResults}},
	"reqrep_request_duration_seconds": {typ: "histogram"},
	"reqrep_expired_requests_total":   {typ: "counter"},
	"reqrep_duplicate_requests_total": {typ: "counter"},
}

// TestSimulatorMetricsContract checks simulatorMetrics and reqrepMetrics
// against the metrics their packages define, with metric vectors or with
// a custom Collector's Descs: the same names, types, labels and label values
// (the string constants named for a label, and the literal label values the
// file passes).
func TestSimulatorMetricsContract(t *testing.T) {
	tests := []struct {
		file     string
		contract map[string]metricSpec
		consts   map[string]string // constant name prefix -> the label its values are for
	}{
		{simulatorMetricsPath, simulatorMetrics, map[string]string{"Result": "result", "Transport": "transport"}},
		{reqrepMetricsPath, reqrepMetrics, map[string]string{"result": "result"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(filepath.Dir(tt.file)), func(t *testing.T) {
			defined := loadMetricsFrom(t, tt.file)
			labels := loadMetricLabels(t, tt.file)
			descTypes, descLabels := loadDescMetrics(t, tt.file)
			for name, typ := range descTypes {
				if _, dup := defined[name]; dup {
					t.Errorf("%s: metric %s is defined twice", tt.file, name)
				}
				defined[name] = typ
				labels[name] = descLabels[name]
			}
			for name, spec := range tt.contract {
				typ, ok := defined[name]
				switch {
				case !ok:
					t.Errorf("%s does not define %s, which deploy's rules and dashboards use", tt.file, name)
				case typ != spec.typ:
					t.Errorf("%s is a %s in %s, not a %s", name, typ, tt.file, spec.typ)
				case !slices.Equal(labels[name], spec.labels):
					t.Errorf("%s has labels %v in %s, not %v", name, labels[name], tt.file, spec.labels)
				}
			}
			for name := range defined {
				if _, ok := tt.contract[name]; !ok {
					t.Errorf("%s defines %s; add it to the contract in simulator_test.go", tt.file, name)
				}
			}

			lits := loadStringLiterals(t, tt.file)
			allowed := map[string][]string{} // label -> every value the contract allows
			for name, spec := range tt.contract {
				for label, vals := range spec.values {
					allowed[label] = append(allowed[label], vals...)
					for _, v := range vals {
						if !slices.Contains(lits.all, v) {
							t.Errorf("%s{%s=%q}: %s never uses the value %q", name, label, v, tt.file, v)
						}
					}
				}
			}
			for name, value := range lits.consts {
				for prefix, label := range tt.consts {
					rest, ok := strings.CutPrefix(name, prefix)
					if !ok || rest == "" || !isUpper(rest[0]) {
						continue
					}
					if !slices.Contains(allowed[label], value) {
						t.Errorf("%s: constant %s = %q is a %s value the contract does not list (%v)", tt.file, name, value, label, allowed[label])
					}
				}
			}
			var every []string
			for _, vals := range allowed {
				every = append(every, vals...)
			}
			for _, v := range lits.labelValues {
				if !slices.Contains(every, v) {
					t.Errorf("%s: WithLabelValues(%q) is a label value the contract does not list", tt.file, v)
				}
			}
		})
	}
}

func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }

// constMetricTypes maps the client_golang functions that make a metric of
// a Desc at scrape time to the metric's type; for the ConstMetric ones, the
// ValueType argument gives it.
var constMetricTypes = map[string]string{
	"MustNewConstHistogram": "histogram", "NewConstHistogram": "histogram",
	"MustNewConstSummary": "summary", "NewConstSummary": "summary",
	"MustNewConstMetric": "", "NewConstMetric": "",
}

// valueTypes maps client_golang's ValueType constants to metric types.
var valueTypes = map[string]string{"CounterValue": "counter", "GaugeValue": "gauge", "UntypedValue": "untyped"}

// loadDescMetrics reads the metric families a Go file exports through a
// custom Collector: the name and variable labels of every
// prometheus.NewDesc("name", help, []string{...}, ...) assigned to a
// variable, and the type of the metrics prometheus.MustNewConstMetric (and
// the like) makes of that variable.
func loadDescMetrics(t *testing.T, file string) (types map[string]string, labels map[string][]string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	isProm := func(e ast.Expr, names ...string) (string, bool) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return "", false
		}
		x, ok := sel.X.(*ast.Ident)
		return sel.Sel.Name, ok && x.Name == "prometheus" && (len(names) == 0 || slices.Contains(names, sel.Sel.Name))
	}
	byVar := map[string]string{} // variable -> metric name
	labels, types = map[string][]string{}, map[string]string{}
	desc := func(v string, e ast.Expr) {
		call, ok := e.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return
		}
		if _, ok := isProm(call.Fun, "NewDesc"); !ok {
			return
		}
		bl, ok := call.Args[0].(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			t.Errorf("%s: NewDesc's name must be a string literal for this test to read it", fset.Position(call.Pos()))
			return
		}
		name, _ := strconv.Unquote(bl.Value)
		byVar[v] = name
		labels[name] = nil
		if list, ok := call.Args[2].(*ast.CompositeLit); ok {
			for _, el := range list.Elts {
				if l, ok := el.(*ast.BasicLit); ok && l.Kind == token.STRING {
					s, _ := strconv.Unquote(l.Value)
					labels[name] = append(labels[name], s)
				}
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, v := range n.Names {
				if i < len(n.Values) {
					desc(v.Name, n.Values[i])
				}
			}
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				if v, ok := lhs.(*ast.Ident); ok && i < len(n.Rhs) {
					desc(v.Name, n.Rhs[i])
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		fn, ok := isProm(call.Fun)
		typ, known := constMetricTypes[fn]
		if !ok || !known {
			return true
		}
		v, ok := call.Args[0].(*ast.Ident)
		if !ok || byVar[v.Name] == "" {
			return true
		}
		if typ == "" {
			vt, _ := isProm(call.Args[1])
			typ = valueTypes[vt]
		}
		name := byVar[v.Name]
		if prev := types[name]; prev != "" && prev != typ {
			t.Errorf("%s: %s is made as a %s and as a %s", fset.Position(call.Pos()), name, prev, typ)
		}
		types[name] = typ
		return true
	})
	for name := range labels {
		if types[name] == "" {
			t.Errorf("%s: no metric is made of the Desc %s, so its type is unknown", file, name)
		}
	}
	return types, labels
}

// stringLiterals are the string literals of a Go file.
type stringLiterals struct {
	all         []string          // every string literal
	consts      map[string]string // string constants, by name
	labelValues []string          // literal label values of WithLabelValues and MustNewConstMetric calls
}

// loadStringLiterals reads the string literals of a Go file.
func loadStringLiterals(t *testing.T, file string) stringLiterals {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := stringLiterals{consts: map[string]string{}}
	unquote := func(e ast.Expr) (string, bool) {
		bl, ok := e.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(bl.Value)
		return s, err == nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := unquote(n); ok {
				out.all = append(out.all, s)
			}
		case *ast.GenDecl:
			if n.Tok != token.CONST {
				break
			}
			for _, spec := range n.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if s, ok := unquote(vs.Values[i]); ok {
							out.consts[name.Name] = s
						}
					}
				}
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				break
			}
			var values []ast.Expr
			switch sel.Sel.Name {
			case "WithLabelValues":
				values = n.Args
			case "MustNewConstMetric", "NewConstMetric": // (desc, type, value, labelValues...)
				if len(n.Args) > 3 {
					values = n.Args[3:]
				}
			}
			for _, a := range values {
				if s, ok := unquote(a); ok {
					out.labelValues = append(out.labelValues, s)
				}
			}
		}
		return true
	})
	return out
}

// loadCommandEnv reads the environment variables a command reads: one per
// flag it defines on a flag.FlagSet (envflag's PREFLIGHT_<FLAG>), and the
// secrets it reads with envflag.Secret, each with its _FILE variant.
func loadCommandEnv(t *testing.T, pkg string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(pkg), "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s (%v)", pkg, err)
	}
	flagFuncs := strings.Fields("String StringVar Int IntVar Int64 Int64Var Uint Uint64 UintVar Uint64Var Bool BoolVar Float64 Float64Var Duration DurationVar Func BoolFunc TextVar Var")
	envName := func(flag string) string {
		return "PREFLIGHT_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flag))
	}
	var env []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			arg := -1
			switch {
			case sel.Sel.Name == "Secret":
				arg = 0
			case slices.Contains(flagFuncs, sel.Sel.Name):
				arg = 0
				if strings.HasSuffix(sel.Sel.Name, "Var") {
					arg = 1 // fs.StringVar(&p, "name", ...)
				}
			}
			if arg < 0 || arg >= len(call.Args) {
				return true
			}
			bl, ok := call.Args[arg].(*ast.BasicLit)
			if !ok || bl.Kind != token.STRING {
				return true
			}
			name, _ := strconv.Unquote(bl.Value)
			if sel.Sel.Name == "Secret" {
				env = append(env, name, name+"_FILE")
			} else {
				env = append(env, envName(name))
			}
			return true
		})
	}
	return env
}

// TestSimulatorEnvironment checks the simulator's compose service: its
// configuration, variable by variable, against the ingestor's where they
// must agree and against the flags and secrets cmd/simulator reads, its
// dependencies, its ports and its image.
func TestSimulatorEnvironment(t *testing.T) {
	c, _ := loadCompose(t)
	svc := c.svc(t, simulatorService)
	env := svc.Environment
	same := func(key string) string { return c.env(t, ingestorService, key) }
	checkEnvironment(t, env, []envCase{
		{key: "PREFLIGHT_KAFKA_BROKERS", want: same("PREFLIGHT_KAFKA_BROKERS")},
		{key: "PREFLIGHT_TOPIC_PREFIX", want: same("PREFLIGHT_TOPIC_PREFIX")},
		{key: "PREFLIGHT_GROUP", want: "preflight-simulator"},
		{key: "PREFLIGHT_SIMULATOR_API_KEYS", refVar: "SIMULATOR_API_KEYS"},
		{key: "PREFLIGHT_API_ADDR", want: ":8080"},
		{key: "PREFLIGHT_HTTP_ADDR", want: ":9103"},
		{key: "PREFLIGHT_LOG_FORMAT", want: "json"},
	}, "simulator")
	t.Run("variables are flags or secrets of the command", func(t *testing.T) {
		read := loadCommandEnv(t, simulatorPkg)
		for key := range env {
			if !slices.Contains(read, key) {
				t.Errorf("%s is neither a flag nor a secret of %s (it reads %v)", key, simulatorPkg, read)
			}
		}
	})
	t.Run("waits for healthy kafka and not for clickhouse", func(t *testing.T) {
		if svc.DependsOn["kafka"] != "service_healthy" {
			t.Errorf("depends_on kafka: condition %q, want service_healthy", svc.DependsOn["kafka"])
		}
		for dep := range svc.DependsOn {
			if c.Services[dep] != nil && c.Services[dep].repository() == "clickhouse/clickhouse-server" {
				t.Errorf("depends on %s, but the simulator does not use ClickHouse", dep)
			}
		}
	})
	t.Run("builds the simulator target", func(t *testing.T) {
		if svc.Build == nil || svc.Build.Args["TARGET"] != "simulator" {
			t.Errorf("want build.args.TARGET simulator")
		}
	})
	t.Run("API and metrics ports are published on loopback only", func(t *testing.T) {
		for _, key := range []string{"PREFLIGHT_API_ADDR", "PREFLIGHT_HTTP_ADDR"} {
			v, ok := env.get(key)
			if !ok {
				continue // reported above
			}
			port := hostPort(t, key, v).port
			if !slices.ContainsFunc(svc.Ports, func(p portMapping) bool { return p.Target == port && p.Published == port }) {
				t.Errorf("%s: container port %d is not published on host port %d", key, port, port)
			}
		}
		for _, p := range svc.Ports {
			if p.HostIP != "127.0.0.1" {
				t.Errorf("port %d is published on %q, want 127.0.0.1 (the API takes keys; keep it off other interfaces)", p.Target, p.HostIP)
			}
		}
	})
	t.Run("image exposes the API port", func(t *testing.T) {
		v, ok := env.get("PREFLIGHT_API_ADDR")
		if !ok {
			t.Skip("PREFLIGHT_API_ADDR is not set")
		}
		port := strconv.Itoa(hostPort(t, "PREFLIGHT_API_ADDR", v).port)
		d := parseDockerfile(t, dockerfilePath)
		chain, _ := d.resolve(t, "simulator")
		var exposed []string
		for _, st := range chain {
			for _, in := range st.instrs {
				if in.cmd == "EXPOSE" {
					for _, p := range strings.Fields(in.args) {
						exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
					}
				}
			}
		}
		if !slices.Contains(exposed, port) {
			t.Errorf("the simulator image exposes %v, want %s", exposed, port)
		}
	})
	t.Run("does not import chdb-go", func(t *testing.T) {
		// It needs only Kafka; its image is static.
		for _, dep := range goListDeps(t, simulatorPkg) {
			if usesChdb(dep) {
				t.Errorf("%s depends on %s; the simulator image (%s) cannot load libchdb.so", simulatorPkg, dep, staticRuntime)
			}
		}
	})
}

// regexMatcherRe finds label=~"a|b" matchers.
var regexMatcherRe = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*=~\s*"([^"]*)"`)

// checkRegexValues checks that, in the selectors of metrics with a written
// contract, every alternative of a label=~"a|b" matcher on a bounded label
// is one of its values (checkPromQL checks = matchers).
func checkRegexValues(t *testing.T, where, expr string) {
	t.Helper()
	plain := regexp.MustCompile(`^[a-z_]+$`)
	for _, sel := range selectorRe.FindAllStringSubmatch(expr, -1) {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(sel[1], "_bucket"), "_sum"), "_count")
		spec, ok := contractSpec(family)
		if !ok {
			continue
		}
		for _, m := range regexMatcherRe.FindAllStringSubmatch(sel[2], -1) {
			vals, bounded := spec.values[m[1]]
			if !bounded {
				continue
			}
			for _, alt := range strings.Split(m[2], "|") {
				if plain.MatchString(alt) && !slices.Contains(vals, alt) {
					t.Errorf("%s: %s{%s=~%q}: %q is not one of %v", where, sel[1], m[1], m[2], alt, vals)
				}
			}
		}
	}
}

// TestSimulatorRules checks that the simulator's alerts exist and watch
// what their names say.
func TestSimulatorRules(t *testing.T) {
	byName := map[string]rule{}
	for f, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				byName[r.Alert] = r
				checkRegexValues(t, f+": "+r.Alert, r.Expr)
			}
		}
	}
	tests := []struct {
		alert    string
		wantExpr []string
		wantFor  string
	}{
		{"SimulatorDown", []string{`up{job="preflight-simulator"} == 0`, `absent(up{job="preflight-simulator"})`}, "5m"},
		{"SimulatorNotReady", []string{"simulator_ready", "== 0"}, "5m"},
		{"SimulatorLatencyHigh", []string{"histogram_quantile(0.95", "by (transport, le)", "simulator_request_duration_seconds_bucket", "> 0.5"}, "10m"},
		{"SimulatorErrorRatioHigh", []string{"simulator_requests_total", `result=~"internal|timeout"`, "> 0.05"}, "10m"},
		{"SimulatorNoSnapshot", []string{"simulator_requests_total", `result="no_snapshot"`}, ""},
		{"SimulatorSnapshotStale", []string{"time() - ", "simulator_snapshot_created_timestamp_seconds", "> 48 * 3600"}, ""},
		{"SimulatorSnapshotErrors", []string{"increase(simulator_snapshot_errors_total"}, ""},
		{"SimulatorRepliesLost", []string{"increase(reqrep_requests_total", `result="lost"`}, ""},
		{"SimulatorCalibrationDrift", []string{"simulator_calibration_drift_detected"}, ""},
		{"SimulatorCalibrationAccuracyLow", []string{"simulator_calibration_historical_accuracy_ratio", "< 0.8"}, ""},
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
			if tt.wantFor != "" && r.For != tt.wantFor {
				t.Errorf("for: %q, want %s", r.For, tt.wantFor)
			}
		})
	}
}

// TestSimulatorDashboard checks that the simulator's dashboard shows every
// metric family of its contract and what its brief asks for; TestDashboards
// checks its data sources and PromQL against the contracts.
func TestSimulatorDashboard(t *testing.T) {
	c, _ := loadCompose(t)
	dashboards := map[string]dashboard{}
	for _, dir := range dashboardDirs(t, c) {
		maps.Copy(dashboards, loadDashboards(t, dir))
	}
	var sim *dashboard
	for file, d := range dashboards {
		if filepath.Base(file) == simulatorDashboard {
			sim = &d
		}
	}
	if sim == nil {
		t.Fatalf("no %s among the provisioned dashboards", simulatorDashboard)
	}
	if sim.UID != simulatorDashboardUID || sim.Title != "Preflight — simulator" {
		t.Errorf("uid %q, title %q; want %s, %q", sim.UID, sim.Title, simulatorDashboardUID, "Preflight — simulator")
	}
	var exprs []string
	for _, q := range sim.queries() {
		exprs = append(exprs, q.expr)
		if !strings.Contains(q.expr, `job="`+simulatorJob+`"`) {
			t.Errorf("%s: does not select job=%q: %s", q.where, simulatorJob, q.expr)
		}
		checkRegexValues(t, q.where, q.expr)
	}
	all := strings.Join(exprs, "\n")
	t.Run("every metric family of the contract is shown", func(t *testing.T) {
		for _, contract := range []map[string]metricSpec{simulatorMetrics, reqrepMetrics} {
			for name, spec := range contract {
				series := name
				if spec.typ == "histogram" {
					series += "_bucket"
				}
				if !regexp.MustCompile(`\b` + series + `\b`).MatchString(all) {
					t.Errorf("no PromQL query uses %s", series)
				}
			}
		}
	})
	t.Run("shows what its brief asks for", func(t *testing.T) {
		for _, want := range []string{
			`up{job="preflight-simulator"}`,
			"sum by (transport, result) (rate(simulator_requests_total",
			"histogram_quantile(0.5, sum by (transport, le) (rate(simulator_request_duration_seconds_bucket",
			"histogram_quantile(0.95, sum by (transport, le) (rate(simulator_request_duration_seconds_bucket",
			"histogram_quantile(0.99, sum by (transport, le) (rate(simulator_request_duration_seconds_bucket",
			"time() - simulator_snapshot_created_timestamp_seconds",
			`simulator_judgements_total{job="preflight-simulator", result="hit"}`,
			"sum by (result) (rate(reqrep_requests_total",
		} {
			if !strings.Contains(all, want) {
				t.Errorf("no PromQL query contains %s", want)
			}
		}
		if !slices.ContainsFunc(sim.Templating.List, func(v templateVar) bool { return v.Name == "scope" }) {
			t.Errorf("no template variable scope")
		}
		if !slices.ContainsFunc(sim.Links, func(l dashLink) bool { return l.URL == "/d/preflight-calibration" }) {
			t.Errorf("no link to the calibration dashboard")
		}
	})
}
