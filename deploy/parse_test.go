package deploy

// Parsers for the files under test: compose.yaml, the Dockerfile, the
// Prometheus and Grafana files, and the repository facts they depend on (the
// ingestor's metrics in ingest/metrics.go, package imports from go list).
// Only what the tests check is modelled.

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ---------------------------------------------------------------------------
// compose.yaml

// composeFile is compose.yaml.
type composeFile struct {
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
}

// service is one entry of services.
type service struct {
	Image       string        `yaml:"image"`
	Hostname    string        `yaml:"hostname"`
	Build       *buildSpec    `yaml:"build"`
	DependsOn   dependsOn     `yaml:"depends_on"`
	Environment environment   `yaml:"environment"`
	Ports       []portMapping `yaml:"ports"`
	Volumes     []mount       `yaml:"volumes"`
	Healthcheck *struct {
		Test    any  `yaml:"test"`
		Disable bool `yaml:"disable"`
	} `yaml:"healthcheck"`
}

// repository is the image name without its tag.
func (s *service) repository() string {
	name := s.Image
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name
}

// buildSpec is a service's build section.
type buildSpec struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// UnmarshalYAML accepts the short (context only) and the long form.
func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return n.Decode((*plain)(b))
}

// dependsOn maps a dependency to its condition (service_started by default).
type dependsOn map[string]string

// UnmarshalYAML accepts a list of services or a mapping with conditions.
func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for name, dep := range m {
			cond := dep.Condition
			if cond == "" {
				cond = "service_started"
			}
			(*d)[name] = cond
		}
	default:
		return fmt.Errorf("line %d: depends_on must be a list or a mapping", n.Line)
	}
	return nil
}

// environment maps a variable to its value; nil means passed through from
// the shell running compose.
type environment map[string]*string

// UnmarshalYAML accepts a KEY=VALUE list or a mapping and rejects
// variables set twice.
func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	set := func(line int, key string, value *string) error {
		if _, dup := (*e)[key]; dup {
			return fmt.Errorf("line %d: environment variable %s set twice", line, key)
		}
		(*e)[key] = value
		return nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			key, value, ok := strings.Cut(item.Value, "=")
			var v *string
			if ok {
				v = &value
			}
			if err := set(item.Line, key, v); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var value *string
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			case v.Kind == yaml.ScalarNode:
				s := v.Value
				value = &s
			default:
				return fmt.Errorf("line %d: environment value of %s must be a scalar", v.Line, k.Value)
			}
			if err := set(k.Line, k.Value, value); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("line %d: environment must be a list or a mapping", n.Line)
	}
	return nil
}

// get returns the value of key and whether it is set to a value.
func (e environment) get(key string) (string, bool) {
	if v := e[key]; v != nil {
		return *v, true
	}
	return "", false
}

// portMapping is one entry of a service's ports.
type portMapping struct {
	HostIP    string
	Published int // 0: the engine picks a host port
	Target    int
	Protocol  string
}

