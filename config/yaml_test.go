package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestYAMLWordsStayStrings checks that words YAML 1.1 reads as booleans, and
// numbers, stay the literal text where the field is a string.
func TestYAMLWordsStayStrings(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: on
    labels: {feature: on, legacy: no, beta: yes, debug: off, version: 1.0, mask: 0x1F, on: true}
    endpoints:
      - name: no
        url: https://api.example.com/health
        labels: {canary: y, region: NO}
      - name: yes
        url: https://api.example.com/health
      - name: off
        url: https://api.example.com/health
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	c := cfg.Companies[0]
	if c.Name != "on" {
		t.Errorf("company name = %q, want %q", c.Name, "on")
	}
	wantLabels := map[string]string{
		"feature": "on", "legacy": "no", "beta": "yes", "debug": "off",
		"version": "1.0", "mask": "0x1F", "on": "true",
	}
	if !maps.Equal(c.Labels, wantLabels) {
		t.Errorf("company labels = %v, want %v", c.Labels, wantLabels)
	}
	var names []string
	for _, e := range c.Endpoints {
		names = append(names, e.Name)
	}
	if want := []string{"no", "yes", "off"}; !slices.Equal(names, want) {
		t.Errorf("endpoint names = %q, want %q", names, want)
	}
	if got, want := c.Endpoints[0].Labels, (map[string]string{"canary": "y", "region": "NO"}); !maps.Equal(got, want) {
		t.Errorf("endpoint labels = %v, want %v", got, want)
	}
}

func TestYAMLWordsInEmailList(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    contacts:
      email: [ops@example.com, no, off]
    endpoints:
      - name: api
        url: https://api.example.com/health
`})
	_, err := LoadFile(filepath.Join(dir, "apiwatch.yml"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("LoadFile error = %v, want Errors", err)
	}
	// The messages quote the words as written: they reached the validator
	// as strings, not as false.
	var got []string
	for _, e := range errs {
		got = append(got, e.Msg)
	}
	want := []string{`invalid email address "no"`, `invalid email address "off"`}
	if !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}

// TestYAMLBooleanWords checks the YAML 1.1 words that yaml.v3 accepts for a
// typed bool, which follow_redirects is.
func TestYAMLBooleanWords(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"true", true}, {"false", false}, {"no", false}, {"off", false}, {"yes", true}, {"on", true},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.example.com/health
        follow_redirects: ` + tc.value + `
`})
			e := endpoint(t, mustLoad(t, filepath.Join(dir, "apiwatch.yml")), "acme", "api")
			if e.Follows() != tc.want {
				t.Errorf("Follows() = %v, want %v", e.Follows(), tc.want)
			}
		})
	}
}

func TestYAMLAnchorsAndMerges(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    labels: &team {team: payments, tier: gold}
    endpoints:
      - &base
        name: api
        url: https://api.example.com/health
        interval: 30s
        timeout: &short 5s
        expect: {status: [200, 204]}
      - <<: *base
        name: api-v2
        url: https://api.example.com/v2/health
      - <<: [*base, {failure_threshold: 3, interval: 2m}]
        name: api-v3
        timeout: *short
        url: https://api.example.com/v3/health
  - name: globex
    labels: *team
    endpoints:
      - *base
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	tests := []struct {
		company, name, url string
		interval, timeout  time.Duration
		failure            int
	}{
		{"acme", "api", "https://api.example.com/health", 30 * time.Second, 5 * time.Second, 1},
		{"acme", "api-v2", "https://api.example.com/v2/health", 30 * time.Second, 5 * time.Second, 1},
		// The first merged mapping wins over later ones, and explicit keys
		// win over all of them.
		{"acme", "api-v3", "https://api.example.com/v3/health", 30 * time.Second, 5 * time.Second, 3},
		{"globex", "api", "https://api.example.com/health", 30 * time.Second, 5 * time.Second, 1},
	}
	for _, tc := range tests {
		t.Run(tc.company+"/"+tc.name, func(t *testing.T) {
			e := endpoint(t, cfg, tc.company, tc.name)
			if got := e.URL.String(); got != tc.url {
				t.Errorf("url = %s, want %s", got, tc.url)
			}
			if got := time.Duration(e.Interval); got != tc.interval {
				t.Errorf("interval = %s, want %s", got, tc.interval)
			}
			if got := time.Duration(e.Timeout); got != tc.timeout {
				t.Errorf("timeout = %s, want %s", got, tc.timeout)
			}
			if e.FailureThreshold != tc.failure {
				t.Errorf("failure_threshold = %d, want %d", e.FailureThreshold, tc.failure)
			}
			if got := e.Expect.Status.String(); got != "200, 204" {
				t.Errorf("status = %s, want 200, 204", got)
			}
		})
	}
	// Each use of an alias is a separate value: changing one endpoint must
	// not change another.
	a, b := endpoint(t, cfg, "acme", "api"), endpoint(t, cfg, "globex", "api")
	if a == b {
		t.Fatal("acme/api and globex/api are the same *Endpoint")
	}
	a.Expect.Status[0] = StatusMatcher{Code: 500}
	if b.Expect.Status[0].Code != 200 {
		t.Errorf("changing acme/api's status changed globex/api's")
	}
	if got := cfg.Companies[1].Labels["tier"]; got != "gold" {
		t.Errorf("globex labels from alias: tier = %q, want gold", got)
	}
}

// TestYAMLMergeKeysChecked checks that keys brought in by a merge are
// checked like keys written in place.
func TestYAMLMergeKeysChecked(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    endpoints:
      - &base
        name: api
        url: https://api.example.com/health
      - <<: [*base, {intervl: 30s}]
        name: web
`})
	_, err := LoadFile(filepath.Join(dir, "apiwatch.yml"))
	want := filepath.Join(dir, "apiwatch.yml") +
		`:8:22: company "acme": endpoint "web": unknown field "intervl", did you mean "interval"?`
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile error:\n got: %v\nwant: %s", err, want)
	}
}

// TestYAMLAliasBombs checks that documents whose aliases or merge keys
// expand to a huge tree fail or finish fast instead of exhausting memory.
func TestYAMLAliasBombs(t *testing.T) {
	// 1,000 companies that each alias a list of 1,000 endpoint aliases
	// would decode a million endpoints from a 30 KB file.
	var wide strings.Builder
	wide.WriteString("companies:\n  - name: c0\n    endpoints: &eps\n")
	wide.WriteString("      - &e {name: api, url: 'https://api.example.com/'}\n")
	for range 999 {
		wide.WriteString("      - *e\n")
	}
	for i := 1; i < 1000; i++ {
		fmt.Fprintf(&wide, "  - {name: c%d, endpoints: *eps}\n", i)
	}

	// Each anchor merges the previous one ten times: 10^8 merges if walked
	// naively.
	var deep strings.Builder
	deep.WriteString("companies:\n  - name: acme\n    endpoints:\n")
	deep.WriteString("      - &m0 {name: api, url: 'https://api.example.com/'}\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&deep, "      - &m%d {<<: [%s], name: api%d}\n", i,
			strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", "), i)
	}

	tests := []struct {
		name, doc, wantErr string
	}{
		{"aliased lists", wide.String(), "document expands too many aliases"},
		{"chained merges", deep.String(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"bomb.yml": tc.doc})
			start := time.Now()
			_, err := LoadFile(filepath.Join(dir, "bomb.yml"))
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("LoadFile took %s, want under 2s", elapsed)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("LoadFile error = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("LoadFile error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
