package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary main files to LoadFile. It must never panic, and
// what it returns must hold the loader's promises: either a config whose
// endpoints all have usable values, or a non-empty Errors list.
//
// Run it with: go test ./config -run '^$' -fuzz FuzzLoad -fuzztime 60s
// Seeds live in testdata/fuzz/FuzzLoad, and every file in testdata/invalid
// and testdata/valid is added as a seed too.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/invalid/*.yml", "testdata/valid/*.yml", "testdata/valid/conf.d/*.yml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if info, err := os.Stat(file); err != nil || !info.Mode().IsRegular() {
				continue // conf.d/archive.yml is a directory
			}
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "apiwatch.yml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadFile(path)
		if err != nil {
			checkErrors(t, cfg, err)
			return
		}
		checkLoaded(t, cfg)
	})
}

func checkErrors(t *testing.T, cfg *Config, err error) {
	t.Helper()
	if cfg != nil {
		t.Errorf("LoadFile returned a config and an error")
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("LoadFile error = %v (%T), want a non-empty Errors", err, err)
	}
	for _, e := range errs {
		if e.File == "" || e.Msg == "" {
			t.Errorf("problem without file or message: %+v", e)
		}
	}
}

func checkLoaded(t *testing.T, cfg *Config) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cfg.Companies {
		if c == nil || !validName(c.Name) || names[c.Name] {
			t.Fatalf("loaded a nil, invalid or duplicate company: %+v", c)
		}
		names[c.Name] = true
		if len(c.Endpoints) == 0 {
			t.Errorf("company %s loaded without endpoints", c.Name)
		}
		for _, e := range c.Endpoints {
			checkLoadedEndpoint(t, c.Name, e)
		}
	}
}

func checkLoadedEndpoint(t *testing.T, company string, e *Endpoint) {
	t.Helper()
	if e == nil {
		t.Fatalf("company %s has a nil endpoint", company)
	}
	u := e.URL.URL
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		t.Errorf("%s/%s: loaded with URL %v", company, e.Name, e.URL)
	}
	period := time.Duration(e.Interval)
	if e.Cron() != nil {
		period = e.cronGap
	} else if e.Interval < MinInterval {
		t.Errorf("%s/%s: interval %s below the minimum", company, e.Name, e.Interval)
	}
	if e.Timeout <= 0 || time.Duration(e.Timeout) > period {
		t.Errorf("%s/%s: timeout %s outside (0, %s]", company, e.Name, e.Timeout, period)
	}
	if e.FailureThreshold < 1 || e.SuccessThreshold < 1 || e.MaxRedirects < 1 || e.BodySizeLimit < 1 {
		t.Errorf("%s/%s: a count below 1: %+v", company, e.Name, e)
	}
	if e.FollowRedirects == nil || len(e.Expect.Status) == 0 {
		t.Errorf("%s/%s: defaults not filled: %+v", company, e.Name, e)
	}
}
