package dashboards

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// builtinValues stand in for the values Grafana gives its built-in
// variables. Grafana derives them from the time range, the panel width and
// the data source's scrape interval.
var builtinValues = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
}

// selections are the values the tests select in each dashboard's
// variables, for the endpoints that startApiwatch probes. The overview
// gets two companies and the All value of endpoint, as Grafana formats
// them for a regular expression; the other dashboards get single values.
var selections = map[string]map[string]string{
	"apiwatch-overview": {"company": "(acme|globex)", "endpoint": ".*"},
	"apiwatch-company":  {"company": "acme"},
	"apiwatch-endpoint": {"company": "globex", "endpoint": "payments"},
}

// panelQuery is one query of one panel, with the variables substituted.
type panelQuery struct {
	dashboard *dashboard
	panel     *panel
	refID     string
	expr      string
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s: panel %d %q query %s", q.dashboard.file, q.panel.ID, q.panel.Title, q.refID)
}

// instant reports whether Grafana runs the query as an instant query.
func (q panelQuery) instant() bool { return instantPanelTypes[q.panel.Type] }

// substitute replaces every variable in s with its value in values or in
// builtinValues. It fails on a variable that has neither.
func substitute(s string, values map[string]string) (string, error) {
	var missing []string
	out := variableRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := variableRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := values[name]; ok {
			return v
		}
		if v, ok := builtinValues[name]; ok {
			return v
		}
		missing = append(missing, name)
		return ref
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s in %q", strings.Join(missing, ", "), s)
	}
	return out, nil
}

// panelQueries returns the queries of every panel of d, for the variable
// values in values.
func panelQueries(t *testing.T, d *dashboard, values map[string]string) []panelQuery {
	t.Helper()
	var out []panelQuery
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			expr, err := substitute(tg.Expr, values)
			if err != nil {
				t.Fatalf("%s: panel %d %q query %s: %v", d.file, p.ID, p.Title, tg.RefID, err)
			}
			out = append(out, panelQuery{dashboard: d, panel: p, refID: tg.RefID, expr: expr})
		}
	}
	return out
}

// labelValuesQuery matches the label_values(selector, label) query of a
// Prometheus query variable.
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// variableQuery is a label_values query variable, with the variables in
// its selector substituted.
type variableQuery struct {
	name, selector, label string
}

// variableQueries returns d's query variables for the variable values in
// values.
func variableQueries(t *testing.T, d *dashboard, values map[string]string) []variableQuery {
	t.Helper()
	var out []variableQuery
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(v.queryText())
		if m == nil {
			t.Fatalf("%s: variable %s: %q is not label_values(selector, label)", d.file, v.Name, v.queryText())
		}
		selector, err := substitute(m[1], values)
		if err != nil {
			t.Fatalf("%s: variable %s: %v", d.file, v.Name, err)
		}
		out = append(out, variableQuery{name: v.Name, selector: selector, label: m[2]})
	}
	return out
}

// metricNames parses expr as PromQL and returns the metric names it
// selects, sorted.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var unnamed []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name == "" {
			unnamed = append(unnamed, vs.String())
			return nil
		}
		names = append(names, vs.Name)
		return nil
	})
	if len(unnamed) > 0 {
		return nil, fmt.Errorf("selectors without a metric name: %v", unnamed)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// sampleName matches the metric name at the start of a sample line of the
// Prometheus text format.
var sampleName = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)

// exportedMetricNames fetches baseURL/metrics in the Prometheus text
// format and returns the name of every sample on it, histogram series
// with their _bucket, _sum and _count suffixes.
func exportedMetricNames(t *testing.T, baseURL string) map[string]bool {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	names := map[string]bool{}
	for _, m := range sampleName.FindAllStringSubmatch(string(body), -1) {
		names[m[1]] = true
	}
	return names
}

// TestDashboardQueriesUseExportedMetrics parses every panel query and
// variable selector, and requires each metric name in them to be one that
// apiwatch serves on /metrics, once it has probed endpoints that are UP,
// DEGRADED, DOWN and flapping over TLS.
func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	ds := loadDashboards(t)
	aw := startApiwatch(t)
	exported := exportedMetricNames(t, aw.url)
	for _, d := range ds {
		values := selections[d.UID]
		exprs := map[string]string{}
		for _, q := range panelQueries(t, d, values) {
			exprs[q.String()] = q.expr
		}
		for _, v := range variableQueries(t, d, values) {
			exprs[fmt.Sprintf("%s: variable %s", d.file, v.name)] = v.selector
		}
		for where, expr := range exprs {
			names, err := metricNames(expr)
			if err != nil {
				t.Errorf("%s: parsing %q: %v", where, expr, err)
				continue
			}
			if len(names) == 0 {
				t.Errorf("%s: %q selects no metric", where, expr)
			}
			for _, name := range names {
				if !strings.HasPrefix(name, "probe_") && !strings.HasPrefix(name, "apiwatch_") {
					t.Errorf("%s: %s is not an apiwatch metric (probe_*, apiwatch_*)", where, name)
				}
				if !exported[name] {
					t.Errorf("%s: %s is not on apiwatch's /metrics", where, name)
				}
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	values := map[string]string{"company": "acme", "endpoint": "api"}
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "plain and braced", in: `x{company="$company", endpoint="${endpoint}"}`, want: `x{company="acme", endpoint="api"}`},
		{name: "built-ins", in: `rate(x[$__rate_interval]) / $__range`, want: `rate(x[1m]) / 1h`},
		{name: "longer name wins", in: `$__range_s`, wantErr: "no value for __range_s"},
		{name: "unknown variable", in: `x{region="$region"}`, wantErr: "no value for region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := substitute(tt.in, values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("substitute(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("substitute(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
		wantErr    bool
	}{
		{
			name: "binary expression",
			expr: `min by (endpoint) (2 * probe_up{company="a"} - probe_degraded{company="a"})`,
			want: []string{"probe_degraded", "probe_up"},
		},
		{
			name: "range selector inside functions",
			expr: `histogram_quantile(0.5, sum by (le) (rate(probe_duration_seconds_bucket[1m]))) or vector(0)`,
			want: []string{"probe_duration_seconds_bucket"},
		},
		{name: "name in a matcher only", expr: `{__name__=~"probe_.*"}`, wantErr: true},
		{name: "syntax error", expr: `rate(probe_up[1m]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metricNames(tt.expr)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("metricNames(%q) = %v, want an error", tt.expr, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("metricNames(%q) = %v, %v, want %v", tt.expr, got, err, tt.want)
			}
		})
	}
}
