package dashboards

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

const (
	// grafanaSchemaVersion is the schemaVersion that Grafana 11.6 and 12
	// write for the classic dashboard model. Grafana 13 migrates it to 42
	// on load.
	grafanaSchemaVersion = 41
	// gridColumns is the width of Grafana's dashboard grid.
	gridColumns = 24
	// datasourceUID is how every panel, target and query variable names
	// its data source: through the datasource variable, so that the
	// dashboards work with whatever uid the Prometheus data source has.
	datasourceUID = "${datasource}"
)

// States are the texts that value mappings give apiwatch's endpoint
// states, so that a state reads without colour.
var states = []string{"UP", "DEGRADED", "DOWN"}

// Panel types whose queries Grafana runs as instant queries here, and
// types that plot a range.
var (
	instantPanelTypes = map[string]bool{"stat": true, "table": true, "bargauge": true}
	rangePanelTypes   = map[string]bool{"timeseries": true, "state-timeline": true}
)

var (
	dashboardURL = regexp.MustCompile(`^/d/([^/?]+)`)
	// carriedVariable matches what a link URL sets in the target dashboard:
	// var-name=value, or ${name:queryparam}, which Grafana expands to
	// var-name=value for each selected value.
	carriedVariable = regexp.MustCompile(`[?&]var-(\w+)=|\$\{(\w+):queryparam\}`)
)

// checker collects the problems found in a set of dashboards.
type checker struct {
	byUID    map[string]*dashboard
	problems []string
}

func (c *checker) errorf(d *dashboard, format string, args ...any) {
	c.problems = append(c.problems, d.file+": "+fmt.Sprintf(format, args...))
}

// checkDashboards returns every problem found in ds, which are meant to be
// imported together, so that links between them resolve.
func checkDashboards(ds []*dashboard) []string {
	c := &checker{byUID: map[string]*dashboard{}}
	for _, d := range ds {
		if other, ok := c.byUID[d.UID]; ok && d.UID != "" {
			c.errorf(d, "uid %q is also the uid of %s", d.UID, other.file)
		}
		c.byUID[d.UID] = d
	}
	for _, d := range ds {
		c.checkHeader(d)
		c.checkPanels(d)
		c.checkDatasources(d)
		c.checkVariables(d)
		c.checkLinks(d)
		c.checkStateMappings(d)
	}
	return c.problems
}

func (c *checker) checkHeader(d *dashboard) {
	if d.UID == "" {
		c.errorf(d, "uid is missing")
	}
	if d.Title == "" {
		c.errorf(d, "title is missing")
	}
	if d.SchemaVersion != grafanaSchemaVersion {
		c.errorf(d, "schemaVersion %d, expected %d", d.SchemaVersion, grafanaSchemaVersion)
	}
}

func (c *checker) checkPanels(d *dashboard) {
	seen := map[int]string{}
	for _, p := range d.allPanels() {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.ID <= 0 {
			c.errorf(d, "%s: id must be a positive number", name)
		} else if other, ok := seen[p.ID]; ok {
			c.errorf(d, "panel id %d is used twice: by %q and %q", p.ID, other, p.Title)
		}
		seen[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > gridColumns {
			c.errorf(d, "%s: gridPos %+v is outside the %d-column grid", name, g, gridColumns)
		}
		if p.Title == "" {
			c.errorf(d, "%s: title is missing", name)
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				c.errorf(d, "%s: a row has no queries, but this one has %d", name, len(p.Targets))
			}
			continue
		}
		if !instantPanelTypes[p.Type] && !rangePanelTypes[p.Type] {
			c.errorf(d, "%s: unexpected panel type %q", name, p.Type)
		}
		if len(p.Targets) == 0 {
			c.errorf(d, "%s: no queries", name)
		}
		c.checkTargets(d, p, name)
	}
}

func (c *checker) checkTargets(d *dashboard, p *panel, name string) {
	refIDs := map[string]bool{}
	for _, t := range p.Targets {
		if t.RefID == "" || refIDs[t.RefID] {
			c.errorf(d, "%s: refId %q is empty or used twice", name, t.RefID)
		}
		refIDs[t.RefID] = true
		if strings.TrimSpace(t.Expr) == "" {
			c.errorf(d, "%s: query %s has no expr", name, t.RefID)
		}
		instant := instantPanelTypes[p.Type]
		if rangePanelTypes[p.Type] || instant {
			if t.Instant != instant || t.Range == instant {
				c.errorf(d, "%s: query %s has instant=%t range=%t, expected instant=%t for a %s panel",
					name, t.RefID, t.Instant, t.Range, instant, p.Type)
			}
		}
	}
}

