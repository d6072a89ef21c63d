package config

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	labelNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

	// reservedLabels are the label names that apiwatch sets on alerts.
	reservedLabels = map[string]bool{"company": true, "endpoint": true, "alertname": true, "severity": true}
)

const nameRule = "use 1 to 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"

// validName reports whether name is a valid company or endpoint name: 1 to
// 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or
// digit. These are safe in file names, URLs and Alertmanager routes.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := range len(name) {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// item is a company, endpoint or global block being validated: the file
// and YAML node it came from, and the names that errors about it carry.
type item struct {
	file     string
	node     *yaml.Node
	company  string
	endpoint string
}

// errorf records a problem at the value that path leads to from the item,
// or at the item itself when the value is absent.
func (l *loader) errorf(it item, path []any, format string, args ...any) {
	line, col := position(it.node, path...)
	l.add(&Error{
		File: it.file, Line: line, Column: col,
		Company: it.company, Endpoint: it.endpoint,
		Field: fieldPath(path), Msg: fmt.Sprintf(format, args...),
	})
}

// validate checks the decoded configuration before defaults are filled in,
// so it can tell a value the user wrote from a default. It skips the checks
// that involve a field which failed to decode, because its value is not the
// one the user wrote.
func (l *loader) validate(cfg *Config) {
	if l.fieldOK(&cfg.Global, wholeItem) {
		l.validateGlobal(cfg)
	}
	l.validateAlerting(cfg)
	first := map[string]*Company{}
	for _, c := range cfg.Companies {
		if c == nil {
			continue
		}
		it := l.companyItem(c)
		if prev, ok := first[c.Name]; ok && c.Name != "" {
			line, col := position(l.nodes[prev], "name")
			l.errorf(it, []any{"name"}, "duplicate company name, first defined at %s:%d:%d", prev.File, line, col)
		} else if c.Name != "" {
			first[c.Name] = c
		}
		if l.fieldOK(c, wholeItem) && !l.reused[c] {
			l.validateCompany(c, it)
			l.validateEndpoints(cfg, c, it)
		}
	}
}

func (l *loader) companyItem(c *Company) item {
	return item{file: c.File, node: l.nodes[c], company: c.Name}
}

func (l *loader) validateGlobal(cfg *Config) {
	g := &cfg.Global
	globalNode := l.nodes[g]
	if globalNode == nil {
		return // no global block
	}
	it := item{file: cfg.File, node: l.roots[cfg.File]}
	at := func(key string) []any { return []any{"global", key} }
	set := func(key string) bool { return isSet(globalNode, key) && l.fieldOK(g, key) }
	if set("interval") && g.Interval < MinInterval {
		l.errorf(it, at("interval"), "%s is shorter than the minimum %s", g.Interval, MinInterval)
	}
	if set("timeout") && g.Timeout <= 0 {
		l.errorf(it, at("timeout"), "must be longer than 0s")
	}
	if set("timeout") && set("interval") && g.Timeout > g.Interval {
		l.errorf(it, at("timeout"), "%s is longer than global.interval %s", g.Timeout, g.Interval)
	}
	l.checkCounts(it, g, globalNode, []any{"global"}, g.FailureThreshold, g.SuccessThreshold, g.MaxRedirects)
	l.validateProbeSettings(it, g, []any{"global"}, &g.ProbeSettings, cfg.File)
}

// checkCounts checks the thresholds and max_redirects that mapping n of
// owner sets. An explicit 0 is an error rather than a request for the
// default.
func (l *loader) checkCounts(
	it item, owner any, n *yaml.Node, prefix []any, failure, success, redirects int,
) {
	at := func(key string) []any { return append(slices.Clone(prefix), key) }
	set := func(key string) bool { return isSet(n, key) && l.fieldOK(owner, key) }
	for _, c := range []struct {
		key   string
		value int
	}{{"failure_threshold", failure}, {"success_threshold", success}} {
		if set(c.key) && c.value < 1 {
			l.errorf(it, at(c.key), "must be at least 1, got %d", c.value)
		}
	}
	if set("max_redirects") && redirects < 1 {
		l.errorf(it, at("max_redirects"), "must be at least 1, got %d. To stop following redirects, set follow_redirects: false", redirects)
	}
}

