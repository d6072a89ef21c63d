package config

import (
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// alertmanagerURLExample ends the errors about an Alertmanager's URL.
const alertmanagerURLExample = "give the Alertmanager's base URL, such as http://127.0.0.1:9093"

// severityPattern matches a severity: a short word of letters, digits, '_'
// and '-', starting with a letter. Alertmanager matches label values
// exactly, so a value with spaces or punctuation is most likely a mistake
// that would make routes and inhibit rules miss the alert.
var severityPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]{0,31}$`)

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
	set := func(key string) bool {
		_, v := lookup(node, key)
		return isSet(node, key) && !l.decodeFailed(cfg.File, v)
	}
	if set("resend_interval") && a.ResendInterval < MinInterval {
		l.errorf(it, at("resend_interval"), "%s is shorter than the minimum %s", a.ResendInterval, MinInterval)
	} else if set("resend_interval") && a.ResendInterval > MaxResendInterval {
		l.errorf(it, at("resend_interval"), "%s is longer than the maximum %s", a.ResendInterval, MaxResendInterval)
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
		if am.URL.URL == nil {
			continue
		}
		key := alertmanagerKey(am.URL.URL)
		if first, dup := seen[key]; dup {
			l.errorf(it, append(path, "url"), "same Alertmanager as alertmanagers[%d]", first)
		} else {
			seen[key] = i
		}
	}
	l.validateRouting(cfg, it)
}

func (l *loader) validateAlertmanager(cfg *Config, am *AlertmanagerConfig, it item, path []any) {
	at := func(key string) []any { return append(slices.Clone(path), key) }
	_, urlNode := lookup(nodeAt(it.node, path), "url")
	switch u := am.URL.URL; {
	case l.decodeFailed(cfg.File, urlNode):
		// The decoder has reported why the URL is invalid.
	case u == nil:
		l.errorf(it, at("url"), "missing url: %s", alertmanagerURLExample)
	case u.Scheme == "":
		l.errorf(it, at("url"), "missing scheme: %s", alertmanagerURLExample)
	case u.Scheme != "http" && u.Scheme != "https":
		l.errorf(it, at("url"), "unsupported scheme %q: use http or https", u.Scheme)
	case u.Host == "":
		l.errorf(it, at("url"), "missing host: %s", alertmanagerURLExample)
	case !validPort(u):
		l.errorf(it, at("url"), "invalid port: use a number from 1 to 65535")
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
		_, v := lookup(node, d.key)
		if isSet(node, d.key) && !l.decodeFailed(cfg.File, v) && d.value <= 0 {
			l.errorf(it, at(d.key), "must be longer than 0s")
		}
	}
	if u := r.SMS.APIURL; u != "" {
		if msg := httpURLProblem(u, "invalid URL: "+urlExample); msg != "" {
			l.errorf(it, at("sms", "api_url"), "%s", msg)
		}
	}
	// Alertmanager rejects one of the two keys without the other.
	if v := r.SMS.SigV4; (v.AccessKey == "") != v.SecretKey.IsZero() {
		l.errorf(it, at("sms", "sigv4"), "set both access_key and secret_key, or neither to use the AWS environment of the Alertmanager process")
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
			if msg := httpURLProblem(v.Value(), "invalid webhook URL: "+urlExample); msg != "" {
				key := "url"
				if w.URLFile != "" {
					key = "url_file"
				}
				l.errorf(it, append(slices.Clone(path), key), "%s", msg)
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
				if msg := httpURLProblem(v.Value(), "invalid Slack webhook URL: use https://hooks.slack.com/services/..."); msg != "" {
					key := "api_url"
					if s.APIURLFile != "" {
						key = "api_url_file"
					}
					l.errorf(it, append(slices.Clone(path), key), "%s", msg)
				}
			}
		}
	}
	for i, phone := range c.Contacts.SMS {
		if !e164.MatchString(phone) {
			l.errorf(it, []any{"contacts", "sms", i}, "invalid phone number %q: use E.164 form, such as +15551234567", phone)
		}
	}
}

// httpURLProblem returns what is wrong with s as an http:// or https:// URL
// with a host: invalid when it is no such URL, a message about the port
// when that is out of range, and "" when nothing is wrong.
func httpURLProblem(s, invalid string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "":
		return invalid
	case !validPort(u):
		return "invalid port: use a number from 1 to 65535"
	}
	return ""
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
	switch {
	case severitySet && severity == "":
		l.errorf(it, []any{"severity"}, "empty: give a severity such as critical or warning")
	case severity != "" && !severityPattern.MatchString(severity):
		l.errorf(it, []any{"severity"},
			"invalid severity %q: use a word of up to 32 letters, digits, '_' and '-', such as critical or warning",
			severity)
	}
	if runbook != "" {
		if u, err := url.Parse(runbook); err != nil || u.Scheme == "" || u.Host == "" {
			l.errorf(it, []any{"runbook_url"}, "invalid URL: %s", urlExample)
		} else if !validPort(u) {
			l.errorf(it, []any{"runbook_url"}, "invalid port: use a number from 1 to 65535")
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
			l.errorf(it, at("time_zone"), "applies only to a recurring window: give start and end with their zone offset instead")
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

// alertmanagerKey identifies an Alertmanager for the duplicate check: its
// URL without credentials and without a trailing slash, redacted as in
// metrics and logs. Two entries that differ only in their credentials are
// the same Alertmanager, and would also share the redacted name that labels
// the notifier's metrics.
func alertmanagerKey(u *url.URL) string {
	c := *u
	c.User = nil
	c.Scheme = strings.ToLower(c.Scheme)
	c.Host = strings.ToLower(c.Host)
	c.Path = strings.TrimRight(c.Path, "/")
	c.RawPath = ""
	return RedactURL(&c)
}

// decodeFailed reports whether the decoder reported a problem at value
// node n of file. The decoder records failed fields only for companies,
// endpoints and the global block, so checks on the alerting block use
// this to skip values that did not decode instead of adding a second,
// misleading error about the zero value left behind.
func (l *loader) decodeFailed(file string, n *yaml.Node) bool {
	if n == nil {
		return false
	}
	for _, e := range l.errs {
		if e.File == file && e.Line == n.Line && e.Column == n.Column {
			return true
		}
	}
	return false
}