// checkDatasources requires every datasource reference in the document to
// be the datasource variable, and every panel, query and query variable to
// have one.
func (c *checker) checkDatasources(d *dashboard) {
	walkKey(d.raw, "datasource", "", func(path string, v any) {
		ref, ok := v.(map[string]any)
		if !ok || ref["type"] != "prometheus" || ref["uid"] != datasourceUID || len(ref) != 2 {
			c.errorf(d, "%s is %v, expected {type: prometheus, uid: %s}", path, v, datasourceUID)
		}
	})
	for _, p := range d.allPanels() {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil {
			c.errorf(d, "panel %d %q has no datasource", p.ID, p.Title)
		}
		for _, t := range p.Targets {
			if t.Datasource == nil {
				c.errorf(d, "panel %d %q: query %s has no datasource", p.ID, p.Title, t.RefID)
			}
		}
	}
	ds := d.variable("datasource")
	switch {
	case ds == nil:
		c.errorf(d, "no datasource variable")
	case ds.Type != "datasource" || ds.queryText() != "prometheus":
		c.errorf(d, "variable datasource is of type %q for %q, expected type datasource for prometheus",
			ds.Type, ds.queryText())
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && v.Datasource == nil {
			c.errorf(d, "variable %s has no datasource", v.Name)
		}
	}
}

