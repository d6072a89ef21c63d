package dashboards

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// linkLabel matches a data link's use of a series label: a table cell's
// ${__data.fields.name}, or ${__field.labels.name} in a graph.
var linkLabel = regexp.MustCompile(`\$\{__(?:data\.fields|field\.labels)\.(\w+)\}`)

// TestDashboardQueriesOnPrometheus runs every panel query and variable
// query of every dashboard through a real Prometheus that scrapes apiwatch,
// and checks that each returns data. Then it checks the values that the
// panels show for endpoints whose state is known.
func TestDashboardQueriesOnPrometheus(t *testing.T) {
	ds := loadDashboards(t)
	bin := findPrometheus(t)
	aw := startApiwatch(t)
	prom := startPrometheus(t, bin, strings.TrimPrefix(aw.url, "http://"))
	// Rates over 1m need at least two scrapes of a series, and the panels
	// of payments need its failure and retry counters to have grown after
	// the first scrape, which every second probe of payments does.
	prom.waitForData(t,
		`count(count_over_time(probe_up[1m]) >= 3) == 4`,
		`increase(probe_failures_total{company="globex", endpoint="payments"}[1m]) > 0`,
		`increase(probe_retries_total{company="globex", endpoint="payments"}[1m]) > 0`,
	)
	byUID := map[string]*dashboard{}
	for _, d := range ds {
		byUID[d.UID] = d
	}

	for _, d := range ds {
		t.Run(d.UID, func(t *testing.T) {
			values := selections[d.UID]
			for _, q := range panelQueries(t, d, values) {
				result, err := prom.query(q.expr, q.instant(), time.Now())
				if err != nil {
					t.Errorf("%s: %s: %v", q, q.expr, err)
					continue
				}
				if !slices.ContainsFunc(result, series.hasNumber) {
					t.Errorf("%s: %s returned no data: %v", q, q.expr, result)
				}
				checkLinkLabels(t, q, result)
			}
			for _, v := range variableQueries(t, d, values) {
				got, err := prom.labelValues(v.label, v.selector)
				if err != nil {
					t.Errorf("%s: variable %s: %v", d.file, v.name, err)
				} else if len(got) == 0 {
					t.Errorf("%s: variable %s: label_values(%s, %s) returned no values", d.file, v.name, v.selector, v.label)
				}
			}
		})
	}

	t.Run("variable values", func(t *testing.T) {
		tests := []struct {
			uid, variable, company string
			want                   []string
		}{
			{uid: "apiwatch-overview", variable: "company", want: []string{"acme", "globex"}},
			{uid: "apiwatch-endpoint", variable: "endpoint", company: "acme", want: []string{"down", "slow", "up"}},
			{uid: "apiwatch-endpoint", variable: "endpoint", company: "globex", want: []string{"payments"}},
		}
		for _, tt := range tests {
			found := false
			for _, v := range variableQueries(t, byUID[tt.uid], map[string]string{"company": tt.company}) {
				if v.name != tt.variable {
					continue
				}
				found = true
				got, err := prom.labelValues(v.label, v.selector)
				if err != nil || !slices.Equal(got, tt.want) {
					t.Errorf("%s: variable %s for company %q = %v, %v, want %v", tt.uid, v.name, tt.company, got, err, tt.want)
				}
			}
			if !found {
				t.Errorf("%s: no query variable %s", tt.uid, tt.variable)
			}
		}
	})

	t.Run("states", func(t *testing.T) {
		for _, d := range ds {
			sels := []map[string]string{selections[d.UID]}
			if d.UID == "apiwatch-endpoint" {
				for endpoint := range wantStates {
					sels = append(sels, map[string]string{"company": "acme", "endpoint": endpoint})
				}
			}
			for _, sel := range sels {
				if checkStates(t, prom, d, sel) == 0 {
					t.Errorf("%s: no query of a panel with state mappings", d.file)
				}
			}
		}
	})

	t.Run("state counts", func(t *testing.T) {
		// One evaluation time for all panels, so that they count the same
		// scrape of globex/payments.
		at := time.Now()
		acme := selections["apiwatch-company"]
		for _, title := range states {
			if got := panelValue(t, prom, byUID["apiwatch-company"], title, acme, at); got != 1 {
				t.Errorf("company dashboard for acme: %s = %v, want 1", title, got)
			}
		}
		// globex/payments flaps between UP and DOWN, so only the sum of
		// those two is known.
		all := selections["apiwatch-overview"]
		overview := byUID["apiwatch-overview"]
		if got := panelValue(t, prom, overview, "DEGRADED", all, at); got != 1 {
			t.Errorf("overview: DEGRADED = %v, want 1", got)
		}
		up, down := panelValue(t, prom, overview, "UP", all, at), panelValue(t, prom, overview, "DOWN", all, at)
		if up+down != 3 || up < 1 || down < 1 {
			t.Errorf("overview: UP = %v and DOWN = %v, want at least 1 each and 3 together", up, down)
		}
	})

	t.Run("endpoint values", func(t *testing.T) {
		endpoint := byUID["apiwatch-endpoint"]
		tests := []struct {
			endpoint, title string
			want            float64
		}{
			{endpoint: "up", title: "Status code", want: 200},
			{endpoint: "slow", title: "Status code", want: 200},
			{endpoint: "down", title: "Status code", want: 500},
			{endpoint: "up", title: "Uptime, 24 h", want: 1},
			{endpoint: "slow", title: "Uptime, 7 d", want: 1},
			{endpoint: "down", title: "Uptime, 30 d", want: 0},
			{endpoint: "down", title: "Retries in the time range", want: 0},
		}
		for _, tt := range tests {
			sel := map[string]string{"company": "acme", "endpoint": tt.endpoint}
			if got := panelValue(t, prom, endpoint, tt.title, sel, time.Now()); got != tt.want {
				t.Errorf("endpoint dashboard for acme/%s: %s = %v, want %v", tt.endpoint, tt.title, got, tt.want)
			}
		}

		payments := selections["apiwatch-endpoint"]
		wantDays := time.Until(aw.certNotAfter).Hours() / 24
		got := panelValue(t, prom, endpoint, "Certificate expires in", payments, time.Now())
		if math.Abs(got-wantDays) > 0.001 {
			t.Errorf("certificate of globex/payments expires in %v days, want %.4f", got, wantDays)
		}
		if got := panelValue(t, prom, endpoint, "Retries in the time range", payments, time.Now()); got <= 0 {
			t.Errorf("globex/payments: retries in the time range = %v, want more than 0", got)
		}
		plain := map[string]string{"company": "acme", "endpoint": "up"}
		if result := panelResult(t, prom, endpoint, "Certificate expires in", plain, time.Now()); len(result) != 0 {
			t.Errorf("certificate of plain HTTP acme/up: %v, want no data", result)
		}
	})
}