// UnmarshalYAML accepts the short and the long port syntax.
func (p *portMapping) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Target    int    `yaml:"target"`
			Published string `yaml:"published"`
			HostIP    string `yaml:"host_ip"`
			Protocol  string `yaml:"protocol"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*p = portMapping{HostIP: long.HostIP, Target: long.Target, Protocol: orDefault(long.Protocol, "tcp")}
		if long.Published != "" {
			pub, err := strconv.Atoi(long.Published)
			if err != nil {
				return fmt.Errorf("line %d: published port %q: %v", n.Line, long.Published, err)
			}
			p.Published = pub
		}
		return nil
	}
	parsed, err := parseShortPort(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*p = parsed
	return nil
}

// parseShortPort parses "[HOST_IP:][HOST:]CONTAINER[/PROTO]".
func parseShortPort(s string) (portMapping, error) {
	spec, proto, _ := strings.Cut(s, "/")
	p := portMapping{Protocol: orDefault(proto, "tcp")}
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]:")
		if end < 0 {
			return p, fmt.Errorf("port %q: bad IPv6 host address", s)
		}
		p.HostIP, spec = spec[1:end], spec[end+2:]
	}
	parts := strings.Split(spec, ":")
	if len(parts) == 3 && p.HostIP == "" {
		p.HostIP, parts = parts[0], parts[1:]
	}
	if len(parts) > 2 {
		return p, fmt.Errorf("port %q: too many fields", s)
	}
	num := func(v string) (int, error) {
		if strings.Contains(v, "-") {
			return 0, fmt.Errorf("port %q: ranges are not supported by these tests", s)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			return 0, fmt.Errorf("port %q: %q is not a port", s, v)
		}
		return n, nil
	}
	var err error
	if p.Target, err = num(parts[len(parts)-1]); err != nil {
		return p, err
	}
	if len(parts) == 2 && parts[0] != "" {
		if p.Published, err = num(parts[0]); err != nil {
			return p, err
		}
	}
	return p, nil
}

// mount is one entry of a service's volumes.
type mount struct {
	Type     string // bind, volume or tmpfs
	Source   string
	Target   string
	ReadOnly bool
}

// UnmarshalYAML accepts the short and the long volume syntax.
func (m *mount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Type     string `yaml:"type"`
			Source   string `yaml:"source"`
			Target   string `yaml:"target"`
			ReadOnly bool   `yaml:"read_only"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*m = mount(long)
		return nil
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		*m = mount{Type: "volume", Target: parts[0]}
		return nil
	case 2, 3:
		*m = mount{Source: parts[0], Target: parts[1], Type: "volume"}
		if len(parts) == 3 {
			m.ReadOnly = slices.Contains(strings.Split(parts[2], ","), "ro")
		}
		if strings.HasPrefix(m.Source, ".") || strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, "~") {
			m.Type = "bind"
		}
		return nil
	}
	return fmt.Errorf("line %d: volume %q: too many fields", n.Line, n.Value)
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// composeTopKeys and composeServiceKeys are the keys of the compose
// specification; compose rejects any other key (x- extensions aside).
var (
	composeTopKeys     = strings.Fields("name version services volumes networks configs secrets include models")
	composeServiceKeys = strings.Fields(`annotations attach blkio_config build cap_add cap_drop cgroup
		cgroup_parent command configs container_name cpu_count cpu_percent cpu_period cpu_quota
		cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec depends_on deploy develop
		device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file environment
		expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc
		isolation labels label_file links logging mac_address mem_limit mem_reservation mem_swappiness
		memswap_limit network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform
		ports post_start pre_stop privileged profiles provider pull_policy read_only restart runtime
		scale secrets security_opt shm_size stdin_open stop_grace_period stop_signal storage_opt
		sysctls tmpfs tty ulimits use_api_socket user userns_mode uts volumes volumes_from working_dir`)
)

// loadCompose parses compose.yaml, returning it decoded and as a node tree.
func loadCompose(t *testing.T) (*composeFile, *yaml.Node) {
	t.Helper()
	var c composeFile
	node := readYAML(t, composePath, &c)
	if len(c.Services) == 0 {
		t.Fatalf("%s: no services", composePath)
	}
	return &c, node
}

// svc returns the named service or fails the test.
func (c *composeFile) svc(t *testing.T, name string) *service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok || s == nil {
		t.Fatalf("%s: no service %q", composePath, name)
	}
	return s
}

// env returns a service's environment variable or fails the test.
func (c *composeFile) env(t *testing.T, svcName, key string) string {
	t.Helper()
	v, ok := c.svc(t, svcName).Environment.get(key)
	if !ok {
		t.Fatalf("%s: service %s: environment %s is not set", composePath, svcName, key)
	}
	return v
}

// servedPorts returns the container ports a service listens on.
func (c *composeFile) servedPorts(t *testing.T, name string) []int {
	t.Helper()
	s := c.svc(t, name)
	if addr, ok := s.Environment.get("PREFLIGHT_HTTP_ADDR"); ok {
		ports := []int{hostPort(t, "PREFLIGHT_HTTP_ADDR", addr).port}
		if api, ok := s.Environment.get("PREFLIGHT_API_ADDR"); ok { // the simulator's API
			ports = append(ports, hostPort(t, "PREFLIGHT_API_ADDR", api).port)
		}
		return ports
	}
	if s.repository() == "apache/kafka" {
		var ports []int
		for _, l := range parseListeners(t, c.env(t, name, "KAFKA_LISTENERS")) {
			ports = append(ports, l.port)
		}
		return ports
	}
	ports, ok := imagePorts[s.repository()]
	if !ok {
		t.Fatalf("service %s: no known ports for image %q; add it to imagePorts", name, s.Image)
	}
	return ports
}