// checkVariables requires every variable to be used outside its own
// definition, and every variable used to be defined or built in.
func (c *checker) checkVariables(d *dashboard) {
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		if defined[v.Name] {
			c.errorf(d, "variable %s is defined twice", v.Name)
		}
		defined[v.Name] = true
	}
	used := map[string]bool{}
	undefined := map[string]string{}
	walkStrings(d.raw, "", func(path, s string) {
		for _, name := range variableRefs(s) {
			if !defined[name] && !isBuiltinVariable(name) {
				undefined[name] = path
			}
			for i, v := range d.Templating.List {
				own := fmt.Sprintf(".templating.list[%d].", i)
				if v.Name == name && !strings.HasPrefix(path, own) {
					used[name] = true
				}
			}
		}
	})
	for _, v := range d.Templating.List {
		if !used[v.Name] {
			c.errorf(d, "variable %s is not used", v.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(undefined)) {
		c.errorf(d, "%s uses undefined variable %s", undefined[name], name)
	}
}

func (c *checker) checkLinks(d *dashboard) {
	for _, l := range d.Links {
		where := fmt.Sprintf("dashboard link %q", l.Title)
		switch l.Type {
		case "link":
			c.checkLinkURL(d, where, l.URL)
		case "dashboards":
			c.checkLinkTags(d, where, l.Tags)
		default:
			c.errorf(d, "%s: unexpected type %q", where, l.Type)
		}
	}
	for _, p := range d.allPanels() {
		links, err := p.links()
		if err != nil {
			c.errorf(d, "panel %d %q: %v", p.ID, p.Title, err)
		}
		for _, l := range links {
			c.checkLinkURL(d, fmt.Sprintf("panel %d %q: link %q", p.ID, p.Title, l.Title), l.URL)
		}
	}
}

// checkLinkURL requires url to open a dashboard of the set, and to set
// every variable that the target needs: the datasource, and each variable
// without an All option. Such a variable left unset falls back to its
// first value instead of the row that was clicked.
func (c *checker) checkLinkURL(d *dashboard, where, url string) {
	m := dashboardURL.FindStringSubmatch(url)
	if m == nil {
		c.errorf(d, "%s: %q does not open a dashboard (/d/UID)", where, url)
		return
	}
	to, ok := c.byUID[m[1]]
	if !ok {
		c.errorf(d, "%s: %q links to unknown dashboard uid %s", where, url, m[1])
		return
	}
	carried := map[string]bool{}
	for _, cm := range carriedVariable.FindAllStringSubmatch(url, -1) {
		name := cm[1] + cm[2]
		carried[name] = true
		if to.variable(name) == nil {
			c.errorf(d, "%s: sets %s, which %s does not define", where, name, to.file)
		}
	}
	for _, v := range to.Templating.List {
		needed := v.Type == "datasource" || !v.IncludeAll
		if needed && !carried[v.Name] {
			c.errorf(d, "%s: %q does not set %s, which %s needs", where, url, v.Name, to.file)
		}
	}
}

// checkLinkTags requires a dashboards link to list at least one other
// dashboard of the set.
func (c *checker) checkLinkTags(d *dashboard, where string, tags []string) {
	if len(tags) == 0 {
		c.errorf(d, "%s: no tags, so it lists every dashboard", where)
		return
	}
	for _, other := range c.byUID {
		if other != d && hasTags(other, tags) {
			return
		}
	}
	c.errorf(d, "%s: no other dashboard has the tags %v", where, tags)
}

// checkStateMappings requires every panel that maps a value to a state to
// map a distinct value to each of the three states, each with a colour,
// and every dashboard to have such a panel.
func (c *checker) checkStateMappings(d *dashboard) {
	statePanels := 0
	for _, p := range d.allPanels() {
		texts, err := stateTexts(p)
		if err != nil {
			c.errorf(d, "panel %d %q: %v", p.ID, p.Title, err)
			continue
		}
		if len(texts) == 0 {
			continue
		}
		statePanels++
		seen := map[string]string{}
		for value, m := range texts {
			if other, ok := seen[m.Text]; ok {
				c.errorf(d, "panel %d %q: values %s and %s both map to %s", p.ID, p.Title, other, value, m.Text)
			}
			seen[m.Text] = value
			if m.Color == "" {
				c.errorf(d, "panel %d %q: %s has no colour", p.ID, p.Title, m.Text)
			}
		}
		for _, s := range states {
			if _, ok := seen[s]; !ok {
				c.errorf(d, "panel %d %q: value mappings lack %s", p.ID, p.Title, s)
			}
		}
	}
	if statePanels == 0 {
		c.errorf(d, "no panel maps values to the states %v", states)
	}
}

// mappingResult is what a value mapping shows for a value.
type mappingResult struct {
	Text  string `json:"text"`
	Color string `json:"color"`
}

// valueMappings returns the panel's mappings of single values, from the
// value as text to what it shows.
func valueMappings(p *panel) (map[string]mappingResult, error) {
	ms, err := p.mappings()
	if err != nil {
		return nil, err
	}
	out := map[string]mappingResult{}
	for _, m := range ms {
		if m.Type != "value" {
			continue
		}
		var opts map[string]mappingResult
		if err := json.Unmarshal(m.Options, &opts); err != nil {
			return nil, fmt.Errorf("value mapping: %w", err)
		}
		for value, r := range opts {
			out[value] = r
		}
	}
	return out, nil
}

// targetStateTexts returns, for the query refID, the value mappings whose
// text is a state and which apply to that query's values: the panel's
// default mappings, and those of overrides that match the query's value
// field by name.
func targetStateTexts(p *panel, refID string) (map[string]mappingResult, error) {
	field, err := p.valueFieldName(refID)
	if err != nil {
		return nil, err
	}
	applies := []valueMapping{}
	applies = append(applies, p.FieldConfig.Defaults.Mappings...)
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID != "mappings" {
				continue
			}
			if o.Matcher.ID != "byName" {
				return nil, fmt.Errorf("mappings in an override matched %s, which the test does not follow", o.Matcher.ID)
			}
			if o.Matcher.Options != field {
				continue
			}
			var ms []valueMapping
			if err := json.Unmarshal(prop.Value, &ms); err != nil {
				return nil, fmt.Errorf("override of %v: mappings: %w", o.Matcher.Options, err)
			}
			applies = append(applies, ms...)
		}
	}
	only := *p
	only.FieldConfig.Defaults.Mappings = applies
	only.FieldConfig.Overrides = nil
	return stateTexts(&only)
}

// stateTexts returns the panel's value mappings whose text is a state.
func stateTexts(p *panel) (map[string]mappingResult, error) {
	ms, err := valueMappings(p)
	if err != nil {
		return nil, err
	}
	out := map[string]mappingResult{}
	for value, r := range ms {
		if slices.Contains(states, r.Text) {
			out[value] = r
		}
	}
	return out, nil
}

// hasTags reports whether d carries every tag of tags.
func hasTags(d *dashboard, tags []string) bool {
	for _, tag := range tags {
		if !slices.Contains(d.Tags, tag) {
			return false
		}
	}
	return true
}
