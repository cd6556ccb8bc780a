package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/preflight-hq/preflight/schemas"
)

// Files under test, relative to this directory (go test runs in deploy/).
const (
	composePath       = "compose.yaml"
	dockerfilePath    = "Dockerfile"
	prometheusPath    = "prometheus/prometheus.yml"
	rulesDir          = "prometheus/rules"
	ruleTestsDir      = "prometheus/tests"
	datasourcesPath   = "grafana/provisioning/datasources/datasources.yml"
	dashProvidersPath = "grafana/provisioning/dashboards/dashboards.yml"
	repoRoot          = ".."
	// ingestMetricsPath defines the metrics cmd/ingestor exports.
	ingestMetricsPath = "../ingest/metrics.go"
	// installChdbPath installs libchdb.so outside containers; the Dockerfile
	// must fetch the same npm package and version.
	installChdbPath = "../scripts/install-chdb.sh"

	ingestorService = "ingestor"
	ingestorJob     = "preflight-ingestor"
)

// The contract with cmd/ingestor is the set of metric families it exports,
// read from ingest/metrics.go by loadIngestorMetrics; the contract with
// cmd/calibrator is calibratorMetrics (calibrator_test.go), and with
// cmd/simulator simulatorMetrics and reqrepMetrics (simulator_test.go).
// Rules, their unit tests and dashboards may only query these (and up);
// exportedMetrics merges them.

// recordResults are the values of the result label of ingest_records_total.
var recordResults = []string{"ok", "invalid", "duplicate"}

// Runtime base images. Binaries are built with CGO_ENABLED=0; one that imports
// chdb-go dlopens libchdb.so at start, which needs glibc and its dynamic
// loader, so it cannot run on distroless/static.
const (
	staticRuntime = "gcr.io/distroless/static-debian12:nonroot"
	chdbModule    = "github.com/chdb-io/chdb-go"
	// chdbLibPath is where chdb-go looks for libchdb.so without $CHDB_LIB_PATH.
	chdbLibPath = "/usr/local/lib/libchdb.so"
)

// glibcRuntimes are the distroless images with glibc, for binaries that load
// libchdb.so.
var glibcRuntimes = []string{"gcr.io/distroless/cc-debian12:nonroot", "gcr.io/distroless/base-debian12:nonroot"}

// imagePorts lists the container ports that third-party images serve with the
// configuration used here, by image repository.
var imagePorts = map[string][]int{
	"clickhouse/clickhouse-server": {8123, 9000},
	"prom/prometheus":              {9090},
	"grafana/grafana":              {3000},
}

// clickhousePorts maps a ClickHouse protocol (DSN scheme or the Grafana
// plugin's protocol setting) to the port clickhouse-server serves it on.
var clickhousePorts = map[string]int{"clickhouse": 9000, "tcp": 9000, "native": 9000, "http": 8123}

// grafanaBuiltinTypes are data source types that ship with Grafana; any other
// type is a plugin that GF_INSTALL_PLUGINS must install.
var grafanaBuiltinTypes = []string{"prometheus", "loki", "tempo", "elasticsearch", "postgres", "mysql", "influxdb"}

var (
	// secretKey matches names of settings that hold secrets.
	secretKey = regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api_?key|private_?key|credential)`)
	// composeRequiredRef is ${VAR:?message} (or ${VAR?message}): compose refuses to start without VAR.
	composeRequiredRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*):?\?[^}]*\}$`)
	// grafanaRef is $VAR or ${VAR}, which Grafana expands in provisioning files.
	grafanaRef = regexp.MustCompile(`^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$`)
	// metricName finds the names of Preflight's metrics in PromQL.
	metricName = regexp.MustCompile(`\b(?:ingest|calib|simulator|reqrep)_[a-z0-9_]+\b`)
	// jobMatcher finds job="..." matchers in PromQL.
	jobMatcher = regexp.MustCompile(`\bjob\s*=\s*"([^"]*)"`)
	// selectorRe finds a metric name with its label matchers.
	selectorRe = regexp.MustCompile(`\b((?:ingest|calib|simulator|reqrep)_[a-z0-9_]+|up)\s*\{([^}]*)\}`)
	// matcherRe finds one label matcher in a selector.
	matcherRe = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// groupingRe finds the label lists of by, without, on, ignoring,
	// group_left and group_right.
	groupingRe = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
)

// commonLabels are labels every scraped series has, and le of buckets.
var commonLabels = []string{"job", "instance", "le"}

// checkPromQL checks a query against the metric contracts (from
// exportedMetrics) and the configured scrape jobs: every Preflight metric it
// names is exported, every job it matches is scraped and is the job that
// exports the metric, and label names and values of the metrics with a
// written contract (contractSpec: the calibrator's and the simulator's; and
// the result label of ingest_records_total) are the ones exported.
func checkPromQL(t *testing.T, where, expr string, jobs []string, metrics map[string]string) {
	t.Helper()
	names := map[string]string{} // series name -> metric family
	for name, typ := range metrics {
		switch typ {
		case "histogram":
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = name
			}
		case "summary":
			for _, suffix := range []string{"", "_sum", "_count"} {
				names[name+suffix] = name
			}
		default:
			names[name] = name
		}
	}
	found := regexp.MustCompile(`\bup\b`).MatchString(expr)
	onlySpecified := true
	var labels []string
	for _, m := range metricName.FindAllString(expr, -1) {
		found = true
		family, ok := names[m]
		if !ok {
			t.Errorf("%s: %s is not a series Preflight exports (%s)", where, m, expr)
			continue
		}
		if spec, ok := contractSpec(family); ok {
			labels = append(labels, spec.labels...)
		} else {
			onlySpecified = false
		}
	}
	if !found {
		t.Errorf("%s: queries none of Preflight's metrics: %s", where, expr)
	}
	for _, m := range jobMatcher.FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(jobs, m[1]) {
			t.Errorf("%s: job %q is not a scrape job in %s", where, m[1], prometheusPath)
		}
	}
	for _, sel := range selectorRe.FindAllStringSubmatch(expr, -1) {
		family := names[sel[1]]
		for _, mt := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := mt[1], mt[2], mt[3]
			if label == "job" && op == "=" {
				if want := exporterJob(sel[1]); want != "" && value != want {
					t.Errorf("%s: %s is exported by job %s, not %s", where, sel[1], want, value)
				}
			}
			var allowed map[string][]string
			switch spec, ok := contractSpec(family); {
			case ok:
				if !slices.Contains(spec.labels, label) && !slices.Contains(commonLabels, label) {
					t.Errorf("%s: %s has no label %s (it has %v)", where, sel[1], label, spec.labels)
				}
				allowed = spec.values
			case family == "ingest_records_total":
				allowed = map[string][]string{"result": recordResults}
			}
			if vals, ok := allowed[label]; ok && op == "=" && !strings.Contains(value, "$") && !slices.Contains(vals, value) {
				t.Errorf("%s: %s{%s=%q}: %s is one of %v", where, sel[1], label, value, label, vals)
			}
		}
	}
	if onlySpecified && len(labels) > 0 {
		for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) && !slices.Contains(commonLabels, l) {
					t.Errorf("%s: groups or matches on %s, which none of its metrics has (%s)", where, l, expr)
				}
			}
		}
	}
}