// serviceByHost returns the name of the service reachable on the compose
// network as host (its name or its hostname), or "".
func (c *composeFile) serviceByHost(host string) string {
	if _, ok := c.Services[host]; ok {
		return host
	}
	for name, s := range c.Services {
		if s != nil && s.Hostname != "" && s.Hostname == host {
			return name
		}
	}
	return ""
}

// requireEndpoint fails unless host names a service that serves port.
func (c *composeFile) requireEndpoint(t *testing.T, what, host string, port int) string {
	t.Helper()
	name := c.serviceByHost(host)
	if name == "" {
		t.Errorf("%s: host %q is not a service in %s", what, host, composePath)
		return ""
	}
	if served := c.servedPorts(t, name); !slices.Contains(served, port) {
		t.Errorf("%s: port %d is not served by service %s (it serves %v)", what, port, name, served)
	}
	return name
}

// mountTarget returns the mount of a service whose container path is target.
func (c *composeFile) mountTarget(t *testing.T, svcName, target string) (mount, bool) {
	t.Helper()
	for _, m := range c.svc(t, svcName).Volumes {
		if path.Clean(m.Target) == path.Clean(target) {
			return m, true
		}
	}
	return mount{}, false
}

// hostPathFor maps a path inside a service's container to this checkout
// through the service's bind mounts.
func (c *composeFile) hostPathFor(t *testing.T, svcName, containerPath string) (string, bool) {
	t.Helper()
	best, bestLen := "", -1
	for _, m := range c.svc(t, svcName).Volumes {
		tgt := path.Clean(m.Target)
		if m.Type != "bind" || !(containerPath == tgt || strings.HasPrefix(containerPath, tgt+"/")) {
			continue
		}
		if len(tgt) > bestLen {
			best = filepath.Join(filepath.FromSlash(m.Source), filepath.FromSlash(strings.TrimPrefix(containerPath, tgt)))
			bestLen = len(tgt)
		}
	}
	return best, bestLen >= 0
}

// hostPortPair is a parsed host:port.
type hostPortPair struct {
	host string
	port int
}

// hostPort parses "host:port" (host may be empty).
func hostPort(t *testing.T, what, s string) hostPortPair {
	t.Helper()
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%s: %q is not host:port: %v", what, s, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %q: bad port: %v", what, s, err)
	}
	return hostPortPair{h, n}
}

// listener is a Kafka listener NAME://host:port.
type listener struct {
	name string
	hostPortPair
}

// parseListeners parses Kafka's NAME://host:port,... lists.
func parseListeners(t *testing.T, s string) []listener {
	t.Helper()
	var ls []listener
	for _, item := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(item), "://")
		if !ok {
			t.Fatalf("kafka listener %q is not NAME://host:port", item)
		}
		ls = append(ls, listener{name, hostPort(t, "kafka listener", addr)})
	}
	return ls
}

// findListener returns the listener called name.
func findListener(ls []listener, name string) (listener, bool) {
	for _, l := range ls {
		if l.name == name {
			return l, true
		}
	}
	return listener{}, false
}

