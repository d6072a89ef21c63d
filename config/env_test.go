package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// envLookup returns a LookupEnv function over env that counts the lookups
// of each name in calls.
func envLookup(env map[string]string, calls map[string]int) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if calls != nil {
			calls[name]++
		}
		v, ok := env[name]
		return v, ok
	}
}

// loadWithEnv writes content as apiwatch.yml in a new directory and loads it
// with env as the environment. It returns the file's path too.
func loadWithEnv(t *testing.T, content string, env map[string]string) (*Config, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, LoadOptions{LookupEnv: envLookup(env, nil)})
	return cfg, path, err
}

func TestEnvExpandsValues(t *testing.T) {
	env := map[string]string{
		"TEAM":     "payments",
		"PD_KEY":   "tok-ABC123",
		"PW":       "pw-in-url",
		"TOKEN":    "q-456",
		"HOST":     "api.example.com",
		"IV":       "30s",
		"N":        "3",
		"LIMIT":    "2KiB",
		"FOLLOW":   "false",
		"YAMLISH":  "a: b # not a comment",
		"NESTED":   "${TEAM}",
		"EMPTY":    "",
		"SEVERITY": "critical",
	}
	cfg, _, err := loadWithEnv(t, `
companies:
  - name: acme
    labels:
      team: ${TEAM}
      both: ${TEAM}-${SEVERITY}
      literal: $${TEAM}
      dollars: pa$$word$ and ^/x$
      yamlish: ${YAMLISH}
      nested: ${NESTED}
      empty: "${EMPTY}"
      quoted: "${N}"
    contacts:
      pagerduty:
        - routing_key: ${PD_KEY}
    severity: ${SEVERITY}
    endpoints:
      - name: api
        url: https://user:${PW}@${HOST}/health?token=${TOKEN}&page=2
        interval: ${IV}
        failure_threshold: ${N}
        body_size_limit: ${LIMIT}
        follow_redirects: ${FOLLOW}
`, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	c := cfg.Companies[0]
	wantLabels := map[string]string{
		"team":    "payments",
		"both":    "payments-critical",
		"literal": "${TEAM}",
		"dollars": "pa$$word$ and ^/x$",
		"yamlish": "a: b # not a comment",
		"nested":  "${TEAM}",
		"empty":   "",
		"quoted":  "3",
	}
	for k, want := range wantLabels {
		if got := c.Labels[k]; got != want {
			t.Errorf("labels.%s = %q, want %q", k, got, want)
		}
	}
	if got := c.Contacts.PagerDuty[0].RoutingKey.Value(); got != "tok-ABC123" {
		t.Errorf("routing_key = %q, want tok-ABC123", got)
	}
	if c.Severity != "critical" {
		t.Errorf("severity = %q, want critical", c.Severity)
	}
	e := c.Endpoints[0]
	if got, want := e.URL.URL.String(), "https://user:pw-in-url@api.example.com/health?token=q-456&page=2"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got, want := e.URL.String(), "https://user:xxxxx@api.example.com/health?token=xxxxx&page=2"; got != want {
		t.Errorf("redacted URL = %q, want %q", got, want)
	}
	if e.Interval != Duration(30*time.Second) {
		t.Errorf("interval = %v, want 30s", e.Interval)
	}
	if e.FailureThreshold != 3 {
		t.Errorf("failure_threshold = %d, want 3", e.FailureThreshold)
	}
	if e.BodySizeLimit != 2048 {
		t.Errorf("body_size_limit = %d, want 2048", e.BodySizeLimit)
	}
	if e.Follows() {
		t.Errorf("follow_redirects = true, want false")
	}
	// The expanded secrets print redacted like any other.
	for _, p := range printers {
		out, err := p.print(c)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		checkNoMarkers(t, "company printed with "+p.name, out)
	}
}

func TestEnvErrors(t *testing.T) {
	env := map[string]string{"N": "3", "IV": "30s"}
	tests := []struct {
		name  string
		value string // the value of labels.x, or of the key named in field
		field string
		want  string // the first problem, after "FILE:"
	}{
		{"unset variable", "${MISSING}", "labels.x",
			"7:10: environment variable MISSING is not set"},
		{"unset in the middle", "a-${MISSING}-b", "labels.x",
			"7:10: environment variable MISSING is not set"},
		{"unterminated", "abc${N", "labels.x",
			"7:10: unterminated ${ at character 4 of the value: close it with } or write $${ for a literal ${"},
		{"unterminated after a reference", "${N}/$${N}/${N", "labels.x",
			"7:10: unterminated ${ at character 12 of the value: close it with } or write $${ for a literal ${"},
		{"empty name", "${}", "labels.x",
			"7:10: invalid environment variable name in the ${...} at character 1 of the value: " +
				"use letters, digits and _, not starting with a digit"},
		{"name with a digit first", "${1ABC}", "labels.x",
			`7:10: invalid environment variable name "1ABC" in ${...}: use letters, digits and _, not starting with a digit`},
		{"name with a space", "${not a name}", "labels.x",
			"7:10: invalid environment variable name in the ${...} at character 1 of the value: " +
				"use letters, digits and _, not starting with a digit"},
		{"shell default", "${N:-5}", "labels.x",
			"7:10: invalid ${...} at character 1 of the value: shell forms such as ${NAME:-default} " +
				"are not supported; use letters, digits and _, not starting with a digit"},
		{"quoted number", `"${N}"`, "failure_threshold",
			`10:28: company "acme": endpoint "api": failure_threshold: invalid value "3": quotes make it a string; write the number without quotes`},
		{"tagged string", "!!str ${N}", "failure_threshold",
			`10:28: company "acme": endpoint "api": failure_threshold: invalid value "3": expected a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label, threshold := "plain", "2"
			if tt.field == "labels.x" {
				label = tt.value
			} else {
				threshold = tt.value
			}
			_, path, err := loadWithEnv(t, fmt.Sprintf(`
companies:
  - name: acme
    contacts:
      email: [ops@acme.example]
    labels:
      x: %s
    endpoints:
      - name: api
        failure_threshold: %s
        url: https://api.acme.example/
`, label, threshold), env)
			errs, ok := err.(Errors)
			if !ok || len(errs) == 0 {
				t.Fatalf("Load error = %v, want Errors", err)
			}
			if got, want := errs[0].Error(), path+":"+tt.want; got != want {
				t.Errorf("first problem:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestEnvErrorsNeverQuoteTheValue(t *testing.T) {
	// The text around a broken reference may be a secret typed in place.
	_, _, err := loadWithEnv(t, `
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key: tok-ABC123${BROKEN
        - routing_key: "${tok-ABC123 pasted here}"
    endpoints:
      - name: api
        url: https://user:pw-in-url@api.acme.example/${ALSO
`, nil)
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	checkNoMarkers(t, "errors", err.Error())
}

func TestEnvKeysAreNotExpanded(t *testing.T) {
	_, path, err := loadWithEnv(t, `
companies:
  - name: acme
    labels:
      ${KEY}: x
    endpoints:
      - name: api
        url: https://api.acme.example/
`, map[string]string{"KEY": "team"})
	want := path + `:5:7: company "acme": labels.${KEY}: invalid label name "${KEY}": ` +
		"use letters, digits and '_', not starting with a digit"
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n got: %v\nwant: %s", err, want)
	}
}

func TestEnvAliasExpandedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apiwatch.yml")
	// The anchored value is used three times, and the value of V itself
	// looks like a reference, which must not be expanded again.
	content := `
companies:
  - name: acme
    labels:
      a: &v ${V}
      b: *v
    endpoints:
      - name: api
        url: https://api.acme.example/
        labels:
          c: *v
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	cfg, err := Load(path, LoadOptions{LookupEnv: envLookup(map[string]string{"V": "${W}"}, calls)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if calls["V"] != 1 {
		t.Errorf("V looked up %d times, want 1", calls["V"])
	}
	if calls["W"] != 0 {
		t.Errorf("W looked up %d times, want 0: an expanded value was expanded again", calls["W"])
	}
	c := cfg.Companies[0]
	got := []string{c.Labels["a"], c.Labels["b"], c.Endpoints[0].Labels["c"]}
	for i, v := range got {
		if v != "${W}" {
			t.Errorf("use %d of the alias = %q, want ${W}", i+1, v)
		}
	}
}

func TestExpandString(t *testing.T) {
	env := envLookup(map[string]string{"A": "1", "B": "two", "EMPTY": ""}, nil)
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"no references", "no references"},
		{"${A}", "1"},
		{"${A}${B}", "1two"},
		{"x${EMPTY}y", "xy"},
		{"$${A}", "${A}"},
		{"$$${A}", "$${A}"},
		{"${A}$${B}", "1${B}"},
		{"$A ${A}", "$A 1"},
		{"$", "$"},
		{"a$", "a$"},
		{"{A}", "{A}"},
		{"}${A}{", "}1{"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expandString(tt.in, env)
			if err != nil {
				t.Fatalf("expandString(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("expandString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEnvInIncludedFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": "config_files: [conf.d/*.yml]\n",
		"conf.d/acme.yml": `companies:
  - name: acme
    endpoints:
      - name: api
        url: ${URL}
        interval: ${MISSING_IV}
`,
	})
	_, err := Load(filepath.Join(dir, "apiwatch.yml"), LoadOptions{
		LookupEnv: envLookup(map[string]string{"URL": "https://api.acme.example/"}, nil),
	})
	want := filepath.Join(dir, "conf.d/acme.yml") + ":6:19: environment variable MISSING_IV is not set"
	errs, ok := err.(Errors)
	if !ok || len(errs) == 0 {
		t.Fatalf("Load error = %v, want Errors", err)
	}
	if got := errs[0].Error(); got != want {
		t.Errorf("first problem:\n got: %s\nwant: %s", got, want)
	}
}