// exporterJob is the scrape job of the service that exports the series
// name, or "" for up, which every job has.
func exporterJob(name string) string {
	switch {
	case strings.HasPrefix(name, "ingest_"):
		return ingestorJob
	case strings.HasPrefix(name, "calib_"):
		return calibratorJob
	case strings.HasPrefix(name, "simulator_"), strings.HasPrefix(name, "reqrep_"):
		return simulatorJob
	}
	return ""
}

// TestComposeServices checks that the stack defines the expected services.
func TestComposeServices(t *testing.T) {
	c, _ := loadCompose(t)
	tests := []struct {
		name      string
		image     string // repository, without tag
		build     bool
		published []int
	}{
		{name: "kafka", image: "apache/kafka", published: []int{29092}},
		{name: "clickhouse", image: "clickhouse/clickhouse-server", published: []int{9000, 8123}},
		{name: ingestorService, build: true, published: []int{9464}},
		{name: calibratorService, build: true, published: []int{9102}},
		{name: simulatorService, build: true, published: []int{8080, 9103}},
		{name: "prometheus", image: "prom/prometheus", published: []int{9090}},
		{name: "grafana", image: "grafana/grafana", published: []int{3000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := c.svc(t, tt.name)
			if tt.build {
				if s.Build == nil {
					t.Errorf("service %s: want a build section", tt.name)
				}
			} else if s.repository() != tt.image {
				t.Errorf("service %s: image %q, want %s:<tag>", tt.name, s.Image, tt.image)
			}
			for _, port := range tt.published {
				if !slices.ContainsFunc(s.Ports, func(p portMapping) bool { return p.Target == port && p.Published == port }) {
					t.Errorf("service %s: container port %d is not published on host port %d", tt.name, port, port)
				}
			}
		})
	}
}