// requiredRef returns the variable a ${VAR:?message} reference names.
func requiredRef(v string) (string, bool) {
	m := composeRequiredRef.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// ---------------------------------------------------------------------------
// Prometheus and Grafana files

// promConfig is prometheus.yml.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

// scrapeConfig is one scrape job.
type scrapeConfig struct {
	JobName        string `yaml:"job_name"`
	ScrapeInterval string `yaml:"scrape_interval"`
	MetricsPath    string `yaml:"metrics_path"`
	Scheme         string `yaml:"scheme"`
	StaticConfigs  []struct {
		Targets []string `yaml:"targets"`
	} `yaml:"static_configs"`
}

// job returns the scrape config named name or fails the test.
func (p *promConfig) job(t *testing.T, name string) scrapeConfig {
	t.Helper()
	for _, j := range p.ScrapeConfigs {
		if j.JobName == name {
			return j
		}
	}
	t.Fatalf("%s: no scrape job %q", prometheusPath, name)
	return scrapeConfig{}
}

// interval is the job's effective scrape interval.
func (p *promConfig) interval(j scrapeConfig) string {
	return orDefault(orDefault(j.ScrapeInterval, p.Global.ScrapeInterval), "1m")
}

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// rule is an alerting or recording rule.
type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// ruleTestFile is a promtool rule unit test file.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name        string `yaml:"name"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTests []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// datasourcesFile is Grafana's data source provisioning file.
type datasourcesFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		Type           string            `yaml:"type"`
		UID            string            `yaml:"uid"`
		URL            string            `yaml:"url"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// providersFile is Grafana's dashboard provider provisioning file.
type providersFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// dsRef is a Grafana data source reference in a dashboard.
type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashboard is a Grafana dashboard JSON model.
type dashboard struct {
	UID        string     `json:"uid"`
	Title      string     `json:"title"`
	Panels     []panel    `json:"panels"`
	Links      []dashLink `json:"links"`
	Templating struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
}

// templateVar is a dashboard template variable.
type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Definition string          `json:"definition"`
}

// dashLink is a link in a dashboard's header.
type dashLink struct {
	Title string `json:"title"`
	Type  string `json:"type"`
	URL   string `json:"url"`
}

// annotation is an annotation query of a dashboard; builtIn is Grafana's
// own annotations and alerts.
type annotation struct {
	Name       string          `json:"name"`
	BuiltIn    int             `json:"builtIn"`
	Datasource json.RawMessage `json:"datasource"`
	Expr       string          `json:"expr"`
	Target     *target         `json:"target"`
}

// target is one query of a panel or an annotation: PromQL in expr, or, for
// the ClickHouse plugin, SQL in rawSql.
type target struct {
	RefID      string          `json:"refId"`
	Expr       string          `json:"expr"`
	RawSQL     string          `json:"rawSql"`
	QueryType  string          `json:"queryType"`
	Datasource json.RawMessage `json:"datasource"`
}

// panel is a dashboard panel.
type panel struct {
	ID         int             `json:"id"`
	Title      string          `json:"title"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []target        `json:"targets"`
	Panels     []panel         `json:"panels"` // a collapsed row's panels
}

