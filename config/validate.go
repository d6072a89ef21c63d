package config

import (
	"fmt"
	"net/mail"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"
)

var (
	// namePattern restricts company and endpoint names to characters that
	// are safe in file names, URLs and Alertmanager routes.
	namePattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	labelNamePattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

	// reservedLabels are set by apiwatch and cannot be overridden.
	reservedLabels = map[string]bool{"company": true, "endpoint": true, "alertname": true, "severity": true}

	cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// companyError records a problem at path inside company c (and endpoint e,
// if not nil). path is relative to the company's node.
func (l *loader) companyError(c *Company, e *Endpoint, msg string, path ...any) {
	full := append([]any{"companies", c.index}, path...)
	line, col := l.position(c.File, full...)
	err := &Error{File: c.File, Line: line, Column: col, Company: c.Name, Msg: msg}
	if e != nil {
		err.Endpoint = e.Name
	}
	if n := len(path); n > 0 {
		if f, ok := path[n-1].(string); ok {
			err.Field = f
		}
	}
	l.add(err)
}

// validate checks the decoded configuration before defaults are filled in,
// so it can tell a value the user wrote from a default.
func (l *loader) validate(cfg *Config) {
	l.validateGlobal(cfg)
	seen := map[string]*Company{}
	for i, c := range cfg.Companies {
		if c == nil {
			line, col := l.position(cfg.File, "companies", i)
			l.add(&Error{File: cfg.File, Line: line, Column: col, Msg: "empty company entry"})
			continue
		}
		if first, ok := seen[c.Name]; ok && c.Name != "" {
			line, _ := l.position(first.File, "companies", first.index, "name")
			l.companyError(c, nil, fmt.Sprintf("duplicate company name, first defined at %s:%d", first.File, line), "name")
		} else {
			seen[c.Name] = c
		}
		l.validateCompany(cfg, c)
	}
}

func (l *loader) validateGlobal(cfg *Config) {
	g := &cfg.Global
	errorf := func(field, format string, args ...any) {
		line, col := l.position(cfg.File, "global", field)
		l.add(&Error{File: cfg.File, Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if g.Interval != 0 && g.Interval < MinInterval {
		errorf("interval", "interval %s is shorter than the minimum %s", g.Interval, MinInterval)
	}
	if g.Timeout < 0 {
		errorf("timeout", "timeout must be positive")
	}
	if g.Timeout != 0 && g.Interval != 0 && g.Timeout > g.Interval {
		errorf("timeout", "timeout %s is longer than the interval %s", g.Timeout, g.Interval)
	}
	if g.FailureThreshold < 0 {
		errorf("failure_threshold", "must be at least 1")
	}
	if g.SuccessThreshold < 0 {
		errorf("success_threshold", "must be at least 1")
	}
	if g.BodySizeLimit < 0 {
		errorf("body_size_limit", "must be positive")
	}
	if g.MaxRedirects < 0 {
		errorf("max_redirects", "must not be negative")
	}
}

func (l *loader) validateCompany(cfg *Config, c *Company) {
	if c.Name == "" {
		l.companyError(c, nil, "missing company name", "name")
	} else if !namePattern.MatchString(c.Name) {
		l.companyError(c, nil, fmt.Sprintf("invalid name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", c.Name), "name")
	}
	l.validateLabels(c, nil, c.Labels, "labels")
	for i, addr := range c.Contacts.Email {
		if _, err := mail.ParseAddress(addr); err != nil {
			l.companyError(c, nil, fmt.Sprintf("invalid email address %q", addr), "contacts", "email", i)
		}
	}
	for i, pd := range c.Contacts.PagerDuty {
		if (pd.RoutingKey == "") == (pd.RoutingKeyFile == "") {
			l.companyError(c, nil, "set exactly one of routing_key and routing_key_file", "contacts", "pagerduty", i)
		}
	}
	if len(c.Endpoints) == 0 {
		l.companyError(c, nil, "company has no endpoints", "endpoints")
	}
	seen := map[string]int{}
	for i, e := range c.Endpoints {
		if e == nil {
			l.companyError(c, nil, "empty endpoint entry", "endpoints", i)
			continue
		}
		if first, ok := seen[e.Name]; ok && e.Name != "" {
			line, _ := l.position(c.File, "companies", c.index, "endpoints", first, "name")
			l.companyError(c, e, fmt.Sprintf("duplicate endpoint name in this company, first defined at line %d", line), "endpoints", i, "name")
		} else {
			seen[e.Name] = i
		}
		l.validateEndpoint(cfg, c, e, i)
	}
}

func (l *loader) validateLabels(c *Company, e *Endpoint, labels map[string]string, path ...any) {
	for name := range labels {
		switch {
		case !labelNamePattern.MatchString(name):
			l.companyError(c, e, fmt.Sprintf("invalid label name %q", name), path...)
		case reservedLabels[name]:
			l.companyError(c, e, fmt.Sprintf("label %q is set by apiwatch and cannot be overridden", name), path...)
		}
	}
}

func (l *loader) validateEndpoint(cfg *Config, c *Company, e *Endpoint, i int) {
	errorf := func(field string, format string, args ...any) {
		path := []any{"endpoints", i}
		if field != "" {
			path = append(path, field)
		}
		l.companyError(c, e, fmt.Sprintf(format, args...), path...)
	}
	if e.Name == "" {
		errorf("name", "missing endpoint name")
	} else if !namePattern.MatchString(e.Name) {
		errorf("name", "invalid name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", e.Name)
	}
	l.validateURL(e, errorf)

	interval := firstNonZero(e.Interval, cfg.Global.Interval, DefaultInterval)
	switch {
	case e.Schedule != "" && e.Interval != 0:
		errorf("schedule", "set either interval or schedule, not both")
	case e.Schedule != "":
		gap, ok := l.parseSchedule(e, errorf)
		if ok {
			interval = Duration(gap)
		}
	case e.TimeZone != "":
		errorf("time_zone", "time_zone applies only to a cron schedule")
	case e.Interval != 0 && e.Interval < MinInterval:
		errorf("interval", "interval %s is shorter than the minimum %s", e.Interval, MinInterval)
	}

	if e.Timeout < 0 {
		errorf("timeout", "timeout must be positive")
	}
	// An unset timeout is capped at the interval by setDefaults, so only a
	// timeout the user wrote can be too long.
	if e.Timeout > interval {
		if e.Schedule != "" {
			errorf("timeout", "timeout %s is longer than the shortest gap %s between scheduled runs", e.Timeout, interval)
		} else {
			errorf("timeout", "timeout %s is longer than the interval %s", e.Timeout, interval)
		}
	}
	if e.FailureThreshold < 0 {
		errorf("failure_threshold", "must be at least 1")
	}
	if e.SuccessThreshold < 0 {
		errorf("success_threshold", "must be at least 1")
	}
	if e.MaxRedirects < 0 {
		errorf("max_redirects", "must not be negative")
	}
	if e.BodySizeLimit < 0 {
		errorf("body_size_limit", "must be positive")
	}
	follows := e.FollowRedirects == nil || *e.FollowRedirects
	if e.FollowRedirects == nil && cfg.Global.FollowRedirects != nil {
		follows = *cfg.Global.FollowRedirects
	}
	if follows {
		for _, m := range e.Expect.Status {
			if isRedirectMatcher(m) {
				l.companyError(c, e, fmt.Sprintf("status %s can never match while redirects are followed, because the final response is judged: set follow_redirects: false to check the redirect itself", m),
					"endpoints", i, "expect", "status")
				break
			}
		}
	}
	l.validateLabels(c, e, e.Labels, "endpoints", i, "labels")
}

// isRedirectMatcher reports whether m accepts a status that the HTTP client
// follows when redirects are on (301, 302, 303, 307, 308).
func isRedirectMatcher(m StatusMatcher) bool {
	if m.Class == 3 {
		return true
	}
	switch m.Code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func (l *loader) validateURL(e *Endpoint, errorf func(string, string, ...any)) {
	u := e.URL.URL
	switch {
	case u == nil || u.String() == "":
		errorf("url", "missing url")
	case u.Scheme != "http" && u.Scheme != "https":
		errorf("url", "unsupported scheme %q: use http or https", u.Scheme)
	case u.Host == "":
		errorf("url", "missing host in %s", e.URL)
	}
}

// parseSchedule parses the endpoint's cron schedule and returns the
// shortest gap between its next runs, which bounds the timeout.
func (l *loader) parseSchedule(e *Endpoint, errorf func(string, string, ...any)) (time.Duration, bool) {
	loc := time.UTC
	if e.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(e.TimeZone); err != nil {
			errorf("time_zone", "unknown time zone %q", e.TimeZone)
			return 0, false
		}
	}
	sched, err := cronParser.Parse(e.Schedule)
	if err != nil {
		errorf("schedule", "invalid cron schedule %q: %v", e.Schedule, err)
		return 0, false
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok && e.TimeZone != "" {
		spec.Location = loc
	}
	e.cron = sched
	e.cronGap = shortestGap(sched, loc)
	return e.cronGap, true
}

// shortestGap returns the smallest gap between the next runs of sched. The
// gap varies (for example "0 9 * * 1-5"), so it takes the minimum over the
// runs of a few weeks from a fixed start.
func shortestGap(sched cron.Schedule, loc *time.Location) time.Duration {
	gap := time.Duration(1<<63 - 1)
	t := sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, loc))
	for range 200 {
		next := sched.Next(t)
		if next.IsZero() {
			break
		}
		gap = min(gap, next.Sub(t))
		t = next
	}
	return gap
}

func firstNonZero[T comparable](values ...T) T {
	var zero T
	for _, v := range values {
		if v != zero {
			return v
		}
	}
	return zero
}