// TestComposeConsistency checks the compose file's internal references.
func TestComposeConsistency(t *testing.T) {
	c, node := loadCompose(t)
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"keys are compose keys", func(t *testing.T) {
			root := node.Content[0]
			for i := 0; i+1 < len(root.Content); i += 2 {
				key := root.Content[i].Value
				if !strings.HasPrefix(key, "x-") && !slices.Contains(composeTopKeys, key) {
					t.Errorf("line %d: unknown top-level key %q", root.Content[i].Line, key)
				}
				if key != "services" {
					continue
				}
				services := root.Content[i+1]
				for j := 0; j+1 < len(services.Content); j += 2 {
					svc := services.Content[j+1]
					for k := 0; k+1 < len(svc.Content); k += 2 {
						sk := svc.Content[k]
						if !strings.HasPrefix(sk.Value, "x-") && !slices.Contains(composeServiceKeys, sk.Value) {
							t.Errorf("line %d: service %s: unknown key %q", sk.Line, services.Content[j].Value, sk.Value)
						}
					}
				}
			}
		}},
		{"every service has a pinned image or a build", func(t *testing.T) {
			for name, s := range c.Services {
				switch {
				case s.Build != nil:
				case s.Image == "":
					t.Errorf("service %s: neither image nor build", name)
				case s.repository() == s.Image || strings.HasSuffix(s.Image, ":latest"):
					t.Errorf("service %s: image %q is not pinned to a version tag", name, s.Image)
				}
			}
		}},
		{"depends_on names defined services", func(t *testing.T) {
			for name, s := range c.Services {
				for dep, cond := range s.DependsOn {
					other, ok := c.Services[dep]
					switch {
					case !ok:
						t.Errorf("service %s depends on undefined service %q", name, dep)
					case dep == name:
						t.Errorf("service %s depends on itself", name)
					case cond == "service_healthy" && (other.Healthcheck == nil || other.Healthcheck.Disable || other.Healthcheck.Test == nil):
						t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
					case !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, cond):
						t.Errorf("service %s: depends_on %s: unknown condition %q", name, dep, cond)
					}
				}
			}
		}},
		{"no host port is published twice", func(t *testing.T) {
			seen := map[string]string{}
			for name, s := range c.Services {
				for _, p := range s.Ports {
					if p.Published == 0 {
						continue
					}
					key := fmt.Sprintf("%d/%s", p.Published, p.Protocol)
					if prev, dup := seen[key]; dup {
						t.Errorf("host port %s is published by both %s and %s", key, prev, name)
					}
					seen[key] = name
				}
			}
		}},
		{"published ports are served by their containers", func(t *testing.T) {
			for name := range c.Services {
				served := c.servedPorts(t, name)
				for _, p := range c.Services[name].Ports {
					if !slices.Contains(served, p.Target) {
						t.Errorf("service %s publishes container port %d, which it does not serve (it serves %v)", name, p.Target, served)
					}
				}
			}
		}},
		{"relative bind mounts exist", func(t *testing.T) {
			for name, s := range c.Services {
				for _, m := range s.Volumes {
					if m.Type != "bind" || filepath.IsAbs(m.Source) || strings.HasPrefix(m.Source, "~") {
						continue
					}
					if _, err := os.Stat(m.Source); err != nil {
						t.Errorf("service %s mounts %s, which does not exist next to %s: %v", name, m.Source, composePath, err)
					}
				}
			}
		}},
		{"named volumes are declared", func(t *testing.T) {
			for name, s := range c.Services {
				for _, m := range s.Volumes {
					if m.Type != "volume" || m.Source == "" {
						continue
					}
					if _, ok := c.Volumes[m.Source]; !ok {
						t.Errorf("service %s uses volume %q, which is not declared under top-level volumes", name, m.Source)
					}
				}
			}
		}},
		{"build contexts and Dockerfiles exist", func(t *testing.T) {
			for name, s := range c.Services {
				if s.Build == nil {
					continue
				}
				ctx := orDefault(s.Build.Context, ".")
				if _, err := os.Stat(filepath.Join(ctx, orDefault(s.Build.Dockerfile, "Dockerfile"))); err != nil {
					t.Errorf("service %s: %v", name, err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// TestIngestorEnvironment checks the ingestor's configuration, variable by variable.
func TestIngestorEnvironment(t *testing.T) {
	c, _ := loadCompose(t)
	env := c.svc(t, ingestorService).Environment
	checkEnvironment(t, env, []envCase{
		{key: "PREFLIGHT_KAFKA_BROKERS", want: "kafka:9092"},
		{key: "PREFLIGHT_TOPIC_PREFIX", want: "preflight."},
		{key: "PREFLIGHT_GROUP", want: "preflight-ingestor"},
		{key: "PREFLIGHT_CLICKHOUSE_DSN", want: "clickhouse://preflight@clickhouse:9000/preflight"},
		{key: "PREFLIGHT_CLICKHOUSE_PASSWORD", refVar: "CLICKHOUSE_PASSWORD"},
		{key: "PREFLIGHT_HTTP_ADDR", want: ":9464"},
		{key: "PREFLIGHT_LOG_FORMAT", want: "json"},
	}, "ingestor")
}

// TestIngestorWiring checks that the endpoints of the services built here
// (goServices) reach the services that serve them.
func TestIngestorWiring(t *testing.T) {
	c, _ := loadCompose(t)
	prom := loadPrometheus(t)
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"kafka brokers are kafka's in-network advertised listener", func(t *testing.T) {
			var brokers []string
			for _, svc := range goServices {
				brokers = append(brokers, strings.Split(c.env(t, svc.name, "PREFLIGHT_KAFKA_BROKERS"), ",")...)
			}
			for _, b := range brokers {
				hp := hostPort(t, "PREFLIGHT_KAFKA_BROKERS", strings.TrimSpace(b))
				kafka := c.serviceByHost(hp.host)
				if kafka == "" || c.Services[kafka].repository() != "apache/kafka" {
					t.Fatalf("broker %s: %q is not a Kafka service", b, hp.host)
				}
				advertised := parseListeners(t, c.env(t, kafka, "KAFKA_ADVERTISED_LISTENERS"))
				i := slices.IndexFunc(advertised, func(l listener) bool { return l.hostPortPair == hp })
				if i < 0 {
					t.Fatalf("broker %s is not one of kafka's advertised listeners %v", b, advertised)
				}
				bound, ok := findListener(parseListeners(t, c.env(t, kafka, "KAFKA_LISTENERS")), advertised[i].name)
				if !ok || bound.port != hp.port {
					t.Errorf("advertised listener %s is not bound on port %d in KAFKA_LISTENERS", advertised[i].name, hp.port)
				}
			}
		}},
		{"kafka listeners are mapped, bound and reachable", func(t *testing.T) {
			bound := parseListeners(t, c.env(t, "kafka", "KAFKA_LISTENERS"))
			protocols := map[string]bool{}
			for _, pair := range strings.Split(c.env(t, "kafka", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
				name, _, _ := strings.Cut(pair, ":")
				protocols[name] = true
			}
			for _, l := range bound {
				if !protocols[l.name] {
					t.Errorf("listener %s has no entry in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", l.name)
				}
			}
			for _, adv := range parseListeners(t, c.env(t, "kafka", "KAFKA_ADVERTISED_LISTENERS")) {
				b, ok := findListener(bound, adv.name)
				if !ok {
					t.Errorf("advertised listener %s is not in KAFKA_LISTENERS", adv.name)
					continue
				}
				switch adv.host {
				case "localhost", "127.0.0.1":
					if !slices.ContainsFunc(c.Services["kafka"].Ports, func(p portMapping) bool { return p.Published == adv.port && p.Target == b.port }) {
						t.Errorf("listener %s is advertised to the host as %s:%d, but container port %d is not published on host port %d",
							adv.name, adv.host, adv.port, b.port, adv.port)
					}
				default:
					if c.serviceByHost(adv.host) != "kafka" {
						t.Errorf("listener %s is advertised as %s, which does not resolve to kafka on the compose network", adv.name, adv.host)
					} else if adv.port != b.port {
						t.Errorf("listener %s is advertised on port %d but bound on %d", adv.name, adv.port, b.port)
					}
				}
			}
			if _, ok := findListener(parseListeners(t, c.env(t, "kafka", "KAFKA_ADVERTISED_LISTENERS")), c.env(t, "kafka", "KAFKA_INTER_BROKER_LISTENER_NAME")); !ok {
				t.Errorf("KAFKA_INTER_BROKER_LISTENER_NAME is not an advertised listener")
			}
		}},
		{"kafka controller quorum is this node on its controller listener", func(t *testing.T) {
			ctrl, ok := findListener(parseListeners(t, c.env(t, "kafka", "KAFKA_LISTENERS")), c.env(t, "kafka", "KAFKA_CONTROLLER_LISTENER_NAMES"))
			if !ok {
				t.Fatalf("KAFKA_CONTROLLER_LISTENER_NAMES is not in KAFKA_LISTENERS")
			}
			id, addr, _ := strings.Cut(c.env(t, "kafka", "KAFKA_CONTROLLER_QUORUM_VOTERS"), "@")
			hp := hostPort(t, "KAFKA_CONTROLLER_QUORUM_VOTERS", addr)
			if id != c.env(t, "kafka", "KAFKA_NODE_ID") || c.serviceByHost(hp.host) != "kafka" || hp.port != ctrl.port {
				t.Errorf("KAFKA_CONTROLLER_QUORUM_VOTERS %s@%s should be node %s on kafka:%d",
					id, addr, c.env(t, "kafka", "KAFKA_NODE_ID"), ctrl.port)
			}
		}},
		{"clickhouse DSN points at clickhouse's native port with its user and database", func(t *testing.T) {
			for _, svc := range goServices {
				if !svc.warehouse {
					continue
				}
				t.Run(svc.name, func(t *testing.T) { checkDSN(t, c, svc.name) })
			}
		}},
		{"metrics port is scraped by prometheus and published", func(t *testing.T) {
			for _, svc := range goServices {
				t.Run(svc.name, func(t *testing.T) { checkScraped(t, c, prom, svc.name, svc.job) })
			}
		}},
		{"services wait for healthy kafka and clickhouse", func(t *testing.T) {
			for _, svc := range goServices {
				deps := c.svc(t, svc.name).DependsOn
				keys := []string{"PREFLIGHT_KAFKA_BROKERS"}
				if svc.warehouse {
					keys = append(keys, "PREFLIGHT_CLICKHOUSE_DSN")
				}
				for _, key := range keys {
					v := c.env(t, svc.name, key)
					host := strings.Split(v, ",")[0]
					if u, err := url.Parse(v); err == nil && u.Host != "" {
						host = u.Host
					}
					dep := c.serviceByHost(hostPort(t, key, host).host)
					if deps[dep] != "service_healthy" {
						t.Errorf("service %s reaches %s through %s but does not wait for it to be healthy", svc.name, dep, key)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// goServices are the services built from this repository, with their
// Prometheus scrape jobs and whether they use ClickHouse.
var goServices = []struct {
	name, job string
	warehouse bool
}{
	{ingestorService, ingestorJob, true},
	{calibratorService, calibratorJob, true},
	{simulatorService, simulatorJob, false},
}

// checkDSN checks that a service's PREFLIGHT_CLICKHOUSE_DSN points at
// ClickHouse's native port with its user and database, and that its password
// comes from the variable ClickHouse's does.
func checkDSN(t *testing.T, c *composeFile, svcName string) {
	t.Helper()
	raw := c.env(t, svcName, "PREFLIGHT_CLICKHOUSE_DSN")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("PREFLIGHT_CLICKHOUSE_DSN: %v", err)
	}
	wantPort, ok := clickhousePorts[u.Scheme]
	if !ok {
		t.Fatalf("PREFLIGHT_CLICKHOUSE_DSN: unknown scheme %q", u.Scheme)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("PREFLIGHT_CLICKHOUSE_DSN %q: no port", raw)
	}
	ch := c.requireEndpoint(t, "PREFLIGHT_CLICKHOUSE_DSN", u.Hostname(), port)
	if ch == "" || c.Services[ch].repository() != "clickhouse/clickhouse-server" {
		t.Fatalf("PREFLIGHT_CLICKHOUSE_DSN host %q is not a ClickHouse service", u.Hostname())
	}
	if port != wantPort {
		t.Errorf("PREFLIGHT_CLICKHOUSE_DSN: scheme %s is served on port %d, not %d", u.Scheme, wantPort, port)
	}
	if got, want := u.User.Username(), c.env(t, ch, "CLICKHOUSE_USER"); got != want {
		t.Errorf("PREFLIGHT_CLICKHOUSE_DSN user %q, but clickhouse creates %q", got, want)
	}
	if got, want := strings.TrimPrefix(u.Path, "/"), c.env(t, ch, "CLICKHOUSE_DB"); got != want {
		t.Errorf("PREFLIGHT_CLICKHOUSE_DSN database %q, but clickhouse creates %q", got, want)
	}
	chVar, _ := requiredRef(c.env(t, ch, "CLICKHOUSE_PASSWORD"))
	inVar, _ := requiredRef(c.env(t, svcName, "PREFLIGHT_CLICKHOUSE_PASSWORD"))
	if chVar == "" || chVar != inVar {
		t.Errorf("the %s's password (%q) and clickhouse's (%q) must come from the same variable", svcName, inVar, chVar)
	}
}

// checkScraped checks that Prometheus scrapes exactly the service's metrics
// port (PREFLIGHT_HTTP_ADDR) in job, and that compose publishes it.
func checkScraped(t *testing.T, c *composeFile, prom *promConfig, svcName, jobName string) {
	t.Helper()
	port := hostPort(t, "PREFLIGHT_HTTP_ADDR", c.env(t, svcName, "PREFLIGHT_HTTP_ADDR")).port
	job := prom.job(t, jobName)
	want := net.JoinHostPort(svcName, strconv.Itoa(port))
	var targets []string
	for _, sc := range job.StaticConfigs {
		targets = append(targets, sc.Targets...)
	}
	if !slices.Equal(targets, []string{want}) {
		t.Errorf("job %s scrapes %v, want [%s]", jobName, targets, want)
	}
	if !slices.ContainsFunc(c.Services[svcName].Ports, func(p portMapping) bool { return p.Target == port && p.Published != 0 }) {
		t.Errorf("the %s does not publish its metrics port %d", svcName, port)
	}
}

// TestNoLiteralSecrets checks that secrets reach the containers only through
// variables of the shell running compose.
func TestNoLiteralSecrets(t *testing.T) {
	c, composeNode := loadCompose(t)
	walk := func(t *testing.T, file string, node *yaml.Node, ok func(string) bool) {
		t.Helper()
		var visit func(n *yaml.Node, secret bool, path string)
		visit = func(n *yaml.Node, secret bool, path string) {
			switch n.Kind {
			case yaml.DocumentNode, yaml.SequenceNode:
				for _, child := range n.Content {
					visit(child, secret, path)
				}
			case yaml.MappingNode:
				for i := 0; i+1 < len(n.Content); i += 2 {
					key := n.Content[i].Value
					s := secret || key == "secureJsonData" ||
						(secretKey.MatchString(key) && !strings.HasSuffix(strings.ToLower(key), "_file"))
					visit(n.Content[i+1], s, path+"."+key)
				}
			case yaml.ScalarNode:
				if secret && n.Tag != "!!null" && n.Tag != "!!bool" && !ok(n.Value) {
					t.Errorf("%s:%d: %s holds a literal value; reference a variable instead", file, n.Line, path)
				}
			}
		}
		visit(node, false, "")
	}
	composeOK := func(v string) bool { _, ok := requiredRef(v); return ok }
	grafanaOK := grafanaRef.MatchString
	never := func(string) bool { return false }
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"compose environment", func(t *testing.T) {
			for name, s := range c.Services {
				for key, v := range s.Environment {
					if secretKey.MatchString(key) && (v == nil || !composeOK(*v)) {
						t.Errorf("service %s: %s must be a ${VAR:?message} reference", name, key)
					}
					if v == nil || !strings.Contains(*v, "://") {
						continue
					}
					if u, err := url.Parse(*v); err == nil {
						if pw, set := u.User.Password(); set && !composeOK(pw) {
							t.Errorf("service %s: %s carries a password in its URL", name, key)
						}
					}
				}
			}
		}},
		{composePath, func(t *testing.T) { walk(t, composePath, composeNode, composeOK) }},
		{prometheusPath, func(t *testing.T) { walk(t, prometheusPath, readYAML(t, prometheusPath, nil), never) }},
		{datasourcesPath, func(t *testing.T) { walk(t, datasourcesPath, readYAML(t, datasourcesPath, nil), grafanaOK) }},
		{dashProvidersPath, func(t *testing.T) { walk(t, dashProvidersPath, readYAML(t, dashProvidersPath, nil), grafanaOK) }},
		{"rule files", func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
			for _, f := range files {
				walk(t, f, readYAML(t, f, nil), never)
			}
		}},
		{dockerfilePath, func(t *testing.T) {
			d := parseDockerfile(t, dockerfilePath)
			for k := range d.globalArgs {
				if secretKey.MatchString(k) {
					t.Errorf("ARG %s: build args end up in the image history; use a secret mount", k)
				}
			}
			for _, st := range d.stages {
				for _, in := range st.instrs {
					name, _, _ := strings.Cut(in.args, "=")
					if f := strings.Fields(name); (in.cmd == "ARG" || in.cmd == "ENV") && len(f) > 0 && secretKey.MatchString(f[0]) {
						t.Errorf("%s:%d: %s %s: secrets must not be baked into the image", dockerfilePath, in.line, in.cmd, name)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// TestPrometheusConfig checks the scrape job and that the rule files are
// mounted where Prometheus looks for them.
func TestPrometheusConfig(t *testing.T) {
	c, _ := loadCompose(t)
	prom := loadPrometheus(t)
	rules := loadRules(t)
	metrics := exportedMetrics(t)
	var jobs []string
	for _, j := range prom.ScrapeConfigs {
		jobs = append(jobs, j.JobName)
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"config is mounted at the image's default path", func(t *testing.T) {
			m, ok := c.mountTarget(t, "prometheus", "/etc/prometheus/prometheus.yml")
			if !ok || filepath.Clean(m.Source) != filepath.Clean(prometheusPath) {
				t.Errorf("prometheus must mount ./%s at /etc/prometheus/prometheus.yml (got %+v)", prometheusPath, m)
			}
		}},
		{"service jobs", func(t *testing.T) {
			for _, svc := range goServices {
				j := prom.job(t, svc.job)
				if got := orDefault(j.MetricsPath, "/metrics"); got != "/metrics" {
					t.Errorf("job %s: metrics_path %q, want /metrics", svc.job, got)
				}
				if got := prom.interval(j); got != "15s" {
					t.Errorf("job %s: scrape interval %q, want 15s", svc.job, got)
				}
			}
		}},
		{"every scrape target is a served service port", func(t *testing.T) {
			for _, j := range prom.ScrapeConfigs {
				for _, sc := range j.StaticConfigs {
					for _, target := range sc.Targets {
						hp := hostPort(t, "scrape target", target)
						c.requireEndpoint(t, "job "+j.JobName, hp.host, hp.port)
					}
				}
			}
		}},
		{"rule_files resolve to every rule file through the mounts", func(t *testing.T) {
			loaded := map[string]bool{}
			for _, pattern := range prom.RuleFiles {
				host, ok := c.hostPathFor(t, "prometheus", pattern)
				if !ok {
					t.Errorf("rule_files %s is not inside any bind mount of the prometheus service", pattern)
					continue
				}
				matches, err := filepath.Glob(host)
				if err != nil || len(matches) == 0 {
					t.Errorf("rule_files %s (%s here) matches no file", pattern, host)
				}
				for _, m := range matches {
					loaded[filepath.Clean(m)] = true
				}
			}
			for f := range rules {
				if !loaded[filepath.Clean(f)] {
					t.Errorf("%s is not loaded by any rule_files pattern", f)
				}
			}
		}},
		{"alerts query the ingestor's metrics and jobs", func(t *testing.T) {
			for f, rf := range rules {
				for _, g := range rf.Groups {
					for _, r := range g.Rules {
						checkPromQL(t, fmt.Sprintf("%s: %s%s", f, r.Alert, r.Record), r.Expr, jobs, metrics)
					}
				}
			}
		}},
		{"alerts are well-formed", func(t *testing.T) {
			names := map[string]bool{}
			for f, rf := range rules {
				for _, g := range rf.Groups {
					for _, r := range g.Rules {
						if r.Alert == "" {
							continue
						}
						if names[r.Alert] {
							t.Errorf("%s: alert %s defined twice", f, r.Alert)
						}
						names[r.Alert] = true
						if r.For == "" {
							t.Errorf("%s: alert %s has no for: duration", f, r.Alert)
						}
						if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
							t.Errorf("%s: alert %s: severity %q, want critical, warning or info", f, r.Alert, r.Labels["severity"])
						}
						if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
							t.Errorf("%s: alert %s needs summary and description annotations", f, r.Alert)
						}
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// TestAlertRules checks that the ingestor's alerts exist and watch what
// their names say.
func TestAlertRules(t *testing.T) {
	byName := map[string]rule{}
	for _, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				byName[r.Alert] = r
			}
		}
	}
	tests := []struct {
		alert, wantExpr, wantFor string
	}{
		{"IngestorDown", `up{job="preflight-ingestor"} == 0`, "2m"},
		{"IngestLagHigh", "ingest_consumer_lag_records", ""},
		{"IngestStalled", "ingest_consumer_lag_records", ""},
		{"IngestDLQRateHigh", "ingest_dlq_records_total", ""},
		{"IngestDLQWriteFailing", "ingest_dlq_produce_errors_total", ""},
		{"IngestInsertErrors", "ingest_insert_errors_total", ""},
		{"IngestInsertLatencyHigh", "ingest_insert_duration_seconds_bucket", ""},
	}
	for _, tt := range tests {
		t.Run(tt.alert, func(t *testing.T) {
			r, ok := byName[tt.alert]
			if !ok {
				t.Fatalf("no alert %s in %s", tt.alert, rulesDir)
			}
			if !strings.Contains(r.Expr, tt.wantExpr) {
				t.Errorf("expr %q does not use %s", r.Expr, tt.wantExpr)
			}
			if tt.wantFor != "" && r.For != tt.wantFor {
				t.Errorf("for: %q, want %s", r.For, tt.wantFor)
			}
		})
	}
}

// TestRuleTests checks the promtool unit tests against the rules, the
// ingestor's metrics and Preflight's topics; TestPromtool runs them.
func TestRuleTests(t *testing.T) {
	c, _ := loadCompose(t)
	prom := loadPrometheus(t)
	metrics := exportedMetrics(t)
	ruleTests := loadRuleTests(t)
	var jobs []string
	for _, j := range prom.ScrapeConfigs {
		jobs = append(jobs, j.JobName)
	}
	var alerts []string
	for _, rf := range loadRules(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					alerts = append(alerts, r.Alert)
				}
			}
		}
	}
	// The ingestor consumes the event topics; its topic labels name them.
	prefix := c.env(t, ingestorService, "PREFLIGHT_TOPIC_PREFIX")
	var topics []string
	for _, ty := range schemas.Types {
		topics = append(topics, ty.Topic(prefix))
	}
	topicMatcher := regexp.MustCompile(`\btopic\s*=~?\s*"([^"]*)"`)
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"rule_files are the rule files", func(t *testing.T) {
			for f, rt := range ruleTests {
				if len(rt.RuleFiles) == 0 {
					t.Errorf("%s: no rule_files", f)
				}
				for _, rf := range rt.RuleFiles {
					p := filepath.Join(filepath.Dir(f), rf)
					if filepath.Dir(filepath.Clean(p)) != filepath.Clean(rulesDir) {
						t.Errorf("%s: rule_files %s is not in %s", f, rf, rulesDir)
					} else if _, err := os.Stat(p); err != nil {
						t.Errorf("%s: rule_files %s: %v", f, rf, err)
					}
				}
			}
		}},
		{"every alert is tested firing and quiet", func(t *testing.T) {
			fires, quiet := map[string]bool{}, map[string]bool{}
			for f, rt := range ruleTests {
				for _, tc := range rt.Tests {
					for _, at := range tc.AlertRuleTests {
						if !slices.Contains(alerts, at.Alertname) {
							t.Errorf("%s: test %q checks alert %q, which no rule in %s defines", f, tc.Name, at.Alertname, rulesDir)
						}
						if len(at.ExpAlerts) > 0 {
							fires[at.Alertname] = true
						} else {
							quiet[at.Alertname] = true
						}
					}
				}
			}
			for _, a := range alerts {
				if !fires[a] {
					t.Errorf("alert %s has no unit test in %s in which it fires", a, ruleTestsDir)
				}
				if !quiet[a] {
					t.Errorf("alert %s has no unit test in %s in which it stays quiet", a, ruleTestsDir)
				}
			}
		}},
		{"input series are the ingestor's metrics", func(t *testing.T) {
			for f, rt := range ruleTests {
				for _, tc := range rt.Tests {
					for _, in := range tc.InputSeries {
						checkPromQL(t, fmt.Sprintf("%s: test %q", f, tc.Name), in.Series, jobs, metrics)
					}
				}
			}
		}},
		{"topics are Preflight's event topics", func(t *testing.T) {
			check := func(where, topic string) {
				if !slices.Contains(topics, topic) {
					t.Errorf("%s: topic %q is not a topic the ingestor consumes (%v)", where, topic, topics)
				}
			}
			for f, rt := range ruleTests {
				for _, tc := range rt.Tests {
					where := fmt.Sprintf("%s: test %q", f, tc.Name)
					for _, in := range tc.InputSeries {
						for _, m := range topicMatcher.FindAllStringSubmatch(in.Series, -1) {
							check(where, m[1])
						}
					}
					for _, at := range tc.AlertRuleTests {
						for _, exp := range at.ExpAlerts {
							if topic, ok := exp.ExpLabels["topic"]; ok {
								check(where, topic)
							}
						}
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// TestGrafanaProvisioning checks the data sources and the dashboard provider
// against the compose services.
func TestGrafanaProvisioning(t *testing.T) {
	c, _ := loadCompose(t)
	ds := loadDatasources(t)
	prom := loadPrometheus(t)
	grafana := c.svc(t, "grafana")
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"provisioning is mounted", func(t *testing.T) {
			m, ok := c.mountTarget(t, "grafana", "/etc/grafana/provisioning")
			if !ok || filepath.Clean(m.Source) != filepath.Dir(filepath.Dir(filepath.Clean(datasourcesPath))) {
				t.Errorf("grafana must mount ./grafana/provisioning at /etc/grafana/provisioning (got %+v)", m)
			}
		}},
		{"expected data sources", func(t *testing.T) {
			want := map[string]string{"prometheus": "prometheus", "clickhouse": "grafana-clickhouse-datasource"}
			uids, names := map[string]bool{}, map[string]bool{}
			for _, d := range ds.Datasources {
				if uids[d.UID] || names[d.Name] {
					t.Errorf("data source %s (uid %s) is provisioned twice", d.Name, d.UID)
				}
				uids[d.UID], names[d.Name] = true, true
				if typ, ok := want[d.UID]; ok && typ != d.Type {
					t.Errorf("data source uid %s has type %s, want %s", d.UID, d.Type, typ)
				}
			}
			for uid := range want {
				if !uids[uid] {
					t.Errorf("no data source with uid %s", uid)
				}
			}
		}},
		{"plugin data sources are installed", func(t *testing.T) {
			installed, _ := grafana.Environment.get("GF_INSTALL_PLUGINS")
			var plugins []string
			for _, p := range strings.Split(installed, ",") {
				if f := strings.Fields(p); len(f) > 0 {
					plugins = append(plugins, f[0])
				}
			}
			for _, d := range ds.Datasources {
				if !slices.Contains(grafanaBuiltinTypes, d.Type) && !slices.Contains(plugins, d.Type) {
					t.Errorf("data source %s needs plugin %s, which GF_INSTALL_PLUGINS (%q) does not install", d.Name, d.Type, installed)
				}
			}
		}},
		{"data sources point at served service ports", func(t *testing.T) {
			for _, d := range ds.Datasources {
				if d.URL != "" {
					u, err := url.Parse(d.URL)
					if err != nil || u.Port() == "" {
						t.Errorf("data source %s: url %q needs an explicit port", d.Name, d.URL)
						continue
					}
					port, _ := strconv.Atoi(u.Port())
					c.requireEndpoint(t, "data source "+d.Name, u.Hostname(), port)
				}
				if host, ok := d.JSONData["host"].(string); ok {
					port, _ := strconv.Atoi(fmt.Sprint(d.JSONData["port"]))
					name := c.requireEndpoint(t, "data source "+d.Name, host, port)
					if proto := fmt.Sprint(d.JSONData["protocol"]); name != "" && c.Services[name].repository() == "clickhouse/clickhouse-server" && clickhousePorts[proto] != port {
						t.Errorf("data source %s: protocol %s is served on port %d, not %d", d.Name, proto, clickhousePorts[proto], port)
					}
				}
			}
		}},
		{"clickhouse data source uses the compose credentials", func(t *testing.T) {
			for _, d := range ds.Datasources {
				if d.Type != "grafana-clickhouse-datasource" {
					continue
				}
				ch := c.serviceByHost(fmt.Sprint(d.JSONData["host"]))
				if ch == "" {
					t.Fatalf("data source %s: host %v is not a service", d.Name, d.JSONData["host"])
				}
				if got, want := fmt.Sprint(d.JSONData["username"]), c.env(t, ch, "CLICKHOUSE_USER"); got != want {
					t.Errorf("data source %s: username %q, clickhouse creates %q", d.Name, got, want)
				}
				if got, want := fmt.Sprint(d.JSONData["defaultDatabase"]), c.env(t, ch, "CLICKHOUSE_DB"); got != want {
					t.Errorf("data source %s: defaultDatabase %q, clickhouse creates %q", d.Name, got, want)
				}
				m := grafanaRef.FindStringSubmatch(d.SecureJSONData["password"])
				if m == nil {
					t.Fatalf("data source %s: password must be a $VAR reference", d.Name)
				}
				gfVar, _ := requiredRef(c.env(t, "grafana", m[1]+m[2]))
				chVar, _ := requiredRef(c.env(t, ch, "CLICKHOUSE_PASSWORD"))
				if gfVar == "" || gfVar != chVar {
					t.Errorf("data source %s: grafana's %s (from %q) and clickhouse's password (from %q) must come from the same variable",
						d.Name, m[1]+m[2], gfVar, chVar)
				}
			}
		}},
		{"variables used in provisioning are set for grafana", func(t *testing.T) {
			for _, file := range []string{datasourcesPath, dashProvidersPath} {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(string(data), -1) {
					if _, ok := grafana.Environment.get(m[1]); !ok {
						t.Errorf("%s uses $%s, which the grafana service's environment does not set", file, m[1])
					}
				}
			}
		}},
		{"prometheus data source interval matches the scrape interval", func(t *testing.T) {
			for _, d := range ds.Datasources {
				if d.Type == "prometheus" {
					if got, want := fmt.Sprint(d.JSONData["timeInterval"]), prom.interval(prom.job(t, ingestorJob)); got != want {
						t.Errorf("data source %s: timeInterval %s, but Prometheus scrapes every %s", d.Name, got, want)
					}
				}
			}
		}},
		{"dashboard provider path is mounted from the dashboards", func(t *testing.T) {
			var pf providersFile
			readYAML(t, dashProvidersPath, &pf)
			if pf.APIVersion != 1 || len(pf.Providers) == 0 {
				t.Fatalf("%s: want apiVersion 1 and a provider", dashProvidersPath)
			}
			for _, p := range pf.Providers {
				if p.Type != "file" {
					t.Errorf("provider %s: type %q, want file", p.Name, p.Type)
					continue
				}
				host, ok := c.hostPathFor(t, "grafana", p.Options.Path)
				if !ok {
					t.Errorf("provider %s: %s is not mounted into grafana", p.Name, p.Options.Path)
					continue
				}
				if files, _ := filepath.Glob(filepath.Join(host, "*.json")); len(files) == 0 {
					t.Errorf("provider %s: %s (%s here) holds no dashboard", p.Name, p.Options.Path, host)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// TestDashboards checks every provisioned dashboard's data sources and queries.
func TestDashboards(t *testing.T) {
	c, _ := loadCompose(t)
	ds := loadDatasources(t)
	prom := loadPrometheus(t)
	var jobs []string
	for _, j := range prom.ScrapeConfigs {
		jobs = append(jobs, j.JobName)
	}
	metrics := exportedMetrics(t)
	types := map[string]string{}
	for _, d := range ds.Datasources {
		types[d.UID] = d.Type
	}
	uids := map[string]string{}
	for _, dir := range dashboardDirs(t, c) {
		for file, d := range loadDashboards(t, dir) {
			t.Run(filepath.Base(file), func(t *testing.T) {
				checkRef := func(where string, raw json.RawMessage) {
					t.Helper()
					var ref dsRef
					if err := json.Unmarshal(raw, &ref); err != nil {
						t.Errorf("%s: datasource %s must be {type, uid}", where, raw)
						return
					}
					typ, ok := types[ref.UID]
					if !ok {
						t.Errorf("%s: datasource uid %q is not provisioned in %s", where, ref.UID, datasourcesPath)
					} else if ref.Type != "" && ref.Type != typ {
						t.Errorf("%s: datasource uid %s has type %s, not %s", where, ref.UID, typ, ref.Type)
					}
				}
				if d.UID == "" || d.Title == "" {
					t.Errorf("dashboard needs a uid and a title")
				}
				if prev, dup := uids[d.UID]; dup {
					t.Errorf("uid %s is also used by %s", d.UID, prev)
				}
				uids[d.UID] = file
				if len(d.allPanels()) == 0 {
					t.Errorf("no panels")
				}
				for _, p := range d.allPanels() {
					where := fmt.Sprintf("panel %d (%s)", p.ID, p.Title)
					if len(p.Targets) > 0 && len(p.Datasource) == 0 {
						t.Errorf("%s: queries without a panel datasource", where)
					}
					if len(p.Datasource) > 0 {
						checkRef(where, p.Datasource)
					}
					for _, tg := range p.Targets {
						if len(tg.Datasource) > 0 {
							checkRef(where+" target "+tg.RefID, tg.Datasource)
						}
					}
				}
				for _, v := range d.Templating.List {
					if v.Type == "query" {
						checkRef("variable "+v.Name, v.Datasource)
					}
				}
				for _, a := range d.Annotations.List {
					if a.BuiltIn == 0 {
						checkRef("annotation "+a.Name, a.Datasource)
					}
				}
				for _, q := range d.queries() {
					checkPromQL(t, q.where, q.expr, jobs, metrics)
				}
			})
		}
	}
}

// TestDockerfile checks the Dockerfile against the repository and the
// compose file.
func TestDockerfile(t *testing.T) {
	c, _ := loadCompose(t)
	d := parseDockerfile(t, dockerfilePath)
	builder, buildRun := d.builder(t)
	pkgs := map[string]string{} // TARGET value -> package it builds
	for _, m := range regexp.MustCompile(`\b([a-z0-9_-]+)\)\s*pkg=(\./cmd/[a-z0-9_-]+)`).FindAllStringSubmatch(buildRun.args, -1) {
		pkgs[m[1]] = m[2]
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"builder matches go.mod's Go version", func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			m := regexp.MustCompile(`(?m)^go\s+(\d+\.\d+)`).FindSubmatch(data)
			if m == nil {
				t.Fatal("go.mod has no go directive")
			}
			if want := "golang:" + string(m[1]) + "-bookworm"; builder.base != want {
				t.Errorf("builder image %s, want %s", builder.base, want)
			}
		}},
		{"binaries are static", func(t *testing.T) {
			if !strings.Contains(buildRun.args, "CGO_ENABLED=0") {
				t.Errorf("go build runs without CGO_ENABLED=0: %s", buildRun.args)
			}
		}},
		{"builds the ingestor, the calibrator, the simulator and the CLI", func(t *testing.T) {
			for _, want := range []string{"ingestor", "calibrator", "simulator", "preflight"} {
				if pkgs[want] != "./cmd/"+want {
					t.Errorf("TARGET=%s should build ./cmd/%s (Dockerfile maps %v)", want, want, pkgs)
				}
			}
			if def := d.globalArgs["TARGET"]; def != "ingestor" {
				t.Errorf("ARG TARGET defaults to %q, want ingestor", def)
			}
		}},
		{"build paths exist", func(t *testing.T) {
			paths := regexp.MustCompile(`\./cmd/[a-z0-9_-]+`).FindAllString(buildRun.args, -1)
			if len(paths) == 0 {
				t.Fatalf("go build names no ./cmd/ package")
			}
			for _, p := range paths {
				dir := filepath.Join(repoRoot, filepath.FromSlash(p))
				fi, err := os.Stat(dir)
				if os.IsNotExist(err) && slices.Contains(commandsInProgress, p) {
					t.Logf("%s does not exist yet (being written; see commandsInProgress)", p)
					continue
				}
				if err != nil || !fi.IsDir() {
					t.Errorf("%s: %s is not a directory of the repository", dockerfilePath, p)
					continue
				}
				files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
				if len(files) == 0 {
					continue // being written; the directory is enough for now
				}
				if !slices.ContainsFunc(files, func(f string) bool {
					data, _ := os.ReadFile(f)
					return regexp.MustCompile(`(?m)^package main\b`).Match(data)
				}) {
					t.Errorf("%s is not a main package", p)
				}
			}
		}},
		{"each target's image runs its binary on distroless", func(t *testing.T) {
			out := regexp.MustCompile(`-o\s+"?([^"\s]+)"?`).FindStringSubmatch(buildRun.args)
			if out == nil {
				t.Fatalf("go build has no -o output")
			}
			for target := range pkgs {
				chain, root := d.resolve(t, target)
				if !strings.HasPrefix(root, "gcr.io/distroless/") || !strings.HasSuffix(root, ":nonroot") {
					t.Errorf("TARGET=%s: runtime image %s, want a gcr.io/distroless/...:nonroot image", target, root)
				}
				binary := expand(out[1], map[string]string{"TARGET": target})
				var entrypoint []string
				for _, st := range slices.Backward(chain) {
					for _, in := range st.instrs {
						if in.cmd == "ENTRYPOINT" {
							if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
								t.Errorf("%s:%d: ENTRYPOINT must be exec form: %v", dockerfilePath, in.line, err)
							}
						}
					}
				}
				copied := copiedFrom(chain, builder.name)
				if len(entrypoint) == 0 || copied[entrypoint[0]] != binary {
					t.Errorf("TARGET=%s: ENTRYPOINT %v is not the binary %s built in stage %s (copied: %v)", target, entrypoint, binary, builder.name, copied)
				}
			}
		}},
		{"the ingestor does not import chdb-go", func(t *testing.T) {
			// go list -deps ./cmd/ingestor | grep chdb must print nothing:
			// the ingestor image is static and has no libchdb.so.
			for _, dep := range goListDeps(t, "./cmd/ingestor") {
				if strings.Contains(dep, "chdb") {
					t.Errorf("./cmd/ingestor depends on %s; the ingestor image (%s) cannot load libchdb.so", dep, staticRuntime)
				}
			}
		}},
		{"the preflight CLI imports chdb-go", func(t *testing.T) {
			// The reason its image needs glibc and libchdb.so.
			if !slices.ContainsFunc(goListDeps(t, "./cmd/preflight"), usesChdb) {
				t.Errorf("./cmd/preflight no longer imports %s: its image can be static again; update this test and the Dockerfile", chdbModule)
			}
		}},
		{"the calibrator does not import chdb-go", func(t *testing.T) {
			// It reaches ClickHouse over the network; its image is static.
			if inProgress(calibratorPkg) {
				t.Skipf("%s is not written yet", calibratorPkg)
			}
			for _, dep := range goListDeps(t, calibratorPkg) {
				if usesChdb(dep) {
					t.Errorf("%s depends on %s; the calibrator image (%s) cannot load libchdb.so", calibratorPkg, dep, staticRuntime)
				}
			}
		}},
		{"images of binaries that load libchdb.so have glibc and the library", func(t *testing.T) {
			lib := d.chdbStage(t)
			for target, pkg := range pkgs {
				if inProgress(pkg) {
					t.Logf("TARGET=%s: %s is not written yet; not checked", target, pkg)
					continue
				}
				chain, root := d.resolve(t, target)
				var libSrc string
				for dst, src := range copiedFrom(chain, lib.name) {
					if dst == chdbLibPath {
						libSrc = src
					}
				}
				if slices.ContainsFunc(goListDeps(t, pkg), usesChdb) {
					// chdb-purego dlopens libchdb.so in an init() and panics
					// without it; dlopen needs glibc's loader even with
					// CGO_ENABLED=0, and libchdb.so links against glibc.
					if !slices.Contains(glibcRuntimes, root) {
						t.Errorf("TARGET=%s: %s imports %s, so its runtime image must have glibc (one of %v), not %s", target, pkg, chdbModule, glibcRuntimes, root)
					}
					if path.Base(libSrc) != "libchdb.so" {
						t.Errorf("TARGET=%s: %s imports %s, so its image must COPY --from=%s .../libchdb.so %s (chdb-go panics at start without it)", target, pkg, chdbModule, lib.name, chdbLibPath)
					}
					continue
				}
				if root != staticRuntime {
					t.Errorf("TARGET=%s: %s does not load libchdb.so; its runtime image should be %s, not %s", target, pkg, staticRuntime, root)
				}
				if libSrc != "" {
					t.Errorf("TARGET=%s: %s does not use chdb-go, but its image ships %s", target, pkg, chdbLibPath)
				}
			}
		}},
		{"libchdb.so comes from the npm package and version install-chdb.sh uses", func(t *testing.T) {
			data, err := os.ReadFile(installChdbPath)
			if err != nil {
				t.Fatal(err)
			}
			pkgM := regexp.MustCompile(`(?m)^CHDB_NPM_PACKAGE=(\S+)$`).FindSubmatch(data)
			verM := regexp.MustCompile(`(?m)^CHDB_NPM_VERSION=\$\{CHDB_NPM_VERSION:-([^}\s]+)\}$`).FindSubmatch(data)
			if pkgM == nil || verM == nil {
				t.Fatalf("%s: cannot find CHDB_NPM_PACKAGE=... and CHDB_NPM_VERSION=${CHDB_NPM_VERSION:-...}", installChdbPath)
			}
			lib := d.chdbStage(t)
			var runs []string
			for _, in := range lib.instrs {
				if in.cmd == "RUN" {
					runs = append(runs, expand(in.args, d.stageArgs(lib)))
				}
			}
			run := strings.Join(runs, "\n")
			var packed []string
			for _, m := range regexp.MustCompile(`npm\s+pack\s[^;&|\n]*?"?(@[a-z0-9._-]+/[a-z0-9._-]+)@([^\s"';&|]+)`).FindAllStringSubmatch(run, -1) {
				packed = append(packed, m[1]+"@"+m[2])
			}
			if !strings.Contains(run, "package/libchdb.so") {
				t.Errorf("stage %s does not extract package/libchdb.so from the npm package", lib.name)
			}
			want := string(pkgM[1]) + "@" + string(verM[1])
			if !slices.Equal(packed, []string{want}) {
				t.Errorf("stage %s runs npm pack on %v, want [%s] as in %s", lib.name, packed, want, installChdbPath)
			}
		}},
		{"exposes the metrics port", func(t *testing.T) {
			for _, svc := range goServices {
				t.Run(svc.name, func(t *testing.T) { checkExposed(t, c, d, svc.name) })
			}
		}},
		{"compose builds a known target from the repository root", func(t *testing.T) {
			for name, s := range c.Services {
				if s.Build == nil {
					continue
				}
				if _, err := os.Stat(filepath.Join(s.Build.Context, "go.mod")); err != nil {
					t.Errorf("service %s: build context %s is not the repository root", name, s.Build.Context)
				}
				df := filepath.Join(s.Build.Context, orDefault(s.Build.Dockerfile, "Dockerfile"))
				if same, err := sameFile(df, dockerfilePath); err != nil || !same {
					t.Errorf("service %s: builds %s, not %s", name, df, dockerfilePath)
				}
				target := orDefault(s.Build.Args["TARGET"], d.globalArgs["TARGET"])
				if _, ok := pkgs[target]; !ok {
					t.Errorf("service %s: TARGET %q is not one the Dockerfile builds", name, target)
				}
				if want := map[string]string{ingestorService: "ingestor", calibratorService: "calibrator", simulatorService: "simulator"}[name]; want != "" && target != want {
					t.Errorf("service %s builds TARGET %q, want %s", name, target, want)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// checkExposed checks that the image of a service's build target exposes
// its metrics port.
func checkExposed(t *testing.T, c *composeFile, d *dockerfile, svcName string) {
	t.Helper()
	port := strconv.Itoa(hostPort(t, "PREFLIGHT_HTTP_ADDR", c.env(t, svcName, "PREFLIGHT_HTTP_ADDR")).port)
	target := orDefault(c.svc(t, svcName).Build.Args["TARGET"], d.globalArgs["TARGET"])
	chain, _ := d.resolve(t, target)
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
		t.Errorf("%s image exposes %v, want %s", target, exposed, port)
	}
}

// inProgress reports whether pkg is one of commandsInProgress and has no Go
// files yet.
func inProgress(pkg string) bool {
	files, _ := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(pkg), "*.go"))
	return slices.Contains(commandsInProgress, pkg) && len(files) == 0
}

// TestPromtool validates the Prometheus files, the alert unit tests and the
// dashboard queries with promtool.
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH: install Debian's prometheus package "+
			"(DEBIAN_FRONTEND=noninteractive apt-get install -y prometheus), as CI does: %v", err)
	}
	run := func(t *testing.T, args ...string) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	c, _ := loadCompose(t)
	prom := loadPrometheus(t)
	ruleFiles, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	ruleTests, _ := filepath.Glob(filepath.Join(ruleTestsDir, "*.yml"))
	if len(ruleFiles) == 0 || len(ruleTests) == 0 {
		t.Fatalf("want rule files in %s and their unit tests in %s", rulesDir, ruleTestsDir)
	}
	type step struct {
		name string
		args func(t *testing.T) []string
	}
	var steps []step
	for _, f := range ruleFiles {
		steps = append(steps, step{"check rules " + f, func(*testing.T) []string { return []string{"check", "rules", f} }})
	}
	for _, f := range ruleTests {
		steps = append(steps, step{"test rules " + f, func(*testing.T) []string { return []string{"test", "rules", f} }})
	}
	steps = append(steps,
		step{"check config with mounts resolved", func(t *testing.T) []string {
			// prometheus.yml names container paths; point them at this checkout.
			var raw map[string]any
			readYAML(t, prometheusPath, &raw)
			var local []string
			for _, p := range prom.RuleFiles {
				host, ok := c.hostPathFor(t, "prometheus", p)
				if !ok {
					t.Fatalf("rule_files %s is not mounted into prometheus", p)
				}
				abs, err := filepath.Abs(host)
				if err != nil {
					t.Fatal(err)
				}
				local = append(local, abs)
			}
			raw["rule_files"] = local
			return []string{"check", "config", writeYAML(t, "prometheus.yml", raw)}
		}},
		step{"dashboard queries parse", func(t *testing.T) []string {
			// Grafana's variables become values PromQL accepts; each query
			// becomes a recording rule that promtool parses.
			vars := regexp.MustCompile(`\$\{?(\w+)(:\w+)?\}?`)
			var records []map[string]string
			for _, dir := range dashboardDirs(t, c) {
				for _, d := range loadDashboards(t, dir) {
					for i, q := range d.queries() {
						if strings.HasPrefix(q.where, "variable ") {
							continue // label_values() is Grafana's, not PromQL
						}
						expr := vars.ReplaceAllStringFunc(q.expr, func(v string) string {
							if strings.Contains(v, "__") {
								return "5m"
							}
							return ".*"
						})
						records = append(records, map[string]string{
							"record": fmt.Sprintf("dashboard:%s:query%d", strings.ReplaceAll(d.UID, "-", "_"), i),
							"expr":   expr,
						})
					}
				}
			}
			if len(records) == 0 {
				t.Fatal("no dashboard queries found")
			}
			file := writeYAML(t, "dashboards.rules.yml", map[string]any{
				"groups": []any{map[string]any{"name": "dashboards", "rules": records}},
			})
			return []string{"check", "rules", file}
		}},
	)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { run(t, s.args(t)...) })
	}
}