// allPanels flattens rows.
func (d *dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// dashboardDirs returns the directories, in this checkout, that Grafana's
// dashboard providers load.
func dashboardDirs(t *testing.T, c *composeFile) []string {
	t.Helper()
	var pf providersFile
	readYAML(t, dashProvidersPath, &pf)
	var dirs []string
	for _, p := range pf.Providers {
		dir, ok := c.hostPathFor(t, "grafana", p.Options.Path)
		if !ok {
			t.Fatalf("provider %s: %s is not mounted into grafana", p.Name, p.Options.Path)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// dashQuery is one PromQL query of a dashboard.
type dashQuery struct {
	where, expr string
}

// loadDashboards parses every dashboard in dir, by file.
func loadDashboards(t *testing.T, dir string) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s (%v)", dir, err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

// queries returns the dashboard's PromQL, with where each one sits.
func (d *dashboard) queries() []dashQuery {
	var qs []dashQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				qs = append(qs, dashQuery{fmt.Sprintf("panel %d (%s) target %s", p.ID, p.Title, tg.RefID), tg.Expr})
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, dashQuery{"annotation " + a.Name, a.Expr})
		}
		if a.Target != nil && a.Target.Expr != "" {
			qs = append(qs, dashQuery{"annotation " + a.Name, a.Target.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" && !strings.Contains(strings.ToUpper(v.Definition), "SELECT ") { // SQL is ClickHouse's
			qs = append(qs, dashQuery{"variable " + v.Name, v.Definition})
		}
	}
	return qs
}

// sqlQuery is one ClickHouse query of a dashboard.
type sqlQuery struct {
	where, uid, sql        string
	timeSeries, annotation bool
}

// sqlQueries returns the dashboard's ClickHouse queries (targets with
// rawSql), with the data source uid each one runs on.
func (d *dashboard) sqlQueries() []sqlQuery {
	var qs []sqlQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			if tg.RawSQL == "" {
				continue
			}
			uid := dsUID(tg.Datasource)
			if uid == "" {
				uid = dsUID(p.Datasource)
			}
			qs = append(qs, sqlQuery{
				where:      fmt.Sprintf("panel %d (%s) target %s", p.ID, p.Title, tg.RefID),
				uid:        uid,
				sql:        tg.RawSQL,
				timeSeries: tg.QueryType == "timeseries",
			})
		}
	}
	for _, a := range d.Annotations.List {
		if a.Target != nil && a.Target.RawSQL != "" {
			qs = append(qs, sqlQuery{where: "annotation " + a.Name, uid: dsUID(a.Datasource), sql: a.Target.RawSQL, annotation: true})
		}
	}
	return qs
}

// dsUID returns the uid of a data source reference, or "".
func dsUID(raw json.RawMessage) string {
	var ref dsRef
	if len(raw) == 0 || json.Unmarshal(raw, &ref) != nil {
		return ""
	}
	return ref.UID
}

// readYAML parses file, decodes it into out unless out is nil, and returns
// its node tree.
func readYAML(t *testing.T, file string, out any) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if out != nil {
		if err := node.Decode(out); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	return &node
}

// loadPrometheus parses prometheus.yml.
func loadPrometheus(t *testing.T) *promConfig {
	t.Helper()
	var p promConfig
	readYAML(t, prometheusPath, &p)
	return &p
}

// loadRules parses every rule file, by file.
func loadRules(t *testing.T) map[string]ruleFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s (%v)", rulesDir, err)
	}
	out := map[string]ruleFile{}
	for _, f := range files {
		var rf ruleFile
		readYAML(t, f, &rf)
		out[f] = rf
	}
	return out
}

// loadRuleTests parses every promtool unit test file, by file.
func loadRuleTests(t *testing.T) map[string]ruleTestFile {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ruleTestsDir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule unit tests in %s (%v)", ruleTestsDir, err)
	}
	out := map[string]ruleTestFile{}
	for _, f := range files {
		var rt ruleTestFile
		readYAML(t, f, &rt)
		out[f] = rt
	}
	return out
}

// loadDatasources parses the data source provisioning file.
func loadDatasources(t *testing.T) *datasourcesFile {
	t.Helper()
	var d datasourcesFile
	readYAML(t, datasourcesPath, &d)
	if d.APIVersion != 1 || len(d.Datasources) == 0 {
		t.Fatalf("%s: want apiVersion 1 and at least one data source", datasourcesPath)
	}
	return &d
}

// ---------------------------------------------------------------------------
// Dockerfile

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	cmd, args string
	line      int
}

// dockerStage is a build stage: FROM base [AS name] and its instructions.
type dockerStage struct {
	base, name string
	instrs     []dockerInstr
}

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	globalArgs map[string]string
	stages     []dockerStage
}

// parseDockerfile reads the instructions of file; comments are dropped.
func parseDockerfile(t *testing.T, file string) *dockerfile {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerfile{globalArgs: map[string]string{}}
	var cur strings.Builder
	start := 0
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args), start}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := dockerStage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			d.stages = append(d.stages, st)
		case len(d.stages) == 0 && in.cmd == "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			d.globalArgs[name] = def
		case len(d.stages) > 0:
			st := &d.stages[len(d.stages)-1]
			st.instrs = append(st.instrs, in)
		default:
			t.Errorf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
		}
	}
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	if len(d.stages) == 0 {
		t.Fatalf("%s: no FROM", file)
	}
	return d
}

// stage returns the stage called name, or nil.
func (d *dockerfile) stage(name string) *dockerStage {
	for i := range d.stages {
		if d.stages[i].name != "" && strings.EqualFold(d.stages[i].name, name) {
			return &d.stages[i]
		}
	}
	return nil
}

