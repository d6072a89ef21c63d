package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboard is the part of Grafana's classic dashboard JSON model that the
// checks read. raw is the whole document, for checks that walk every value.
type dashboard struct {
	file string
	raw  any

	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	SchemaVersion int             `json:"schemaVersion"`
	Tags          []string        `json:"tags"`
	Links         []dashboardLink `json:"links"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

// dashboardLink is a link in the dashboard's header: to a URL (type "link")
// or to the dashboards that carry tags (type "dashboards").
type dashboardLink struct {
	Title string   `json:"title"`
	Type  string   `json:"type"`
	URL   string   `json:"url"`
	Tags  []string `json:"tags"`
}

// variable is a template variable.
type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *datasourceRef  `json:"datasource"`
	IncludeAll bool            `json:"includeAll"`
	Multi      bool            `json:"multi"`
	AllValue   string          `json:"allValue"`
}

// queryText returns the variable's query: Grafana stores it as a string,
// or for Prometheus query variables as an object with a "query" field.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var obj struct {
		Query string `json:"query"`
	}
	if json.Unmarshal(v.Query, &obj) == nil {
		return obj.Query
	}
	return ""
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// UnmarshalJSON also accepts the data source name as a plain string, the
// form of dashboards older than Grafana 8.3, so that the checks can report
// it instead of failing to load the file.
func (r *datasourceRef) UnmarshalJSON(data []byte) error {
	var name string
	if json.Unmarshal(data, &name) == nil {
		*r = datasourceRef{UID: name}
		return nil
	}
	type plain datasourceRef
	return json.Unmarshal(data, (*plain)(r))
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    gridPos        `json:"gridPos"`
	Targets    []target       `json:"targets"`
	Panels     []panel        `json:"panels"`
	// Transformations are kept raw because their options depend on id.
	Transformations []struct {
		ID      string          `json:"id"`
		Options json.RawMessage `json:"options"`
	} `json:"transformations"`
	FieldConfig struct {
		Defaults struct {
			Mappings []valueMapping `json:"mappings"`
			Links    []dataLink     `json:"links"`
		} `json:"defaults"`
		Overrides []override `json:"overrides"`
	} `json:"fieldConfig"`
}

type gridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

type target struct {
	RefID        string         `json:"refId"`
	Datasource   *datasourceRef `json:"datasource"`
	Expr         string         `json:"expr"`
	Instant      bool           `json:"instant"`
	Range        bool           `json:"range"`
	Format       string         `json:"format"`
	LegendFormat string         `json:"legendFormat"`
}

type override struct {
	Matcher struct {
		ID      string `json:"id"`
		Options any    `json:"options"`
	} `json:"matcher"`
	Properties []struct {
		ID    string          `json:"id"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// valueMapping is one entry of a field's value mappings. Options is kept
// raw because its shape depends on Type.
type valueMapping struct {
	Type    string          `json:"type"`
	Options json.RawMessage `json:"options"`
}

// dataLink is a link on a field's values, such as a table cell.
type dataLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// mappings returns the panel's value mappings, from its defaults and from
// every override.
func (p *panel) mappings() ([]valueMapping, error) {
	out := append([]valueMapping(nil), p.FieldConfig.Defaults.Mappings...)
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID != "mappings" {
				continue
			}
			var ms []valueMapping
			if err := json.Unmarshal(prop.Value, &ms); err != nil {
				return nil, fmt.Errorf("override of %v: mappings: %w", o.Matcher.Options, err)
			}
			out = append(out, ms...)
		}
	}
	return out, nil
}

// valueFieldName returns the name under which a table shows the values of
// the query refID: "Value #A" for query A, as Grafana names the value
// fields of several table queries, unless an organize transformation
// renames it.
func (p *panel) valueFieldName(refID string) (string, error) {
	name := "Value #" + refID
	for _, tr := range p.Transformations {
		if tr.ID != "organize" {
			continue
		}
		var opts struct {
			RenameByName map[string]string `json:"renameByName"`
		}
		if err := json.Unmarshal(tr.Options, &opts); err != nil {
			return "", fmt.Errorf("organize transformation: %w", err)
		}
		if to, ok := opts.RenameByName[name]; ok {
			name = to
		}
	}
	return name, nil
}

// links returns the panel's data links, from its defaults and from every
// override.
func (p *panel) links() ([]dataLink, error) {
	out := append([]dataLink(nil), p.FieldConfig.Defaults.Links...)
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID != "links" {
				continue
			}
			var ls []dataLink
			if err := json.Unmarshal(prop.Value, &ls); err != nil {
				return nil, fmt.Errorf("override of %v: links: %w", o.Matcher.Options, err)
			}
			out = append(out, ls...)
		}
	}
	return out, nil
}

// allPanels returns the dashboard's panels with the panels nested in
// collapsed rows, in file order.
func (d *dashboard) allPanels() []*panel {
	var out []*panel
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for i := range ps {
			out = append(out, &ps[i])
			walk(ps[i].Panels)
		}
	}
	walk(d.Panels)
	return out
}

// panelByTitle returns the panel titled title, or nil.
func (d *dashboard) panelByTitle(title string) *panel {
	for _, p := range d.allPanels() {
		if p.Title == title {
			return p
		}
	}
	return nil
}

// variable returns the template variable called name, or nil.
func (d *dashboard) variable(name string) *variable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

// parseDashboard decodes one dashboard file. Unknown fields are allowed,
// because the model has many that the checks do not read.
func parseDashboard(file string, data []byte) (*dashboard, error) {
	d := &dashboard{file: file}
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&d.raw); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return d, nil
}

// loadDashboards reads every *.json file of this directory, sorted by name.
func loadDashboards(t *testing.T) []*dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []*dashboard
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := parseDashboard(f, data)
		if err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		t.Fatal("no dashboard files (*.json) found")
	}
	return out
}

// variableRef matches the forms in which Grafana interpolates a variable:
// $name, ${name}, ${name:format}, ${name.field} and the deprecated
// [[name]] and [[name:format]]. The name is in one of the three groups.
var variableRef = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?:[.:][^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]`)

// variableRefs returns the names of the variables that s refers to.
func variableRefs(s string) []string {
	var names []string
	for _, m := range variableRef.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1]+m[2]+m[3])
	}
	return names
}

// isBuiltinVariable reports whether Grafana itself defines the variable,
// such as $__rate_interval, $__range, ${__data.fields.x} or
// ${__url_time_range}: Grafana's built-in variables all start with "__".
func isBuiltinVariable(name string) bool { return strings.HasPrefix(name, "__") }

// walkStrings calls f with every string in v, and with the path to it.
func walkStrings(v any, path string, f func(path, s string)) {
	switch v := v.(type) {
	case string:
		f(path, v)
	case []any:
		for i, e := range v {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for k, e := range v {
			walkStrings(e, path+"."+k, f)
		}
	}
}

// walkKey calls f with every value stored under key, at any depth of v.
func walkKey(v any, key, path string, f func(path string, value any)) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			walkKey(e, key, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for k, e := range v {
			if k == key {
				f(path+"."+k, e)
			}
			walkKey(e, key, path+"."+k, f)
		}
	}
}
