package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// header is what every company file starts with.
const header = companyFileHeader + "companies:\n  -\n"

func TestCompanyFileContent(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // the whole file
	}{
		{
			name: "yaml kept as written",
			body: "# Acme's probes.\nname: acme # the tenant\nendpoints:\n  - name: api\n    url: https://api.acme.example/\n",
			want: header + "    # Acme's probes.\n    name: acme # the tenant\n    endpoints:\n" +
				"      - name: api\n        url: https://api.acme.example/\n",
		},
		{
			name: "block scalars with a blank line",
			body: "name: acme\nlabels:\n  note: |\n    first\n\n    third\n  folded: >-\n    a\n    b\n",
			want: header + "    name: acme\n    labels:\n      note: |\n        first\n\n        third\n" +
				"      folded: >-\n        a\n        b\n",
		},
		{
			name: "document markers blanked",
			body: "%YAML 1.1\n---\nname: acme\n...\n",
			want: header + "    #YAML 1.1\n\n    name: acme\n\n",
		},
		{
			name: "marker with content",
			body: "--- {name: acme}\n",
			want: header + "        {name: acme}\n",
		},
		{
			name: "yaml flow mapping",
			body: "{name: acme,\n endpoints: []}\n",
			want: header + "    {name: acme,\n     endpoints: []}\n",
		},
		{
			name: "crlf line ends",
			body: "name: acme\r\nendpoints: []\r\n",
			want: header + "    name: acme\r\n    endpoints: []\r\n",
		},
		{
			name: "no final line break",
			body: "name: acme",
			want: header + "    name: acme\n",
		},
		{
			name: "json with tabs and escapes",
			body: "{\n\t\"name\": \"acme\",\n\t\"labels\": {\"path\": \"a\\/b\", \"n\": \"3\", \"u\": \"\\u00e9\"},\n" +
				"\t\"endpoints\": [{\"name\": \"api\", \"failure_threshold\": 3, \"follow_redirects\": false, " +
				"\"severity\": null, \"x\": 1.5}]\n}",
			want: companyFileHeader + "companies:\n  - name: \"acme\"\n" +
				"    labels:\n      path: \"a/b\"\n      n: \"3\"\n      u: \"é\"\n" +
				"    endpoints:\n      - name: \"api\"\n        failure_threshold: 3\n" +
				"        follow_redirects: false\n        severity: null\n        x: 1.5\n",
		},
		{
			name: "quoted scalar continued at column 0",
			body: "name: acme\nlabels: {note: \"one\ntwo\"}\n",
			want: header + "    name: acme\n    labels: {note: \"one\n    two\"}\n",
		},
		{
			name: "lone CR line breaks re-encoded",
			body: "name: acme\r# a comment\rendpoints: []\r",
			want: companyFileHeader + "companies:\n  - name: acme\n    # a comment\n    endpoints: []\n",
		},
		{
			name: "unicode line separator re-encoded",
			body: "name: acme\u2028endpoints: []\n",
			want: companyFileHeader + "companies:\n  - name: acme\n    endpoints: []\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := companyFileContent("acme", []byte(tt.body))
			if err != nil {
				t.Fatalf("companyFileContent: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("content:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestCompanyFileContentRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty body", "",
			"request body: expected one company as a mapping with name, contacts and endpoints"},
		{"list", "- name: acme\n",
			"request body: expected one company as a mapping with name, contacts and endpoints"},
		{"scalar", "acme\n",
			"request body: expected one company as a mapping with name, contacts and endpoints"},
		{"two documents", "name: acme\n---\nname: acme\n",
			"request body:2: the body contains more than one YAML document: send one company"},
		{"invalid yaml", "name: acme\nendpoints: [\n",
			"request body:2: invalid YAML: did not find expected node content in the block " +
				"that starts on this line: check the indentation of its lines"},
		{"invalid json", "{\"name\": \"acme\",\n \"endpoints\": [}",
			"request body:2: invalid JSON: invalid character '}' looking for beginning of value"},
		{"truncated json", `{"name": "acme"`,
			"request body:1: invalid JSON: unexpected end of JSON input"},
		{"name mismatch", "name: globex\n",
			`request body: name: name "globex" does not match the company "acme" in the URL`},
		{"name missing", "endpoints: []\n",
			`request body: name: name "" does not match the company "acme" in the URL`},
		{"secret placeholder", "name: acme\ncontacts:\n  pagerduty:\n    - routing_key: <secret>\n",
			"request body:4:20: contacts.pagerduty[0].routing_key: the value is a redaction placeholder " +
				"from GET: send the real secret instead"},
		{"url password placeholder", "name: acme\nendpoints:\n  - url: https://u:xxxxx@api.acme.example/\n",
			"request body:3:10: endpoints[0].url: the value is a redaction placeholder " +
				"from GET: send the real secret instead"},
		{"url token placeholder", `{"name": "acme", "endpoints": [{"url": "https://a.example/?page=2&api_key=xxxxx"}]}`,
			"request body: endpoints[0].url: the value is a redaction placeholder " +
				"from GET: send the real secret instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := companyFileContent("acme", []byte(tt.body))
			if err == nil {
				t.Fatalf("companyFileContent succeeded, want an error:\n%s", got)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v is not an Errors value", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestCompanyFileContentKeepsPlainXxxxx(t *testing.T) {
	// Only a placeholder in a password or a sensitive parameter is one.
	body := "name: acme\nendpoints:\n  - url: https://api.acme.example/xxxxx?page=xxxxx\n"
	if _, err := companyFileContent("acme", []byte(body)); err != nil {
		t.Errorf("companyFileContent: %v", err)
	}
}

// adminFixture is a Reloader over a main file and conf.d in a temporary
// directory, whose Apply records every configuration it is given.
type adminFixture struct {
	t        *testing.T
	dir      string
	main     string
	r        *Reloader
	reg      *prometheus.Registry
	mu       sync.Mutex
	applied  []*Config
	applyErr error
}

// mainWithConfD is a main file that includes conf.d and defines one company
// itself.
const mainWithConfD = `config_files: [conf.d/*.yml]
global:
  interval: 1m
companies:
  - name: initech
    endpoints:
      - name: api
        url: https://api.initech.example/
`

func newAdminFixture(t *testing.T, files map[string]string) *adminFixture {
	t.Helper()
	dir := writeFiles(t, files)
	f := &adminFixture{t: t, dir: dir, main: filepath.Join(dir, "apiwatch.yml"), reg: prometheus.NewRegistry()}
	cfg := mustLoad(t, f.main)
	r, err := NewReloader(ReloaderOptions{File: f.main, Apply: f.apply, Registerer: f.reg}, cfg)
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	f.r = r
	return f
}

func (f *adminFixture) apply(cfg *Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return f.applyErr
	}
	f.applied = append(f.applied, cfg)
	return nil
}

func (f *adminFixture) setApplyErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applyErr = err
}

func (f *adminFixture) appliedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

// companyNames returns the names of the running configuration's companies.
func companyNames(cfg *Config) string {
	var names []string
	for _, c := range cfg.Companies {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

func readFileOrMissing(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

const acmeBody = `name: acme
endpoints:
  - name: api
    url: https://api.acme.example/
`

func TestPutCompanyCreatesAndReplaces(t *testing.T) {
	f := newAdminFixture(t, map[string]string{"apiwatch.yml": mainWithConfD})
	file := filepath.Join(f.dir, "conf.d", "acme.yml")

	created, err := f.r.PutCompany("acme", []byte(acmeBody))
	if err != nil || !created {
		t.Fatalf("first PutCompany = %v, %v; want true, nil", created, err)
	}
	if got, want := readFileOrMissing(t, file), header+
		"    name: acme\n    endpoints:\n      - name: api\n        url: https://api.acme.example/\n"; got != want {
		t.Errorf("file:\n got: %q\nwant: %q", got, want)
	}
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("new file mode = %v, want 0600", info.Mode().Perm())
	}
	dirInfo, err := os.Stat(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	if dirInfo.Mode().Perm() != 0o750 {
		t.Errorf("new conf.d mode = %v, want 0750", dirInfo.Mode().Perm())
	}
	if got := companyNames(f.r.Current()); got != "initech,acme" {
		t.Errorf("running companies = %s, want initech,acme", got)
	}

	// An operator opened the file to a group; a replacement keeps that.
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	created, err = f.r.PutCompany("acme", []byte(strings.Replace(acmeBody, "api.acme", "api2.acme", 1)))
	if err != nil || created {
		t.Fatalf("second PutCompany = %v, %v; want false, nil", created, err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("replaced file mode = %v (%v), want 0640", info.Mode().Perm(), err)
	}
	e := f.r.Current().Companies[1].Endpoints[0]
	if got := e.URL.String(); got != "https://api2.acme.example/" {
		t.Errorf("running URL = %s, want https://api2.acme.example/", got)
	}
	if n := f.appliedCount(); n != 2 {
		t.Errorf("Apply called %d times, want 2", n)
	}
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("conf.d holds %d entries, want only acme.yml: %v", len(entries), entries)
	}
}

func TestPutCompanyProblemPositions(t *testing.T) {
	f := newAdminFixture(t, map[string]string{"apiwatch.yml": mainWithConfD})
	// Line 5, column 15 of the body.
	body := "name: acme\nendpoints:\n  - name: api\n    url: https://api.acme.example/\n    interval: fast\n"
	_, err := f.r.PutCompany("acme", []byte(body))
	file := filepath.Join(f.dir, "conf.d", "acme.yml")
	want := file + `:9:19: company "acme": endpoint "api": interval: invalid duration "fast": ` +
		"use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m"
	if err == nil || err.Error() != want {
		t.Errorf("PutCompany error:\n got: %v\nwant: %s", err, want)
	}
	if 5+CompanyBodyLineOffset != 9 || 15+CompanyBodyIndent != 19 {
		t.Errorf("the documented offsets %d and %d do not map line 5, column 15 to 9:19",
			CompanyBodyLineOffset, CompanyBodyIndent)
	}
	if got := readFileOrMissing(t, file); got != "<missing>" {
		t.Errorf("file written despite the problem:\n%s", got)
	}
	if n := f.appliedCount(); n != 0 {
		t.Errorf("Apply called %d times, want 0", n)
	}
}

func TestPutCompanyRestoresOnApplyFailure(t *testing.T) {
	tests := []struct {
		name     string
		existing string // content of conf.d/acme.yml before, "" for none
	}{
		{"new file removed", ""},
		{"old file put back", header + "    " + strings.ReplaceAll(strings.TrimSpace(acmeBody), "\n", "\n    ") + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"apiwatch.yml": mainWithConfD}
			if tt.existing != "" {
				files["conf.d/acme.yml"] = tt.existing
			}
			f := newAdminFixture(t, files)
			before := f.r.Current()
			f.setApplyErr(errors.New("alertmanager TLS files unreadable"))
			_, err := f.r.PutCompany("acme", []byte(strings.Replace(acmeBody, "api.acme", "new.acme", 1)))
			if err == nil || err.Error() != "alertmanager TLS files unreadable" {
				t.Errorf("PutCompany error = %v, want the Apply error", err)
			}
			want := tt.existing
			if want == "" {
				want = "<missing>"
			}
			if got := readFileOrMissing(t, filepath.Join(f.dir, "conf.d", "acme.yml")); got != want {
				t.Errorf("file after the failed reload:\n got: %q\nwant: %q", got, want)
			}
			if f.r.Current() != before {
				t.Errorf("running configuration replaced despite the failed Apply")
			}
			if v := testutil.ToFloat64(f.r.success); v != 0 {
				t.Errorf("apiwatch_config_last_reload_successful = %v, want 0", v)
			}
		})
	}
}

func TestDeleteCompany(t *testing.T) {
	f := newAdminFixture(t, map[string]string{
		"apiwatch.yml":    mainWithConfD,
		"conf.d/acme.yml": "companies:\n" + "  - " + strings.ReplaceAll(strings.TrimSpace(acmeBody), "\n", "\n    ") + "\n",
	})
	file := filepath.Join(f.dir, "conf.d", "acme.yml")
	old := readFileOrMissing(t, file)

	f.setApplyErr(errors.New("apply failed"))
	if err := f.r.DeleteCompany("acme"); err == nil || err.Error() != "apply failed" {
		t.Errorf("DeleteCompany with a failing Apply = %v, want the Apply error", err)
	}
	if got := readFileOrMissing(t, file); got != old {
		t.Errorf("file after the failed delete = %q, want it restored", got)
	}

	f.setApplyErr(nil)
	if err := f.r.DeleteCompany("acme"); err != nil {
		t.Fatalf("DeleteCompany: %v", err)
	}
	if got := readFileOrMissing(t, file); got != "<missing>" {
		t.Errorf("file after delete = %q, want it gone", got)
	}
	if got := companyNames(f.r.Current()); got != "initech" {
		t.Errorf("running companies = %s, want initech", got)
	}
	if err := f.r.DeleteCompany("acme"); !errors.Is(err, ErrCompanyNotFound) {
		t.Errorf("second DeleteCompany = %v, want ErrCompanyNotFound", err)
	}
	if err := f.r.DeleteCompany("initech"); !errors.Is(err, ErrCompanyNotManaged) {
		t.Errorf("DeleteCompany of the main file's company = %v, want ErrCompanyNotManaged", err)
	}
}

func TestGetCompanyRoundTrip(t *testing.T) {
	f := newAdminFixture(t, map[string]string{
		"apiwatch.yml": mainWithConfD,
		"pd.key":       "tok-ABC123\n",
		"conf.d/acme.yml": `companies:
  - name: acme
    contacts:
      email: [ops@acme.example]
      pagerduty:
        - routing_key_file: ../pd.key
        - routing_key: tok-ABC123
    endpoints:
      - name: api
        url: https://user:pw-in-url@api.acme.example/x?token=q-456
        schedule: "*/5 * * * *"
`,
	})
	doc, file, err := f.r.GetCompany("acme")
	if err != nil {
		t.Fatalf("GetCompany: %v", err)
	}
	if want := filepath.Join(f.dir, "conf.d", "acme.yml"); file != want {
		t.Errorf("file = %s, want %s", file, want)
	}
	// The effective configuration: defaults filled in, secrets redacted,
	// and a secret read from a file left out.
	want := `name: acme
contacts:
  email:
    - ops@acme.example
  pagerduty:
    - routing_key_file: ../pd.key
    - routing_key: <secret>
severity: critical
endpoints:
  - name: api
    url: https://user:xxxxx@api.acme.example/x?token=xxxxx
    schedule: '*/5 * * * *'
    timeout: 10s
    failure_threshold: 1
    success_threshold: 1
    follow_redirects: true
    max_redirects: 10
    body_size_limit: 1MiB
    expect:
      status:
        - 2xx
    severity: critical
    method: GET
    proxy_from_environment: false
    ip_protocol: any
    preferred_ip_protocol: ip6
    enable_http2: false
    retries: 0
    retry_delay: 1s
`
	checkLines(t, "GET document", strings.Split(string(doc), "\n"), strings.Split(want, "\n"))

	// Sent back as it is, the placeholders are rejected, and so is the
	// routing_key_file, which the admin API does not accept.
	_, err = f.r.PutCompany("acme", doc)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("PutCompany of the GET document = %v, want 2 placeholder problems and 1 file setting", err)
	}
	// With the secrets filled in, it is accepted and runs the same.
	filled := strings.NewReplacer("<secret>", "tok-ABC123", "user:xxxxx", "user:pw-in-url",
		"token=xxxxx", "token=q-456", "routing_key_file: ../pd.key", "routing_key: pd-inline").Replace(string(doc))
	want = strings.Replace(want, "- routing_key_file: ../pd.key", "- routing_key: <secret>", 1)
	if _, err := f.r.PutCompany("acme", []byte(filled)); err != nil {
		t.Fatalf("PutCompany of the filled-in GET document: %v", err)
	}
	again, _, err := f.r.GetCompany("acme")
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, "GET document after the round trip", strings.Split(string(again), "\n"), strings.Split(want, "\n"))
	e := f.r.Current().Companies[1].Endpoints[0]
	if got := e.URL.URL.String(); got != "https://user:pw-in-url@api.acme.example/x?token=q-456" {
		t.Errorf("URL after the round trip = %s", got)
	}
}

func TestManagedFile(t *testing.T) {
	tests := []struct {
		name    string
		main    string
		company string
		want    error
	}{
		{"conf.d company", mainWithConfD, "acme", nil},
		{"main file company", mainWithConfD, "initech", ErrCompanyNotManaged},
		{"conf.d not included", "companies: []\n", "acme", ErrCompanyNotManaged},
		{"other pattern", "config_files: [conf.d/*.yaml]\n", "acme", ErrCompanyNotManaged},
		{"parent traversal", mainWithConfD, "../x", ErrInvalidName},
		{"slash", mainWithConfD, "a/b", ErrInvalidName},
		{"empty", mainWithConfD, "", ErrInvalidName},
		{"leading dot", mainWithConfD, ".hidden", ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAdminFixture(t, map[string]string{"apiwatch.yml": tt.main})
			_, err := f.r.managedFile(tt.company)
			if !errors.Is(err, tt.want) {
				t.Errorf("managedFile(%q) = %v, want %v", tt.company, err, tt.want)
			}
		})
	}
}

func TestNewReloaderRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	confd := filepath.Join(dir, CompanyDir)
	if err := os.MkdirAll(confd, 0o750); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(confd, ".acme.yml.tmp123")
	fresh := filepath.Join(confd, ".globex.yml.tmp456")
	other := filepath.Join(confd, ".notes.txt")
	for _, f := range []string{old, fresh, other} {
		if err := os.WriteFile(f, []byte("companies: ["), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * staleTempAge)
	for _, f := range []string{old, other} {
		if err := os.Chtimes(f, past, past); err != nil {
			t.Fatal(err)
		}
	}
	main := filepath.Join(dir, "apiwatch.yml")
	if _, err := NewReloader(ReloaderOptions{File: main, Apply: func(*Config) error { return nil }}, &Config{File: main}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	for _, f := range []string{fresh, other} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s removed: %v", f, err)
		}
	}
}

// TestGetCompanyWithMaintenance checks that GetCompany renders maintenance
// windows, fixed and recurring, at company and endpoint level.
func TestGetCompanyWithMaintenance(t *testing.T) {
	f := newAdminFixture(t, map[string]string{
		"apiwatch.yml": mainWithConfD,
		"conf.d/acme.yml": `companies:
  - name: acme
    maintenance:
      - schedule: "0 2 * * SUN"
        duration: 2h
        time_zone: Europe/Berlin
    endpoints:
      - name: api
        url: https://api.acme.example/health
        maintenance:
          - start: 2026-01-01T00:00:00Z
            end: 2026-01-01T04:00:00Z
            comment: database upgrade
`,
	})
	doc, _, err := f.r.GetCompany("acme")
	if err != nil {
		t.Fatalf("GetCompany: %v", err)
	}
	for _, want := range []string{
		"maintenance:\n  - schedule: 0 2 * * SUN\n    duration: 2h\n    time_zone: Europe/Berlin\n",
		"    maintenance:\n      - start: \"2026-01-01T00:00:00Z\"\n        end: \"2026-01-01T04:00:00Z\"\n        comment: database upgrade\n",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("GET document lacks %q:\n%s", want, doc)
		}
	}
}