// builder returns the stage that runs go build and that RUN instruction.
func (d *dockerfile) builder(t *testing.T) (*dockerStage, dockerInstr) {
	t.Helper()
	for i := range d.stages {
		for _, in := range d.stages[i].instrs {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				return &d.stages[i], in
			}
		}
	}
	t.Fatalf("%s: no stage runs go build", dockerfilePath)
	return nil, dockerInstr{}
}

// resolve follows the final stage's FROM chain for a TARGET build arg and
// returns the chain (final stage first) and the external base image.
func (d *dockerfile) resolve(t *testing.T, target string) ([]*dockerStage, string) {
	t.Helper()
	vars := map[string]string{}
	for k, v := range d.globalArgs {
		vars[k] = v
	}
	vars["TARGET"] = target
	var chain []*dockerStage
	st := &d.stages[len(d.stages)-1]
	for range d.stages {
		chain = append(chain, st)
		base := expand(st.base, vars)
		next := d.stage(base)
		if next == nil {
			return chain, base
		}
		st = next
	}
	t.Fatalf("%s: FROM chain for TARGET=%s loops", dockerfilePath, target)
	return nil, ""
}

// stageArgs returns the build args visible in st: the global ARG defaults,
// overridden by the defaults of the stage's own ARG instructions.
func (d *dockerfile) stageArgs(st *dockerStage) map[string]string {
	vars := map[string]string{}
	for k, v := range d.globalArgs {
		vars[k] = v
	}
	for _, in := range st.instrs {
		if in.cmd != "ARG" {
			continue
		}
		name, def, hasDef := strings.Cut(in.args, "=")
		if hasDef {
			vars[strings.TrimSpace(name)] = def
		}
	}
	return vars
}

// chdbStage returns the named stage that fetches libchdb.so with npm pack.
func (d *dockerfile) chdbStage(t *testing.T) *dockerStage {
	t.Helper()
	for i := range d.stages {
		for _, in := range d.stages[i].instrs {
			if in.cmd == "RUN" && strings.Contains(in.args, "npm pack") && strings.Contains(in.args, "libchdb.so") {
				if d.stages[i].name == "" {
					t.Fatalf("%s: the stage that fetches libchdb.so needs a name (FROM ... AS name)", dockerfilePath)
				}
				return &d.stages[i]
			}
		}
	}
	t.Fatalf("%s: no stage fetches libchdb.so with npm pack", dockerfilePath)
	return nil
}

// copiedFrom returns, for the stages of chain, the files COPY --from=stage
// puts in the image: destination -> source.
func copiedFrom(chain []*dockerStage, stage string) map[string]string {
	copied := map[string]string{}
	for _, st := range slices.Backward(chain) {
		for _, in := range st.instrs {
			if in.cmd != "COPY" {
				continue
			}
			var from string
			var paths []string
			for _, f := range strings.Fields(in.args) {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(f, "--") {
					paths = append(paths, f)
				}
			}
			if strings.EqualFold(from, stage) && len(paths) == 2 {
				copied[paths[1]] = paths[0]
			}
		}
	}
	return copied
}

// expand substitutes $NAME and ${NAME} from vars.
func expand(s string, vars map[string]string) string {
	return os.Expand(s, func(k string) string { return vars[k] })
}

// ---------------------------------------------------------------------------
// Repository facts

// loadIngestorMetrics reads the metric families cmd/ingestor exports from
// ingest/metrics.go: the Name of every prometheus.CounterOpts, GaugeOpts,
// HistogramOpts and SummaryOpts literal, with its type.
func loadIngestorMetrics(t *testing.T) map[string]string {
	t.Helper()
	return loadMetricsFrom(t, ingestMetricsPath)
}

