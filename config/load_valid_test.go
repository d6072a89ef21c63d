package config

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLoadFileDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.example.com/health
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	e := endpoint(t, cfg, "acme", "api")
	checkEndpoint(t, e, endpointValues{
		interval: time.Minute, timeout: 10 * time.Second,
		failure: 1, success: 1, bodyLimit: 1 << 20, follow: true, maxRedirects: 10, status: "2xx",
	})
	if e.Cron() != nil {
		t.Errorf("Cron() = %v, want nil for an interval endpoint", e.Cron())
	}
	g := cfg.Global
	if g.Interval != DefaultInterval || g.Timeout != DefaultTimeout || g.FailureThreshold != 1 ||
		g.SuccessThreshold != 1 || g.BodySizeLimit != DefaultBodySizeLimit || g.MaxRedirects != 10 ||
		g.FollowRedirects == nil || !*g.FollowRedirects {
		t.Errorf("global after defaults = %+v, want the built-in defaults", g)
	}
}

func TestLoadFileGlobalAndOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
global:
  interval: 5m
  timeout: 2m
  failure_threshold: 3
  success_threshold: 2
  body_size_limit: 64KiB
  follow_redirects: false
  max_redirects: 4
companies:
  - name: acme
    endpoints:
      - name: inherits
        url: https://api.example.com/health
      - name: overrides
        url: https://api.example.com/health
        interval: 1h30m
        timeout: 90s
        failure_threshold: 5
        success_threshold: 4
        body_size_limit: 2MiB
        follow_redirects: true
        max_redirects: 7
        expect:
          status: [200, 304]
          fail_if_body_too_large: true
      - name: short-interval
        url: https://api.example.com/health
        interval: 30s
      - name: every-minute
        url: https://api.example.com/health
        schedule: "* * * * *"
      - name: weekly
        url: https://api.example.com/health
        interval: 7d
      - name: redirect-itself
        url: https://api.example.com/old
        expect:
          status: 301
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	inherited := endpointValues{
		interval: 5 * time.Minute, timeout: 2 * time.Minute,
		failure: 3, success: 2, bodyLimit: 64 << 10, follow: false, maxRedirects: 4, status: "2xx",
	}
	tests := []struct {
		name string
		want endpointValues
	}{
		{"inherits", inherited},
		{"overrides", endpointValues{
			interval: 90 * time.Minute, timeout: 90 * time.Second,
			failure: 5, success: 4, bodyLimit: 2 << 20, follow: true, maxRedirects: 7, status: "200, 304",
		}},
		// An unset timeout is capped at the interval or the cron gap.
		{"short-interval", with(inherited, func(v *endpointValues) { v.interval, v.timeout = 30*time.Second, 30*time.Second })},
		{"every-minute", with(inherited, func(v *endpointValues) { v.interval, v.timeout = 0, time.Minute })},
		{"weekly", with(inherited, func(v *endpointValues) { v.interval = 7 * 24 * time.Hour })},
		{"redirect-itself", with(inherited, func(v *endpointValues) { v.status = "301" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkEndpoint(t, endpoint(t, cfg, "acme", tc.name), tc.want)
		})
	}
	if !endpoint(t, cfg, "acme", "overrides").Expect.FailIfBodyTooLarge {
		t.Errorf("overrides: FailIfBodyTooLarge = false, want true")
	}
}

// endpointValues are the fields that defaults fill in.
type endpointValues struct {
	interval, timeout time.Duration
	failure, success  int
	bodyLimit         int64
	follow            bool
	maxRedirects      int
	status            string
}

func with(v endpointValues, change func(*endpointValues)) endpointValues {
	change(&v)
	return v
}

func checkEndpoint(t *testing.T, e *Endpoint, want endpointValues) {
	t.Helper()
	got := endpointValues{
		interval: time.Duration(e.Interval), timeout: time.Duration(e.Timeout),
		failure: e.FailureThreshold, success: e.SuccessThreshold, bodyLimit: int64(e.BodySizeLimit),
		maxRedirects: e.MaxRedirects, status: e.Expect.Status.String(),
	}
	if e.FollowRedirects == nil {
		t.Errorf("FollowRedirects is nil after defaults")
	} else {
		got.follow = *e.FollowRedirects
	}
	if got.follow != e.Follows() {
		t.Errorf("Follows() = %v, FollowRedirects = %v", e.Follows(), got.follow)
	}
	if got != want {
		t.Errorf("endpoint %s:\n got %+v\nwant %+v", e.Name, got, want)
	}
}

