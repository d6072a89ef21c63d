package config

import (
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// e164 matches an international phone number: a plus sign, then 8 to 15
// digits, the first not 0.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// validateAlerting checks the alerting block of the main file.
func (l *loader) validateAlerting(cfg *Config) {
	root := l.roots[cfg.File]
	_, node := lookup(root, "alerting")
	if node == nil || !l.fieldOK(&cfg.Alerting, wholeItem) {
		return
	}
	a := &cfg.Alerting
	it := item{file: cfg.File, node: root}
	at := func(path ...any) []any { return append([]any{"alerting"}, path...) }
	set := func(key string) bool { return isSet(node, key) && l.fieldOK(&cfg.Alerting, key) }
	if set("resend_interval") && a.ResendInterval < MinInterval {
		l.errorf(it, at("resend_interval"), "%s is shorter than the minimum %s", a.ResendInterval, MinInterval)
	}
	if set("resolved_retention") && a.ResolvedRetention <= 0 {
		l.errorf(it, at("resolved_retention"), "must be longer than 0s")
	}
	for _, key := range []string{"queue_capacity", "max_batch_size"} {
		v := a.QueueCapacity
		if key == "max_batch_size" {
			v = a.MaxBatchSize
		}
		if set(key) && v < 1 {
			l.errorf(it, at(key), "must be at least 1, got %d", v)
		}
	}
	seen := map[string]int{}
	for i, am := range a.Alertmanagers {
		path := at("alertmanagers", i)
		if am == nil {
			l.errorf(it, path, "empty alertmanager entry")
			continue
		}
		l.validateAlertmanager(cfg, am, it, path)
		if am.URL.URL != nil {
			if first, dup := seen[am.URL.URL.String()]; dup {
				l.errorf(it, append(path, "url"), "same Alertmanager as alertmanagers[%d]", first)
			} else {
				seen[am.URL.URL.String()] = i
			}
		}
	}
	l.validateRouting(cfg, it)
}

func (l *loader) validateAlertmanager(cfg *Config, am *AlertmanagerConfig, it item, path []any) {
	at := func(key string) []any { return append(slices.Clone(path), key) }
	switch u := am.URL.URL; {
	case u == nil:
		l.errorf(it, at("url"), "missing url: give the Alertmanager's base URL, such as http://127.0.0.1:9093")
	case u.Scheme != "http" && u.Scheme != "https":
		l.errorf(it, at("url"), "unsupported scheme %q: use http or https", u.Scheme)
	case u.Host == "":
		l.errorf(it, at("url"), "missing host")
	}
	if am.Timeout < 0 || (am.Timeout == 0 && isSet(nodeAt(it.node, path), "timeout")) {
		l.errorf(it, at("timeout"), "must be longer than 0s")
	}
	am.HTTPClientConfig.SetDirectory(filepath.Dir(cfg.File))
	if err := am.HTTPClientConfig.Validate(); err != nil {
		l.errorf(it, path, "invalid HTTP client settings: %v", err)
	}
}

func (l *loader) validateRouting(cfg *Config, it item) {
	r := &cfg.Alerting.Routing
	at := func(path ...any) []any { return append([]any{"alerting", "routing"}, path...) }
	if r.TemplateFile != "" {
		name := r.TemplateFile
		if !filepath.IsAbs(name) {
			name = filepath.Join(filepath.Dir(cfg.File), name)
		}
		if _, err := readFile(name, maxConfigFileSize); err != nil {
			l.errorf(it, at("template_file"), "reading the file: %v", err)
		}
	}
	for i, name := range r.GroupBy {
		if name != "..." && !labelNamePattern.MatchString(name) {
			l.errorf(it, at("group_by", i), "invalid label name %q", name)
		}
	}
	node := nodeAt(it.node, at())
	for _, d := range []struct {
		key   string
		value Duration
	}{{"group_wait", r.GroupWait}, {"group_interval", r.GroupInterval}, {"repeat_interval", r.RepeatInterval}} {
		if isSet(node, d.key) && d.value <= 0 {
			l.errorf(it, at(d.key), "must be longer than 0s")
		}
	}
	if u := r.SMS.APIURL; u != "" {
		if parsed, err := url.Parse(u); err != nil || parsed.Host == "" {
			l.errorf(it, at("sms", "api_url"), "invalid URL: %s", urlExample)
		}
	}
}

// validateContacts checks the contact kinds beyond email and PagerDuty and
// reads the secrets kept in files, relative to the company's file.
func (l *loader) validateContacts(c *Company, it item) {
	for i := range c.Contacts.Webhook {
		w := &c.Contacts.Webhook[i]
		path := []any{"contacts", "webhook", i}
		if v, ok := l.secretOrFile(c, it, path, "url", w.URL, w.URLFile); ok {
			w.URL = v
			if u, err := url.Parse(v.Value()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				l.errorf(it, path, "invalid webhook URL: %s", urlExample)
			}
		}
	}
	for i := range c.Contacts.Slack {
		s := &c.Contacts.Slack[i]
		path := []any{"contacts", "slack", i}
		if s.Channel == "" {
			l.errorf(it, append(slices.Clone(path), "channel"), "missing channel, such as \"#oncall\"")
		}
		if s.APIURLFile != "" || !s.APIURL.IsZero() {
			if v, ok := l.secretOrFile(c, it, path, "api_url", s.APIURL, s.APIURLFile); ok {
				s.APIURL = v
			}
		}
	}
	for i, phone := range c.Contacts.SMS {
		if !e164.MatchString(phone) {
			l.errorf(it, []any{"contacts", "sms", i}, "invalid phone number %q: use E.164 form, such as +15551234567", phone)
		}
	}
}

// secretOrFile returns the secret named key, or read from key_file, and
// reports an error unless exactly one of them is set.
func (l *loader) secretOrFile(c *Company, it item, path []any, key string, value Secret, file string) (Secret, bool) {
	if value.IsZero() == (file == "") {
		l.errorf(it, path, "set exactly one of %s and %s_file", key, key)
		return Secret{}, false
	}
	if file == "" {
		return value, true
	}
	v, err := readSecretFile(c.File, file)
	filePath := append(slices.Clone(path), key+"_file")
	switch {
	case err != nil:
		l.errorf(it, filePath, "reading the file: %v", err)
		return Secret{}, false
	case v == "":
		l.errorf(it, filePath, "file %s is empty", file)
		return Secret{}, false
	}
	return NewSecret(v), true
}

// validateAlertPolicy checks severity, runbook_url and maintenance windows
// of a company or endpoint.
func (l *loader) validateAlertPolicy(it item, severitySet bool, severity, runbook string, windows []*Maintenance) {
	if severitySet && severity == "" {
		l.errorf(it, []any{"severity"}, "empty: give a severity such as critical or warning")
	}
	if runbook != "" {
		if u, err := url.Parse(runbook); err != nil || u.Scheme == "" || u.Host == "" {
			l.errorf(it, []any{"runbook_url"}, "invalid URL: %s", urlExample)
		}
	}
	for i, m := range windows {
		path := []any{"maintenance", i}
		if m == nil {
			l.errorf(it, path, "empty maintenance entry")
			continue
		}
		l.validateMaintenance(it, m, path)
	}
}

func (l *loader) validateMaintenance(it item, m *Maintenance, path []any) {
	at := func(key string) []any { return append(slices.Clone(path), key) }
	fixed := !m.Start.IsZero() || !m.End.IsZero()
	recurring := m.Schedule != "" || m.Duration != 0
	switch {
	case fixed && recurring:
		l.errorf(it, path, "set either start and end, or schedule and duration, not both")
	case fixed:
		switch {
		case m.Start.IsZero():
			l.errorf(it, at("start"), "missing start")
		case m.End.IsZero():
			l.errorf(it, at("end"), "missing end")
		case !m.End.After(m.Start.Time):
			l.errorf(it, at("end"), "end %s is not after start %s", m.End.Format(time.RFC3339), m.Start.Format(time.RFC3339))
		}
		if m.TimeZone != "" {
			l.errorf(it, at("time_zone"), "applies only to a schedule; give start and end with their zone offset")
		}
	case recurring:
		if m.Duration <= 0 {
			l.errorf(it, at("duration"), "missing duration: how long each window lasts, such as 2h")
		}
		if m.Schedule == "" {
			l.errorf(it, at("schedule"), "missing schedule: a cron expression for the start of each window")
			return
		}
		s := l.parseSchedule(m.Schedule, m.TimeZone)
		if s.msg != "" {
			l.errorf(it, at(s.field), "%s", s.msg)
			return
		}
		m.cron = s
	default:
		l.errorf(it, path, "empty window: set start and end, or schedule and duration")
	}
}

// nodeAt returns the node that path leads to from n, or nil.
func nodeAt(n *yaml.Node, path []any) *yaml.Node {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			_, n = lookup(n, s)
		case int:
			n = aliasTarget(n)
			if n == nil || n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return nil
			}
			n = n.Content[s]
		}
		if n == nil {
			return nil
		}
	}
	return aliasTarget(n)
}
