package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

const urlExample = "use an absolute URL such as https://api.example.com/health"

func (l *loader) validateEndpoint(cfg *Config, c *Company, e *Endpoint, it item) {
	ok := func(key string) bool { return l.fieldOK(e, key) }
	if ok("name") {
		l.validateName(it, "endpoint", e.Name)
	}
	if ok("url") {
		l.validateURL(e, it)
	}
	period, periodName, known := l.endpointPeriod(cfg, e, it)
	if isSet(it.node, "timeout") && ok("timeout") {
		switch {
		case e.Timeout <= 0:
			l.errorf(it, []any{"timeout"}, "must be longer than 0s")
		case known && time.Duration(e.Timeout) > period:
			l.errorf(it, []any{"timeout"}, "%s is longer than %s", e.Timeout, periodName)
		}
	}
	l.checkCounts(it, e, it.node, nil, e.FailureThreshold, e.SuccessThreshold, e.MaxRedirects)
	if ok("follow_redirects") && ok("expect") {
		l.checkRedirectStatus(cfg, e, it)
	}
	if ok("labels") {
		l.validateLabels(it, e.Labels)
	}
	l.checkAlertPolicy(it, e, e.Severity, e.RunbookURL, e.Maintenance)
	l.validateProbeSettings(it, e, nil, &e.ProbeSettings, c.File)
	l.validateProbe(e, c, cfg, it, period, known)
}

// endpointPeriod checks interval, schedule and time_zone, parses the
// schedule into e, and returns the time between probes that bounds the
// timeout, with words naming where it comes from. known is false when the
// period is unknown because of an error.
func (l *loader) endpointPeriod(cfg *Config, e *Endpoint, it item) (period time.Duration, name string, known bool) {
	if !l.fieldOK(e, "interval") || !l.fieldOK(e, "schedule") || !l.fieldOK(e, "time_zone") {
		return 0, "", false
	}
	set := func(key string) bool { return isSet(it.node, key) }
	if e.TimeZone != "" && e.Schedule == "" {
		l.errorf(it, []any{"time_zone"}, "applies only to a cron schedule: set schedule or remove time_zone")
	}
	switch {
	case set("schedule") && set("interval"):
		l.errorf(it, []any{"schedule"}, "set either interval or schedule, not both")
		return 0, "", false
	case set("schedule") && e.Schedule == "":
		l.errorf(it, []any{"schedule"}, "empty: give a cron expression such as \"*/5 * * * *\"")
		return 0, "", false
	case e.Schedule != "":
		s := l.parseSchedule(e.Schedule, e.TimeZone)
		if s.msg != "" {
			l.errorf(it, []any{s.field}, "%s", s.msg)
			return 0, "", false
		}
		e.cron, e.cronGap = s.sched, s.gap
		return s.gap, fmt.Sprintf("the shortest gap %s between scheduled runs", Duration(s.gap)), true
	case set("interval"):
		if e.Interval < MinInterval {
			l.errorf(it, []any{"interval"}, "%s is shorter than the minimum %s", e.Interval, MinInterval)
			return 0, "", false
		}
		return time.Duration(e.Interval), fmt.Sprintf("the interval %s", e.Interval), true
	case !l.fieldOK(&cfg.Global, "interval"):
		return 0, "", false
	case cfg.Global.Interval != 0:
		return time.Duration(cfg.Global.Interval), fmt.Sprintf("global.interval %s", cfg.Global.Interval), true
	}
	return time.Duration(DefaultInterval), fmt.Sprintf("the default interval %s", DefaultInterval), true
}

// checkRedirectStatus rejects an expected redirect status while redirects
// are followed: the client then judges the response after the last
// redirect, so a 301 or 3xx could never match.
func (l *loader) checkRedirectStatus(cfg *Config, e *Endpoint, it item) {
	follows := true
	switch {
	case e.FollowRedirects != nil:
		follows = *e.FollowRedirects
	case !l.fieldOK(&cfg.Global, "follow_redirects"):
		return
	case cfg.Global.FollowRedirects != nil:
		follows = *cfg.Global.FollowRedirects
	}
	if !follows {
		return
	}
	for _, m := range e.Expect.Status {
		if isRedirectMatcher(m) {
			l.errorf(it, []any{"expect", "status"},
				"status %s cannot match while redirects are followed, because the response after the last redirect is judged: set follow_redirects: false to check the redirect itself", m)
			return
		}
	}
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

// validateURL checks that the URL is an absolute http or https URL. Its
// messages never quote the URL, which may carry credentials.
func (l *loader) validateURL(e *Endpoint, it item) {
	at := []any{"url"}
	u := e.URL.URL
	switch {
	case u == nil:
		l.errorf(it, at, "missing url: %s", urlExample)
	case u.Scheme == "":
		l.errorf(it, at, "missing scheme: %s", urlExample)
	case !slices.Contains([]string{"http", "https", "tcp", "grpc", "grpcs"}, u.Scheme):
		l.errorf(it, at, "unsupported scheme %q: use http or https, tcp://host:port, or grpc:// or grpcs:// for a gRPC health check", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		l.errorf(it, at, "missing host: %s", urlExample)
	case e.Kind() != KindHTTP && u.Port() == "":
		l.errorf(it, at, "missing port: %s://host:port needs a port", u.Scheme)
	case e.Kind() != KindHTTP && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != ""):
		l.errorf(it, at, "a %s:// URL has no path, query or fragment: use %s://host:port", u.Scheme, u.Scheme)
	case e.Kind() != KindHTTP && u.User != nil:
		l.errorf(it, at, "a %s:// URL has no user or password: credentials there would never be sent", u.Scheme)
	case !validPort(u):
		l.errorf(it, at, "invalid port: use a number from 1 to 65535")
	}
}

// validPort reports whether u names no port, or one from 1 to 65535.
func validPort(u *url.URL) bool {
	if u.Port() == "" {
		return true
	}
	p, err := strconv.Atoi(u.Port())
	return err == nil && p >= 1 && p <= 65535
}
