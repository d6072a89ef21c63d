package dashboards

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const (
	companyQuery  = `label_values(probe_up, company)`
	endpointQuery = `label_values(probe_up{company=~"$company"}, endpoint)`
)

// wantVariables lists each dashboard by uid with its template variables,
// and the query of each: the data source type, or the label_values query.
var wantVariables = map[string]map[string]string{
	"apiwatch-overview": {"datasource": "prometheus", "company": companyQuery, "endpoint": endpointQuery},
	"apiwatch-company":  {"datasource": "prometheus", "company": companyQuery},
	"apiwatch-endpoint": {"datasource": "prometheus", "company": companyQuery, "endpoint": endpointQuery},
}

func TestDashboardFiles(t *testing.T) {
	ds := loadDashboards(t)
	for _, problem := range checkDashboards(ds) {
		t.Error(problem)
	}

	byUID := map[string]*dashboard{}
	for _, d := range ds {
		byUID[d.UID] = d
	}
	var uids []string
	for uid := range byUID {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	if want := []string{"apiwatch-company", "apiwatch-endpoint", "apiwatch-overview"}; !slices.Equal(uids, want) {
		t.Fatalf("dashboard uids = %v, want %v", uids, want)
	}

	for uid, want := range wantVariables {
		d := byUID[uid]
		var names []string
		for _, v := range d.Templating.List {
			names = append(names, v.Name)
			if q, ok := want[v.Name]; ok && v.queryText() != q {
				t.Errorf("%s: variable %s queries %q, want %q", d.file, v.Name, v.queryText(), q)
			}
		}
		var wantNames []string
		for name := range want {
			wantNames = append(wantNames, name)
		}
		slices.Sort(names)
		slices.Sort(wantNames)
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: variables %v, want %v", d.file, names, wantNames)
		}
	}

	// The tables lead to the company and endpoint dashboards, and those
	// lead back to the overview.
	wantTableLinks := map[string][]string{
		"apiwatch-overview": {"apiwatch-company", "apiwatch-endpoint"},
		"apiwatch-company":  {"apiwatch-endpoint"},
	}
	for uid, want := range wantTableLinks {
		d := byUID[uid]
		var got []string
		for _, p := range d.allPanels() {
			if p.Type == "table" {
				got = append(got, linkTargets(t, p)...)
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: no table links to %s (table links go to %v)", d.file, w, got)
			}
		}
	}
	for _, uid := range []string{"apiwatch-company", "apiwatch-endpoint"} {
		d := byUID[uid]
		if !slices.ContainsFunc(d.Links, func(l dashboardLink) bool {
			return strings.HasPrefix(l.URL, "/d/apiwatch-overview/")
		}) {
			t.Errorf("%s: no dashboard link back to apiwatch-overview", d.file)
		}
	}
}

// linkTargets returns the uids of the dashboards that p's data links open.
func linkTargets(t *testing.T, p *panel) []string {
	t.Helper()
	links, err := p.links()
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, l := range links {
		if m := dashboardURL.FindStringSubmatch(l.URL); m != nil {
			uids = append(uids, m[1])
		}
	}
	return uids
}