func (l *loader) validateCompany(c *Company, it item) {
	l.validateProbeSettings(it, c, nil, &c.ProbeSettings, c.File)
	if l.fieldOK(c, "name") {
		l.validateName(it, "company", c.Name)
	}
	if l.fieldOK(c, "labels") {
		l.validateLabels(it, c.Labels)
	}
	if l.fieldOK(c, "contacts") {
		for i, addr := range c.Contacts.Email {
			if _, err := mail.ParseAddress(addr); err != nil {
				l.errorf(it, []any{"contacts", "email", i}, "invalid email address %q", addr)
			}
		}
		for i := range c.Contacts.PagerDuty {
			l.validatePagerDuty(c, it, i)
		}
		l.validateContacts(c, it)
	}
	l.checkAlertPolicy(it, c, c.Severity, c.RunbookURL, c.Maintenance)
	if len(c.Endpoints) == 0 && l.fieldOK(c, "endpoints") {
		l.errorf(it, []any{"endpoints"}, "company has no endpoints: add at least one")
	}
}

// validateName checks a company or endpoint name.
func (l *loader) validateName(it item, kind, name string) {
	if name == "" {
		l.errorf(it, []any{"name"}, "missing %s name", kind)
	} else if !validName(name) {
		l.errorf(it, []any{"name"}, "invalid %s name %q: %s", kind, name, nameRule)
	}
}

// validatePagerDuty checks one PagerDuty contact and reads its
// routing_key_file, relative to the file that names it.
func (l *loader) validatePagerDuty(c *Company, it item, i int) {
	pd := &c.Contacts.PagerDuty[i]
	path := []any{"contacts", "pagerduty", i}
	if pd.RoutingKey.IsZero() == (pd.RoutingKeyFile == "") {
		l.errorf(it, path, "set exactly one of routing_key and routing_key_file")
		return
	}
	if pd.RoutingKeyFile == "" {
		return
	}
	key, err := readSecretFile(c.File, pd.RoutingKeyFile)
	path = append(path, "routing_key_file")
	switch {
	case err != nil:
		l.errorf(it, path, "reading the file: %v", err)
	case key == "":
		l.errorf(it, path, "file %s is empty", pd.RoutingKeyFile)
	default:
		pd.RoutingKey = NewSecret(key)
	}
}

// validateLabels checks label names, pointing at each bad key.
func (l *loader) validateLabels(it item, labels map[string]string) {
	names := make([]string, 0, len(labels))
	for name := range labels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := []any{"labels", keyOf(name)}
		switch {
		case !labelNamePattern.MatchString(name):
			l.errorf(it, path, "invalid label name %q: use letters, digits and '_', not starting with a digit", name)
		case reservedLabels[name] || strings.HasPrefix(name, "__"):
			l.errorf(it, path, "label name %q is reserved: apiwatch sets company, endpoint, alertname and severity, and names starting with __ are internal to Prometheus", name)
		}
	}
}

func (l *loader) validateEndpoints(cfg *Config, c *Company, it item) {
	first := map[string]*Endpoint{}
	for i, e := range c.Endpoints {
		if e == nil {
			l.errorf(it, []any{"endpoints", i}, "empty endpoint entry")
			continue
		}
		eit := item{file: c.File, node: l.nodes[e], company: c.Name, endpoint: e.Name}
		if prev, ok := first[e.Name]; ok && e.Name != "" {
			line, col := position(l.nodes[prev], "name")
			l.errorf(eit, []any{"name"}, "duplicate endpoint name in this company, first defined at %s:%d:%d", c.File, line, col)
		} else if e.Name != "" {
			first[e.Name] = e
		}
		if l.fieldOK(e, wholeItem) {
			l.validateEndpoint(cfg, c, e, eit)
		}
	}
}

// checkAlertPolicy checks the severity, runbook_url and maintenance of
// owner, a company or an endpoint, skipping each field that failed to
// decode.
func (l *loader) checkAlertPolicy(it item, owner any, severity, runbook string, windows []*Maintenance) {
	severitySet := isSet(it.node, "severity")
	if !l.fieldOK(owner, "severity") {
		severitySet, severity = false, ""
	}
	if !l.fieldOK(owner, "runbook_url") {
		runbook = ""
	}
	if !l.fieldOK(owner, "maintenance") {
		windows = nil
	}
	l.validateAlertPolicy(it, severitySet, severity, runbook, windows)
}