func TestLoadFileIncludes(t *testing.T) {
	main := filepath.Join("testdata", "valid", "main.yml")
	cfg := mustLoad(t, main)

	wantFiles := []string{
		main,
		filepath.Join("testdata", "valid", "conf.d", "a-initech.yml"),
		filepath.Join("testdata", "valid", "conf.d", "b-globex.yml"),
	}
	if !slices.Equal(cfg.Files, wantFiles) {
		t.Errorf("Files = %q, want %q", cfg.Files, wantFiles)
	}
	var got [][2]string
	for _, c := range cfg.Companies {
		got = append(got, [2]string{c.Name, c.File})
	}
	want := [][2]string{
		{"acme", wantFiles[0]},
		{"initech", wantFiles[1]},
		{"umbrella", wantFiles[1]},
		{"globex", wantFiles[2]},
	}
	if !slices.Equal(got, want) {
		t.Errorf("companies and files = %q, want %q", got, want)
	}
	// The main file's global block applies to the fragments too.
	if iv := endpoint(t, cfg, "globex", "api").Interval; iv != Duration(2*time.Minute) {
		t.Errorf("globex/api interval = %s, want 2m from the main file", iv)
	}
}

func TestLoadFileRoutingKeyFile(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "valid", "main.yml"))
	for _, c := range cfg.Companies {
		if c.Name != "globex" {
			continue
		}
		if len(c.Contacts.PagerDuty) != 1 {
			t.Fatalf("globex has %d PagerDuty contacts, want 1", len(c.Contacts.PagerDuty))
		}
		pd := c.Contacts.PagerDuty[0]
		// Read relative to conf.d/b-globex.yml, without the trailing newline.
		if got := pd.RoutingKey.Value(); got != "R0ut1ng-K3y" {
			t.Errorf("routing key = %q, want %q", got, "R0ut1ng-K3y")
		}
		if pd.RoutingKeyFile != "secrets/globex.key" {
			t.Errorf("RoutingKeyFile = %q, want it kept as written", pd.RoutingKeyFile)
		}
		return
	}
	t.Fatal("no company globex")
}

func TestLoadFileDurations(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"1h30m", 90 * time.Minute},
		{"90s", 90 * time.Second},
		{"7d", 7 * 24 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1500ms", 1500 * time.Millisecond},
		{`"2m"`, 2 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.example.com/health
        interval: ` + tc.value + `
`})
			e := endpoint(t, mustLoad(t, filepath.Join(dir, "apiwatch.yml")), "acme", "api")
			if got := time.Duration(e.Interval); got != tc.want {
				t.Errorf("interval = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLoadFileCronTimeZones(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    endpoints:
      - name: utc
        url: https://api.example.com/health
        schedule: "0 9 * * *"
      - name: prefix
        url: https://api.example.com/health
        schedule: "CRON_TZ=Asia/Tokyo 0 9 * * *"
      - name: field
        url: https://api.example.com/health
        schedule: "0 9 * * *"
        time_zone: America/New_York
      - name: hourly
        url: https://api.example.com/health
        schedule: "@hourly"
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		want    time.Time
		timeout time.Duration
	}{
		{"utc", time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC), 10 * time.Second},
		// 09:00 in Tokyo (UTC+9) is midnight UTC, so the first run after
		// the start is the next day's.
		{"prefix", time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC), 10 * time.Second},
		// 09:00 in New York during daylight saving time (UTC-4).
		{"field", time.Date(2026, 7, 1, 13, 0, 0, 0, time.UTC), 10 * time.Second},
		{"hourly", time.Date(2026, 7, 1, 1, 0, 0, 0, time.UTC), 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := endpoint(t, cfg, "acme", tc.name)
			if e.Cron() == nil {
				t.Fatal("Cron() = nil for a scheduled endpoint")
			}
			if got := e.Cron().Next(start); !got.Equal(tc.want) {
				t.Errorf("next run after %s = %s, want %s", start, got.UTC(), tc.want)
			}
			if e.Interval != 0 {
				t.Errorf("interval = %s, want 0 for a scheduled endpoint", e.Interval)
			}
			if got := time.Duration(e.Timeout); got != tc.timeout {
				t.Errorf("timeout = %s, want %s", got, tc.timeout)
			}
		})
	}
}

func TestLoadFileEmpty(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"empty.yml":        "",
		"comments.yml":     "# nothing configured yet\n",
		"no-companies.yml": "companies: []\n",
	})
	for _, name := range []string{"empty.yml", "comments.yml"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, name)
			_, err := LoadFile(file)
			want := file + ": the main configuration file is empty; to run without companies, write companies: []"
			if err == nil || err.Error() != want {
				t.Errorf("LoadFile = %v, want %s", err, want)
			}
		})
	}
	t.Run("explicit empty list", func(t *testing.T) {
		cfg := mustLoad(t, filepath.Join(dir, "no-companies.yml"))
		if len(cfg.Companies) != 0 {
			t.Errorf("companies = %d, want 0", len(cfg.Companies))
		}
		if cfg.Global.Interval != DefaultInterval {
			t.Errorf("global interval = %s, want the default %s", cfg.Global.Interval, DefaultInterval)
		}
	})
}