// checkLinkLabels requires every series of q's result to carry each label
// that the panel's data links read, so that every link gets its value.
func checkLinkLabels(t *testing.T, q panelQuery, result []series) {
	t.Helper()
	links, err := q.panel.links()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		for _, m := range linkLabel.FindAllStringSubmatch(l.URL, -1) {
			for _, s := range result {
				if s.Metric[m[1]] == "" {
					t.Errorf("%s: link %q reads %s, but series %v has no such label", q, l.Title, m[1], s.Metric)
				}
			}
		}
	}
}

// checkStates runs the queries of every panel of d that maps values to
// states, for the variable values in sel, and requires each series' last
// value to map to a state, and for acme's endpoints to the state in
// wantStates. It returns how many queries it checked.
func checkStates(t *testing.T, prom *prometheusServer, d *dashboard, sel map[string]string) int {
	t.Helper()
	checked := 0
	for _, q := range panelQueries(t, d, sel) {
		mappings, err := targetStateTexts(q.panel, q.refID)
		if err != nil {
			t.Fatal(err)
		}
		if len(mappings) == 0 {
			continue
		}
		checked++
		result, err := prom.query(q.expr, q.instant(), time.Now())
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if len(result) == 0 {
			t.Errorf("%s for %v: no data", q, sel)
		}
		for _, s := range result {
			company, endpoint := labelOr(s, "company", sel), labelOr(s, "endpoint", sel)
			v, err := s.last()
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			got, ok := mappings[strconv.FormatFloat(v, 'f', -1, 64)]
			if !ok {
				t.Errorf("%s: %s/%s has value %v, which maps to no state", q, company, endpoint, v)
				continue
			}
			if want, ok := wantStates[endpoint]; ok && company == "acme" && got.Text != want {
				t.Errorf("%s: %s/%s shows %s, want %s", q, company, endpoint, got.Text, want)
			}
		}
	}
	return checked
}

// labelOr returns the series' label, or the selected variable of that
// name for a query that aggregates the label away.
func labelOr(s series, name string, sel map[string]string) string {
	if v := s.Metric[name]; v != "" {
		return v
	}
	return sel[name]
}

// panelResult runs the single query of d's panel titled title, as an
// instant query at time at, for the variable values in sel.
func panelResult(t *testing.T, prom *prometheusServer, d *dashboard, title string, sel map[string]string,
	at time.Time) []series {
	t.Helper()
	p := d.panelByTitle(title)
	if p == nil || len(p.Targets) != 1 {
		t.Fatalf("%s: no panel %q with one query", d.file, title)
	}
	expr, err := substitute(p.Targets[0].Expr, sel)
	if err != nil {
		t.Fatal(err)
	}
	result, err := prom.query(expr, true, at)
	if err != nil {
		t.Fatalf("%s: panel %q: %v", d.file, title, err)
	}
	return result
}

// panelValue returns the value of the one series that panelResult returns.
func panelValue(t *testing.T, prom *prometheusServer, d *dashboard, title string, sel map[string]string,
	at time.Time) float64 {
	t.Helper()
	result := panelResult(t, prom, d, title, sel, at)
	if len(result) != 1 {
		t.Fatalf("%s: panel %q for %v returned %d series, want 1: %v", d.file, title, sel, len(result), result)
	}
	v, err := result[0].last()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
