package main

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// prometheusDir holds the Prometheus configuration and rules for apiwatch,
// on which examples/prometheus/rules_test.go runs promtool.
var prometheusDir = filepath.Join(repoRoot, "examples", "prometheus")

// prometheusOwnMetrics are the series that Prometheus creates for every
// target, which rules may use beside apiwatch's.
var prometheusOwnMetrics = map[string]bool{"up": true}

// promqlMetricNames parses a PromQL expression and returns the sorted metric
// names it selects. A selector without a name, such as {__name__=~"x.*"},
// is an error, because the name it matches is unknown.
func promqlMetricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names, unnamed []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		switch {
		case !ok:
		case vs.Name == "":
			unnamed = append(unnamed, vs.String())
		default:
			names = append(names, vs.Name)
		}
		return nil
	})
	if len(unnamed) > 0 {
		return nil, fmt.Errorf("selectors without a metric name: %v", unnamed)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func TestPromQLMetricNames(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want []string
	}{
		{"label value like a metric name", `up{job="probe_up"} == 0`, []string{"up"}},
		{"vector matching", `a:b:rate5m / ignoring (reason) group_left c:d:rate5m`,
			[]string{"a:b:rate5m", "c:d:rate5m"}},
		{"functions and grouping", `histogram_quantile(0.99, sum by (le) (rate(lag_bucket[5m]))) > 1`,
			[]string{"lag_bucket"}},
		{"no selector", `vector(1)`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := promqlMetricNames(tt.expr)
			if err != nil {
				t.Fatalf("promqlMetricNames(%q): %v", tt.expr, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("promqlMetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
	if _, err := promqlMetricNames(`{__name__=~"probe_.*"}`); err == nil {
		t.Errorf("promqlMetricNames accepted a selector without a metric name")
	}
}

// prometheusRules reads the rule files that examples/prometheus/prometheus.yml
// loads. It returns the names that rules record, and each rule's expression
// keyed by the rule's file, group and position.
func prometheusRules(t *testing.T) (records map[string]bool, exprs map[string]string) {
	t.Helper()
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAMLFile(t, filepath.Join(prometheusDir, "prometheus.yml"), &cfg)
	records = map[string]bool{}
	exprs = map[string]string{}
	for _, file := range cfg.RuleFiles {
		var rf struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Record, Alert, Expr string
				}
			}
		}
		readYAMLFile(t, filepath.Join(prometheusDir, file), &rf)
		for _, g := range rf.Groups {
			for i, r := range g.Rules {
				name := fmt.Sprintf("%s, group %s, rule %d (%s%s)", file, g.Name, i+1, r.Record, r.Alert)
				exprs[name] = r.Expr
				if r.Record != "" {
					records[r.Record] = true
				}
			}
		}
	}
	if len(exprs) == 0 {
		t.Fatalf("no rules found in %v", cfg.RuleFiles)
	}
	return records, exprs
}

func readYAMLFile(t *testing.T, file string, out any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
}

// exportedMetricNames starts apiwatch and returns the sample names on its
// /metrics, with the _bucket, _sum and _count series of histograms and
// summaries. The configuration makes every family appear: a TLS endpoint
// exports the certificate expiry, a refused one the failure counters, and an
// Alertmanager, where nothing needs to listen, the notification metrics.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	target := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`
alerting:
  alertmanagers:
    - url: http://%s
companies:
  - name: acme
    endpoints:
      - name: tls
        url: %s/
        interval: 1s
        tls_config:
          insecure_skip_verify: true
      - name: refused
        url: http://%s/
        interval: 1s
`, closedPort(t), target.URL, closedPort(t)))
	d := startDaemon(t, config, filepath.Join(dir, "data"))

	// The per-endpoint families appear after the first probes, which come
	// within one interval.
	waitFor := []string{"probe_up", "probe_failures_total", "probe_tls_cert_expiry_timestamp_seconds"}
	var families map[string]*dto.MetricFamily
	ready := poll(10*time.Second, func() bool {
		_, body := d.get("/metrics")
		textParser := expfmt.NewTextParser(model.UTF8Validation)
		var err error
		families, err = textParser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parsing /metrics: %v", err)
		}
		for _, name := range waitFor {
			if families[name] == nil {
				return false
			}
		}
		return true
	})
	if !ready {
		t.Fatalf("/metrics still lacks one of %v after 10s\nstderr:\n%s", waitFor, d.stderr)
	}

	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"] = true
			names[name+"_sum"] = true
			names[name+"_count"] = true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"] = true
			names[name+"_count"] = true
		}
	}
	return names
}

// TestPrometheusRulesUseExportedMetrics checks that every metric the rules
// of examples/prometheus read is one that apiwatch exports or Prometheus
// creates, and that every recorded name they read is one a rule records. A
// rule on a misspelled or renamed metric would otherwise never fire.
func TestPrometheusRulesUseExportedMetrics(t *testing.T) {
	records, exprs := prometheusRules(t)
	usedBy := map[string][]string{}
	for rule, expr := range exprs {
		names, err := promqlMetricNames(expr)
		if err != nil {
			t.Fatalf("%s: parsing %q: %v", rule, expr, err)
		}
		for _, name := range names {
			usedBy[name] = append(usedBy[name], rule)
		}
	}
	// Names the rules must read, so that a failure to read the rule files
	// cannot pass by finding nothing.
	for _, name := range []string{"probe_up", "probe_duration_seconds_bucket", "up",
		"apiwatch_scheduler_lag_seconds_bucket", "company_endpoint:probe_up:sum_over_time1h"} {
		if usedBy[name] == nil {
			t.Errorf("no rule uses %s", name)
		}
	}

	exported := exportedMetricNames(t)
	for _, name := range slices.Sorted(maps.Keys(usedBy)) {
		rules := slices.Sorted(slices.Values(usedBy[name]))
		switch {
		case strings.Contains(name, ":"):
			if !records[name] {
				t.Errorf("%s read by %v: no rule records it", name, rules)
			}
		case prometheusOwnMetrics[name]:
		case !exported[name]:
			t.Errorf("%s read by %v: apiwatch does not export it", name, rules)
		}
	}
}

// promResult is one series of a Prometheus instant query result.
type promResult struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// queryPrometheus runs an instant query against the Prometheus at baseURL.
func queryPrometheus(baseURL, query string) ([]promResult, error) {
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(baseURL+"/api/v1/query?query="+url.QueryEscape(query), &resp); err != nil {
		return nil, err
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %q: status %q", query, resp.Status)
	}
	return resp.Data.Result, nil
}

// prometheusConfig returns examples/prometheus/prometheus.yml adapted to a
// test: the apiwatch job scrapes targets every second, rules run every
// second from the example's rule files, and the Alertmanager parts are gone.
func prometheusConfig(t *testing.T, targets ...string) string {
	t.Helper()
	var cfg map[string]any
	readYAMLFile(t, filepath.Join(prometheusDir, "prometheus.yml"), &cfg)
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	var ruleFiles []string
	for _, f := range cfg["rule_files"].([]any) {
		abs, err := filepath.Abs(filepath.Join(prometheusDir, f.(string)))
		if err != nil {
			t.Fatalf("resolving %s: %v", f, err)
		}
		ruleFiles = append(ruleFiles, abs)
	}
	cfg["rule_files"] = ruleFiles
	delete(cfg, "alerting")
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] != "apiwatch" {
			continue
		}
		job["scrape_interval"] = "1s"
		job["scrape_timeout"] = "1s"
		job["static_configs"] = []any{map[string]any{"targets": targets}}
		jobs = append(jobs, job)
	}
	if len(jobs) != 1 {
		t.Fatalf("prometheus.yml has %d scrape jobs named apiwatch, want 1", len(jobs))
	}
	cfg["scrape_configs"] = jobs
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encoding the Prometheus configuration: %v", err)
	}
	return string(data)
}

// TestPrometheusEvaluatesRules runs Debian's Prometheus on the example's
// configuration and rules against two apiwatch daemons, and checks what
// promtool's synthetic series cannot: that the rules match the labels of
// real scrapes. The daemon "pull" has no Alertmanager, so Prometheus's
// EndpointDown covers its endpoints; "push" has one, so it sends its own
// alerts and Prometheus stays silent about its endpoints. The alert only
// reaches the pending state here, because its `for` is a minute;
// apiwatch.alerts_test.yml tests the firing.
func TestPrometheusEvaluatesRules(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMTOOL") == "1" {
			t.Skip("prometheus not installed and APIWATCH_SKIP_PROMTOOL=1")
		}
		t.Fatalf("prometheus not found (install Debian's prometheus package, or set APIWATCH_SKIP_PROMTOOL=1 to skip): %v", err)
	}
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(target.Close)
	dir := t.TempDir()
	refused := closedPort(t)
	pull := startDaemon(t, writeFile(t, dir, "pull.yml", fmt.Sprintf(`
global:
  interval: 1s
companies:
  - name: acme
    endpoints:
      - name: up
        url: %s/
      - name: down
        url: http://%s/
`, target.URL, refused)), filepath.Join(dir, "pull-data"))
	push := startDaemon(t, writeFile(t, dir, "push.yml", fmt.Sprintf(`
global:
  interval: 1s
alerting:
  alertmanagers:
    - url: http://%s
companies:
  - name: globex
    endpoints:
      - name: down
        url: http://%s/
`, closedPort(t), refused)), filepath.Join(dir, "push-data"))
	pullTarget := strings.TrimPrefix(pull.baseURL, "http://")
	pushTarget := strings.TrimPrefix(push.baseURL, "http://")

	config := writeFile(t, dir, "prometheus.yml", prometheusConfig(t, pullTarget, pushTarget))
	listen := closedPort(t)
	prom := startExternal(t, "prometheus", prometheus,
		"--config.file="+config,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+listen)
	promURL := "http://" + listen
	prom.waitReady(t, promURL+"/-/ready", 15*time.Second)

	// Both down endpoints must have been scraped as down, and the rules
	// evaluated on them, before the absence of globex's alert means
	// anything.
	var alerts, uptime []promResult
	ready := poll(20*time.Second, func() bool {
		down, err := queryPrometheus(promURL, `probe_up == 0`)
		if err != nil || len(down) < 2 {
			return false
		}
		if alerts, err = queryPrometheus(promURL, `ALERTS{alertname="EndpointDown"}`); err != nil {
			return false
		}
		if uptime, err = queryPrometheus(promURL, `company_endpoint:probe_up:avg_over_time1h`); err != nil {
			return false
		}
		return len(alerts) > 0 && len(uptime) == 3
	})
	if !ready {
		t.Fatalf("no EndpointDown alert and 3 uptime series after 20s: alerts %v, uptime %v\nprometheus output:\n%s",
			alerts, uptime, prom.output)
	}

	var gotAlerts []string
	for _, a := range alerts {
		m := a.Metric
		gotAlerts = append(gotAlerts, fmt.Sprintf("%s/%s on %s, %s, severity %s",
			m["company"], m["endpoint"], m["instance"], m["alertstate"], m["severity"]))
	}
	slices.Sort(gotAlerts)
	wantAlerts := []string{"acme/down on " + pullTarget + ", pending, severity critical"}
	if !slices.Equal(gotAlerts, wantAlerts) {
		t.Errorf("EndpointDown alerts = %q, want %q", gotAlerts, wantAlerts)
	}

	gotUptime := map[string]string{}
	for _, u := range uptime {
		m := u.Metric
		if m["job"] != "apiwatch" || m["instance"] != "" {
			t.Errorf("uptime series %v: want job apiwatch and no instance", m)
		}
		gotUptime[m["company"]+"/"+m["endpoint"]] = fmt.Sprint(u.Value[1])
	}
	wantUptime := map[string]string{"acme/up": "1", "acme/down": "0", "globex/down": "0"}
	if !maps.Equal(gotUptime, wantUptime) {
		t.Errorf("company_endpoint:probe_up:avg_over_time1h = %v, want %v", gotUptime, wantUptime)
	}
}