// loadMetricsFrom reads the metric families defined in the Go file
// ingestMetricsPath names, as loadIngestorMetrics describes.
func loadMetricsFrom(t *testing.T, ingestMetricsPath string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, ingestMetricsPath, nil, 0)
	if err != nil {
		t.Fatalf("cannot read the metrics of %s: %v", ingestMetricsPath, err)
	}
	pkgName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/prometheus/client_golang/prometheus" {
			pkgName = "prometheus"
			if imp.Name != nil {
				pkgName = imp.Name.Name
			}
		}
	}
	if pkgName == "" {
		t.Fatalf("%s does not import github.com/prometheus/client_golang/prometheus", ingestMetricsPath)
	}
	kinds := map[string]string{"CounterOpts": "counter", "GaugeOpts": "gauge", "HistogramOpts": "histogram", "SummaryOpts": "summary"}
	metrics := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		kind, known := kinds[sel.Sel.Name]
		if !ok || x.Name != pkgName || !known {
			return true
		}
		pos := fset.Position(lit.Pos())
		name := ""
		for _, e := range lit.Elts {
			kv, ok := e.(*ast.KeyValueExpr)
			if !ok {
				t.Errorf("%s: %s.%s without field names", pos, pkgName, sel.Sel.Name)
				continue
			}
			key, _ := kv.Key.(*ast.Ident)
			if key == nil {
				continue
			}
			switch key.Name {
			case "Name":
				bl, ok := kv.Value.(*ast.BasicLit)
				if !ok || bl.Kind != token.STRING {
					t.Errorf("%s: metric Name must be a string literal for this test to read it", pos)
					continue
				}
				name, _ = strconv.Unquote(bl.Value)
			case "Namespace", "Subsystem":
				t.Errorf("%s: %s prefixes the metric name, which this test does not model", pos, key.Name)
			}
		}
		switch {
		case name == "":
			t.Errorf("%s: %s.%s has no Name", pos, pkgName, sel.Sel.Name)
		case metrics[name] != "":
			t.Errorf("%s: metric %s is defined twice", pos, name)
		default:
			metrics[name] = kind
		}
		return true
	})
	if len(metrics) == 0 {
		t.Fatalf("%s defines no metrics", ingestMetricsPath)
	}
	return metrics
}

var (
	goListMu    sync.Mutex
	goListCache = map[string][]string{}
)

// goListDeps returns `go list -deps pkg`, run from the repository root: pkg
// and every package it imports, directly or not.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	goListMu.Lock()
	defer goListMu.Unlock()
	if deps, ok := goListCache[pkg]; ok {
		return deps
	}
	bin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	cmd := exec.Command(bin, "list", "-deps", pkg)
	cmd.Dir = repoRoot
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, path.Join("github.com/preflight-hq/preflight", strings.TrimPrefix(pkg, "./"))) {
		t.Fatalf("go list -deps %s does not list the package itself:\n%s", pkg, out)
	}
	goListCache[pkg] = deps
	return deps
}

// usesChdb reports whether the import path dep is in chdb-go.
func usesChdb(dep string) bool {
	return dep == chdbModule || strings.HasPrefix(dep, chdbModule+"/")
}

// ---------------------------------------------------------------------------
// Helpers

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// writeYAML writes v to a temporary file and returns its path.
func writeYAML(t *testing.T, name string, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// envCase is one expected variable of a compose service.
type envCase struct {
	key    string
	want   string         // exact value, or
	refVar string         // the variable a required ${VAR:?...} reference must name, or
	match  *regexp.Regexp // a pattern the value must match
}

// checkEnvironment checks env against cases, variable by variable, and
// that it sets nothing else; who names the service in messages.
func checkEnvironment(t *testing.T, env environment, cases []envCase, who string) {
	t.Helper()
	var keys []string
	for _, tt := range cases {
		keys = append(keys, tt.key)
		t.Run(tt.key, func(t *testing.T) {
			got, ok := env.get(tt.key)
			switch {
			case !ok:
				t.Errorf("not set")
			case tt.refVar != "":
				if v, ok := requiredRef(got); !ok || v != tt.refVar {
					t.Errorf("= %q, want ${%s:?message}", got, tt.refVar)
				}
			case tt.match != nil:
				if !tt.match.MatchString(got) {
					t.Errorf("= %q, want a value matching %s", got, tt.match)
				}
			case got != tt.want:
				t.Errorf("= %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("no other variables", func(t *testing.T) {
		for key := range env {
			if !slices.Contains(keys, key) {
				t.Errorf("unexpected variable %s: add it to this test if the %s reads it", key, who)
			}
		}
	})
}
