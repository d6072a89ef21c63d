package config

import "path/filepath"

// setDefaults fills every unset field from the global block, and the global
// block from the built-in defaults. It is the one place defaults live.
//
// Companies in skip are left alone: they come from a LoadCache, already
// filled.
func (cfg *Config) setDefaults(skip map[*Company]bool) {
	g := &cfg.Global
	g.Interval = firstNonZero(g.Interval, DefaultInterval)
	g.Timeout = firstNonZero(g.Timeout, DefaultTimeout)
	g.FailureThreshold = firstNonZero(g.FailureThreshold, DefaultFailureThreshold)
	g.SuccessThreshold = firstNonZero(g.SuccessThreshold, DefaultSuccessThreshold)
	g.BodySizeLimit = firstNonZero(g.BodySizeLimit, DefaultBodySizeLimit)
	g.MaxRedirects = firstNonZero(g.MaxRedirects, DefaultMaxRedirects)
	if g.FollowRedirects == nil {
		follow := true
		g.FollowRedirects = &follow
	}
	cfg.Alerting.setDefaults()
	if t := cfg.Alerting.Routing.TemplateFile; t != "" && !filepath.IsAbs(t) {
		cfg.Alerting.Routing.TemplateFile = filepath.Join(filepath.Dir(cfg.File), t)
	}
	g.ProbeSettings.setProbeDefaults()
	for _, c := range cfg.Companies {
		if skip[c] {
			continue
		}
		c.Severity = firstNonZero(c.Severity, DefaultSeverity)
		for _, e := range c.Endpoints {
			e.setDefaults(g)
			e.ProbeSettings.inherit(&c.ProbeSettings)
			e.ProbeSettings.inherit(&g.ProbeSettings)
			if e.Kind() == KindHTTP {
				e.Method = firstNonZero(e.Method, DefaultMethod)
			}
			e.Severity = firstNonZero(e.Severity, c.Severity)
			e.RunbookURL = firstNonZero(e.RunbookURL, c.RunbookURL)
		}
	}
}

func (e *Endpoint) setDefaults(g *Global) {
	if e.Schedule == "" {
		e.Interval = firstNonZero(e.Interval, g.Interval)
	}
	if e.Timeout == 0 {
		e.Timeout = min(g.Timeout, e.period())
	}
	e.FailureThreshold = firstNonZero(e.FailureThreshold, g.FailureThreshold)
	e.SuccessThreshold = firstNonZero(e.SuccessThreshold, g.SuccessThreshold)
	e.BodySizeLimit = firstNonZero(e.BodySizeLimit, g.BodySizeLimit)
	e.MaxRedirects = firstNonZero(e.MaxRedirects, g.MaxRedirects)
	if e.FollowRedirects == nil {
		follow := *g.FollowRedirects
		e.FollowRedirects = &follow
	}
	if len(e.Expect.Status) == 0 {
		e.Expect.Status = StatusMatchers{{Class: 2}}
	}
}

// period is the interval, or for a cron schedule the shortest gap between
// runs.
func (e *Endpoint) period() Duration {
	if e.cron == nil {
		return e.Interval
	}
	return Duration(e.cronGap)
}

// firstNonZero returns the first value that is not the zero value, or zero.
func firstNonZero[T comparable](values ...T) T {
	var zero T
	for _, v := range values {
		if v != zero {
			return v
		}
	}
	return zero
}