// fixtureA and fixtureB are two small dashboards without problems: A has a
// stat panel with state mappings, a table that links to B, and a collapsed
// row with a nested panel; B links back to A.
const fixtureA = `{
  "uid": "fixture-a", "title": "A", "schemaVersion": 41, "tags": ["fixture"],
  "links": [{"title": "all", "type": "dashboards", "tags": ["fixture"]}],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "company", "type": "query", "includeAll": true,
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "query": {"qryType": 1, "query": "label_values(probe_up, company)"}}
  ]},
  "panels": [
    {"id": 1, "type": "stat", "title": "State",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                  "expr": "min(2 * probe_up{company=~\"$company\"} - probe_degraded)", "instant": true, "range": false}],
     "fieldConfig": {"defaults": {"mappings": [{"type": "value", "options": {
       "0": {"text": "DOWN", "color": "red"}, "1": {"text": "DEGRADED", "color": "orange"}, "2": {"text": "UP", "color": "green"}}}]},
       "overrides": []}},
    {"id": 2, "type": "table", "title": "Endpoints",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "gridPos": {"x": 12, "y": 0, "w": 12, "h": 4},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                  "expr": "probe_up{company=~\"$company\"}", "instant": true, "range": false, "format": "table"}],
     "fieldConfig": {"defaults": {}, "overrides": [
       {"matcher": {"id": "byName", "options": "company"}, "properties": [{"id": "links", "value": [
         {"title": "B", "url": "/d/fixture-b/b?${datasource:queryparam}&var-company=${__data.fields.company}&${__url_time_range}"}]}]}]}},
    {"id": 3, "type": "row", "title": "More", "collapsed": true,
     "gridPos": {"x": 0, "y": 4, "w": 24, "h": 1},
     "panels": [
       {"id": 4, "type": "timeseries", "title": "Probes",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": 0, "y": 5, "w": 24, "h": 8},
        "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                     "expr": "rate(apiwatch_probes_total[$__rate_interval])", "instant": false, "range": true}]}
     ]}
  ]
}`

const fixtureB = `{
  "uid": "fixture-b", "title": "B", "schemaVersion": 41, "tags": ["fixture"],
  "links": [{"title": "A", "type": "link", "url": "/d/fixture-a/a?${datasource:queryparam}"}],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "company", "type": "query",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "query": "label_values(probe_up, company)"}
  ]},
  "panels": [
    {"id": 1, "type": "state-timeline", "title": "State of $company",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${datasource}"},
                  "expr": "2 * probe_up{company=\"$company\"} - probe_degraded", "instant": false, "range": true}],
     "fieldConfig": {"defaults": {"mappings": [{"type": "value", "options": {
       "0": {"text": "DOWN", "color": "red"}, "1": {"text": "DEGRADED", "color": "orange"}, "2": {"text": "UP", "color": "green"}}}]},
       "overrides": []}}
  ]
}`

// node returns the value at path inside v, where each element of path is
// a map key or a slice index.
func node(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
		if v == nil {
			t.Fatalf("fixture has nothing at %v", path)
		}
	}
	return v
}

func obj(t *testing.T, v any, path ...any) map[string]any {
	t.Helper()
	return node(t, v, path...).(map[string]any)
}