// TestGetCompanyRoundTripOtherKinds checks that the GET document of tcp://
// and grpc:// endpoints leaves out the HTTP settings, so that PUT takes it
// back as it is.
func TestGetCompanyRoundTripOtherKinds(t *testing.T) {
	f := newAdminFixture(t, map[string]string{
		"apiwatch.yml": mainWithConfD,
		"conf.d/acme.yml": `companies:
  - name: acme
    endpoints:
      - name: db
        url: tcp://db.acme.example:5432
      - name: rpc
        url: grpc://rpc.acme.example:9000
        expect:
          max_duration: 2s
`,
	})
	doc, _, err := f.r.GetCompany("acme")
	if err != nil {
		t.Fatalf("GetCompany: %v", err)
	}
	for _, key := range []string{"follow_redirects", "max_redirects", "status", "proxy_from_environment", "enable_http2", "method"} {
		if strings.Contains(string(doc), key+":") {
			t.Errorf("GET document has %s:\n%s", key, doc)
		}
	}
	if !strings.Contains(string(doc), "expect:\n      max_duration: 2s\n") {
		t.Errorf("GET document lost max_duration:\n%s", doc)
	}
	if _, err := f.r.PutCompany("acme", doc); err != nil {
		t.Fatalf("PutCompany of the GET document: %v\n%s", err, doc)
	}
}