func TestCheckDashboardsFindsProblems(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, a, b map[string]any)
		want   string // in one of the problems; empty for none
	}{
		{
			name:   "valid fixtures",
			change: func(*testing.T, map[string]any, map[string]any) {},
		},
		{
			name:   "missing uid",
			change: func(_ *testing.T, a, _ map[string]any) { delete(a, "uid") },
			want:   "uid is missing",
		},
		{
			name:   "old schema version",
			change: func(_ *testing.T, a, _ map[string]any) { a["schemaVersion"] = 16 },
			want:   "schemaVersion 16, expected 41",
		},
		{
			name: "nested panel reuses an id",
			change: func(t *testing.T, a, _ map[string]any) {
				obj(t, a, "panels", 2, "panels", 0)["id"] = 1
			},
			want: `panel id 1 is used twice: by "State" and "Probes"`,
		},
		{
			name: "hard-coded datasource uid in a nested target",
			change: func(t *testing.T, a, _ map[string]any) {
				obj(t, a, "panels", 2, "panels", 0, "targets", 0, "datasource")["uid"] = "P1809F7CD0C75ACF3"
			},
			want: ".panels[2].panels[0].targets[0].datasource is map[type:prometheus uid:P1809F7CD0C75ACF3]",
		},
		{
			name: "datasource by name",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "panels", 0)["datasource"] = "Prometheus"
			},
			want: ".panels[0].datasource is Prometheus",
		},
		{
			name:   "panel without datasource",
			change: func(t *testing.T, a, _ map[string]any) { delete(obj(t, a, "panels", 1), "datasource") },
			want:   `panel 2 "Endpoints" has no datasource`,
		},
		{
			name: "unused variable",
			change: func(t *testing.T, a, _ map[string]any) {
				list := obj(t, a, "templating")["list"].([]any)
				obj(t, a, "templating")["list"] = append(list, map[string]any{
					"name": "region", "type": "query", "query": "label_values(probe_up, region)",
					"datasource": map[string]any{"type": "prometheus", "uid": "${datasource}"},
				})
			},
			want: "variable region is not used",
		},
		{
			name: "undefined variable",
			change: func(t *testing.T, a, _ map[string]any) {
				obj(t, a, "panels", 0, "targets", 0)["expr"] = `probe_up{region="$region"}`
			},
			want: ".panels[0].targets[0].expr uses undefined variable region",
		},
		{
			name: "link to unknown uid",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "links", 0)["url"] = "/d/fixture-c/c?${datasource:queryparam}"
			},
			want: "links to unknown dashboard uid fixture-c",
		},
		{
			name: "link without the company",
			change: func(t *testing.T, a, _ map[string]any) {
				link := obj(t, a, "panels", 1, "fieldConfig", "overrides", 0, "properties", 0, "value", 0)
				link["url"] = "/d/fixture-b/b?${datasource:queryparam}"
			},
			want: "does not set company, which b.json needs",
		},
		{
			name: "link without the datasource",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "links", 0)["url"] = "/d/fixture-a/a"
			},
			want: "does not set datasource, which a.json needs",
		},
		{
			name: "link to a variable the target lacks",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "links", 0)["url"] = "/d/fixture-a/a?${datasource:queryparam}&var-endpoint=x"
			},
			want: "sets endpoint, which a.json does not define",
		},
		{
			name:   "dashboards link to a tag no one has",
			change: func(t *testing.T, a, _ map[string]any) { obj(t, a, "links", 0)["tags"] = []any{"other"} },
			want:   "no other dashboard has the tags [other]",
		},
		{
			name: "mapping lacks DEGRADED",
			change: func(t *testing.T, _, b map[string]any) {
				delete(obj(t, b, "panels", 0, "fieldConfig", "defaults", "mappings", 0, "options"), "1")
			},
			want: "value mappings lack DEGRADED",
		},
		{
			name: "two values map to UP",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "panels", 0, "fieldConfig", "defaults", "mappings", 0, "options", "1")["text"] = "UP"
			},
			want: "both map to UP",
		},
		{
			name: "no state mappings",
			change: func(t *testing.T, _, b map[string]any) {
				obj(t, b, "panels", 0, "fieldConfig", "defaults")["mappings"] = []any{}
			},
			want: "b.json: no panel maps values to the states",
		},
		{
			name: "stat with a range query",
			change: func(t *testing.T, a, _ map[string]any) {
				q := obj(t, a, "panels", 0, "targets", 0)
				q["instant"], q["range"] = false, true
			},
			want: "query A has instant=false range=true, expected instant=true for a stat panel",
		},
		{
			name:   "panel wider than the grid",
			change: func(t *testing.T, a, _ map[string]any) { obj(t, a, "panels", 1, "gridPos")["x"] = 13 },
			want:   "is outside the 24-column grid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b map[string]any
			if err := json.Unmarshal([]byte(fixtureA), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(fixtureB), &b); err != nil {
				t.Fatal(err)
			}
			tt.change(t, a, b)
			var ds []*dashboard
			for file, doc := range map[string]map[string]any{"a.json": a, "b.json": b} {
				data, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				d, err := parseDashboard(file, data)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, d)
			}
			problems := checkDashboards(ds)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Errorf("problems in valid fixtures:\n%s", strings.Join(problems, "\n"))
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem contains %q; problems:\n%s", tt.want, strings.Join(problems, "\n"))
			}
		})
	}
}
