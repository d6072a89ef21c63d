package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/web"
)

// adminServer serves the web handler over HTTP with a real config.Reloader
// on files in a temporary directory, which applies configurations to a real
// collector.Manager that never probes.
type adminServer struct {
	t        *testing.T
	dir      string
	main     string
	reloader *config.Reloader
	manager  *collector.Manager
	srv      *httptest.Server
	client   *http.Client
}

// adminMain includes conf.d and defines one company itself.
const adminMain = `config_files: [conf.d/*.yml]
companies:
  - name: initech
    endpoints:
      - name: api
        url: https://api.initech.example/
`

type flags struct{ lifecycle, admin bool }

func newAdminServer(t *testing.T, files map[string]string, f flags) *adminServer {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &adminServer{t: t, dir: dir, main: filepath.Join(dir, "apiwatch.yml")}
	cfg, err := config.LoadFile(s.main)
	if err != nil {
		t.Fatalf("loading %s: %v", s.main, err)
	}
	reg := prometheus.NewRegistry()
	s.manager, err = collector.New(collector.Options{Registerer: reg, Prober: fakeProber{}})
	if err != nil {
		t.Fatalf("collector.New: %v", err)
	}
	s.manager.ApplyConfig(cfg)
	s.reloader, err = config.NewReloader(config.ReloaderOptions{
		File: s.main,
		Apply: func(cfg *config.Config) error {
			s.manager.ApplyConfig(cfg)
			return nil
		},
		Registerer: reg,
	}, cfg)
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	s.srv = httptest.NewServer(web.New(web.Options{
		Manager:         s.manager,
		Gatherer:        reg,
		Reloader:        s.reloader,
		EnableLifecycle: f.lifecycle,
		EnableAdminAPI:  f.admin,
	}))
	t.Cleanup(s.srv.Close)
	s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return s
}

// do sends a request and returns the status code, the headers and the body.
func (s *adminServer) do(method, path, body string) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("building %s %s: %v", method, path, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// endpoints returns the company/endpoint keys the manager serves.
func (s *adminServer) endpoints() string {
	var keys []string
	for _, st := range s.manager.Statuses("") {
		keys = append(keys, st.Company+"/"+st.Endpoint)
	}
	return strings.Join(keys, ",")
}

func (s *adminServer) companyFile(name string) string {
	return filepath.Join(s.dir, "conf.d", name+".yml")
}

// files lists every file under the directory, relative to it.
func (s *adminServer) files() []string {
	s.t.Helper()
	var out []string
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.dir, path)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// errorBody is the JSON body of an API error.
type errorBody struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems"`
}

func decodeError(t *testing.T, body string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, body)
	}
	return e
}

const acmeYAML = `name: acme
contacts:
  pagerduty:
    - routing_key: tok-ABC123
endpoints:
  - name: api
    url: https://user:pw-in-url@api.acme.example/health?token=q-456
`

func TestAdminAPIDisabled(t *testing.T) {
	requests := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/companies/acme"},
		{http.MethodPut, "/api/v1/companies/acme"},
		{http.MethodDelete, "/api/v1/companies/acme"},
	}
	for _, f := range []flags{{}, {lifecycle: true}} {
		s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, f)
		for _, r := range requests {
			t.Run(fmt.Sprintf("%s lifecycle=%v", r.method, f.lifecycle), func(t *testing.T) {
				code, _, body := s.do(r.method, r.path, acmeYAML)
				if code != http.StatusForbidden {
					t.Errorf("status %d, want 403: %s", code, body)
				}
				want := "admin API is not enabled: start apiwatch with --web.enable-admin-api"
				if e := decodeError(t, body); e.Error != want {
					t.Errorf("error = %q, want %q", e.Error, want)
				}
			})
		}
		if got := s.files(); !slices.Equal(got, []string{"apiwatch.yml"}) {
			t.Errorf("files = %v, want only apiwatch.yml", got)
		}
	}
}

func TestReloadEndpoint(t *testing.T) {
	const disabled = "Lifecycle API is not enabled: start apiwatch with --web.enable-lifecycle.\n"
	for _, f := range []flags{{}, {admin: true}} {
		s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, f)
		if code, _, body := s.do(http.MethodPost, "/-/reload", ""); code != http.StatusForbidden || body != disabled {
			t.Errorf("POST /-/reload with admin=%v: %d %q, want 403 %q", f.admin, code, body, disabled)
		}
	}

	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{lifecycle: true})
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		code, _, body := s.do(method, "/-/reload", "")
		if code != http.StatusOK || body != "Configuration reloaded.\n" {
			t.Errorf("%s /-/reload: %d %q, want 200", method, code, body)
		}
	}
	if code, _, _ := s.do(http.MethodGet, "/-/reload", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}

	broken := strings.Replace(adminMain, "url:", "ulr:", 1)
	if err := os.WriteFile(s.main, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, body := s.do(http.MethodPost, "/-/reload", "")
	want := "failed to reload the configuration, the previous one keeps running:\n" +
		s.main + `:6:9: company "initech": endpoint "api": unknown field "ulr", did you mean "url"?` + "\n"
	if code != http.StatusInternalServerError || body != want {
		t.Errorf("POST /-/reload with a broken file: %d\n got: %q\nwant: %q", code, body, want)
	}
	if got := s.endpoints(); got != "initech/api" {
		t.Errorf("endpoints after the failed reload = %s, want initech/api", got)
	}

	if err := os.WriteFile(s.main, []byte(adminMain+"  - name: hooli\n    endpoints:\n"+
		"      - name: web\n        url: https://hooli.example/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, body := s.do(http.MethodPost, "/-/reload", ""); code != http.StatusOK {
		t.Errorf("POST /-/reload after the fix: %d %q", code, body)
	}
	if got := s.endpoints(); got != "hooli/web,initech/api" {
		t.Errorf("endpoints after the fix = %s, want hooli/web,initech/api", got)
	}
}

func TestAdminPutCompany(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
	file := s.companyFile("acme")

	code, header, body := s.do(http.MethodPut, "/api/v1/companies/acme", acmeYAML)
	if code != http.StatusCreated {
		t.Fatalf("first PUT: status %d, want 201: %s", code, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	fileJSON, _ := json.Marshal(file)
	checkJSON(t, body, `{"company": "acme", "file": `+string(fileJSON)+`, "created": true}`)
	if got := s.endpoints(); got != "acme/api,initech/api" {
		t.Errorf("endpoints = %s, want acme/api,initech/api", got)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the company file: %v", err)
	}
	wantFile := "# Written by the apiwatch admin API. Edits here are kept until the next\n" +
		"# PUT or DELETE /api/v1/companies/<name> replaces or removes the file.\n" +
		"companies:\n  -\n" +
		"    name: acme\n    contacts:\n      pagerduty:\n        - routing_key: tok-ABC123\n" +
		"    endpoints:\n      - name: api\n" +
		"        url: https://user:pw-in-url@api.acme.example/health?token=q-456\n"
	if string(data) != wantFile {
		t.Errorf("company file:\n got: %q\nwant: %q", data, wantFile)
	}

	// The same company again, as JSON, with a second endpoint.
	jsonBody := `{"name": "acme", "endpoints": [
		{"name": "api", "url": "https:\/\/api.acme.example\/health"},
		{"name": "web", "url": "https://www.acme.example/", "failure_threshold": 3}]}`
	code, _, body = s.do(http.MethodPut, "/api/v1/companies/acme", jsonBody)
	if code != http.StatusOK {
		t.Fatalf("second PUT: status %d, want 200: %s", code, body)
	}
	checkJSON(t, body, `{"company": "acme", "file": `+string(fileJSON)+`, "created": false}`)
	if got := s.endpoints(); got != "acme/api,acme/web,initech/api" {
		t.Errorf("endpoints = %s, want acme/api,acme/web,initech/api", got)
	}
	for _, e := range s.reloader.Current().Companies[1].Endpoints {
		if e.Name == "web" && e.FailureThreshold != 3 {
			t.Errorf("acme/web failure_threshold = %d, want 3", e.FailureThreshold)
		}
	}
	if got := s.files(); !slices.Equal(got, []string{"apiwatch.yml", "conf.d/acme.yml"}) {
		t.Errorf("files = %v", got)
	}
}

func TestAdminPutRejects(t *testing.T) {
	invalid := "invalid configuration; nothing was changed"
	tests := []struct {
		name     string
		later    map[string]string // written after the server started
		company  string
		body     string
		code     int
		error    string
		problems func(dir string) []string
	}{
		{
			name: "name mismatch", company: "acme", body: "name: globex\nendpoints: []\n",
			code: http.StatusBadRequest, error: invalid,
			problems: func(string) []string {
				return []string{`request body: name: name "globex" does not match the company "acme" in the URL`}
			},
		},
		{
			name: "invalid document", company: "acme",
			body: "name: acme\nendpoints:\n  - name: api\n    url: https://acme.example/\n    interval: fast\n" +
				"    timeout: 0s\n",
			code: http.StatusBadRequest, error: invalid,
			problems: func(dir string) []string {
				f := filepath.Join(dir, "conf.d/acme.yml")
				return []string{
					f + `:9:19: company "acme": endpoint "api": interval: invalid duration "fast": ` +
						"use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
					f + `:10:18: company "acme": endpoint "api": timeout: must be longer than 0s`,
				}
			},
		},
		{
			name: "invalid yaml", company: "acme", body: "name: acme\nendpoints: [\n",
			code: http.StatusBadRequest, error: invalid,
			problems: func(string) []string {
				return []string{"request body:2: invalid YAML: did not find expected node content in the block " +
					"that starts on this line: check the indentation of its lines"}
			},
		},
		{
			// Valid alone, but a file on disk that the running
			// configuration does not include yet defines acme too.
			name: "clash with another file",
			later: map[string]string{"conf.d/zz-import.yml": "companies:\n  - name: acme\n    endpoints:\n" +
				"      - name: web\n        url: https://www.acme.example/\n"},
			company: "acme", body: "name: acme\nendpoints:\n  - name: api\n    url: https://acme.example/\n",
			code: http.StatusBadRequest, error: invalid,
			problems: func(dir string) []string {
				return []string{
					filepath.Join(dir, "conf.d/zz-import.yml") + `:2:11: company "acme": name: duplicate company ` +
						"name, first defined at " + filepath.Join(dir, "conf.d/acme.yml") + ":5:11",
				}
			},
		},
		{
			name: "secret placeholder", company: "acme",
			body: "name: acme\ncontacts:\n  pagerduty:\n    - routing_key: <secret>\nendpoints: []\n",
			code: http.StatusBadRequest, error: invalid,
			problems: func(string) []string {
				return []string{"request body:4:20: contacts.pagerduty[0].routing_key: the value is a redaction " +
					"placeholder from GET: send the real secret instead"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
			for name, content := range tt.later {
				path := filepath.Join(s.dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := s.files()
			code, _, body := s.do(http.MethodPut, "/api/v1/companies/"+tt.company, tt.body)
			if code != tt.code {
				t.Errorf("status %d, want %d: %s", code, tt.code, body)
			}
			e := decodeError(t, body)
			if e.Error != tt.error {
				t.Errorf("error = %q, want %q", e.Error, tt.error)
			}
			checkLinesEqual(t, "problems", e.Problems, tt.problems(s.dir))
			if got := s.files(); !slices.Equal(got, before) {
				t.Errorf("files changed from %v to %v", before, got)
			}
			if got := s.endpoints(); got != "initech/api" {
				t.Errorf("endpoints = %s, want initech/api", got)
			}
		})
	}
}

func checkLinesEqual(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s[%d]:\n got: %q\nwant: %q", what, i, g, w)
		}
	}
}

func TestAdminConflicts(t *testing.T) {
	t.Run("company of the main file", func(t *testing.T) {
		s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
		want := fmt.Sprintf("company is not managed through the API: company %q is defined in %s; "+
			"edit that file instead", "initech", s.main)
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			code, _, body := s.do(method, "/api/v1/companies/initech", "name: initech\nendpoints: []\n")
			if code != http.StatusConflict {
				t.Errorf("%s: status %d, want 409: %s", method, code, body)
			}
			if e := decodeError(t, body); e.Error != want {
				t.Errorf("%s: error\n got: %q\nwant: %q", method, e.Error, want)
			}
		}
		// GET works for every company, wherever it is defined.
		code, header, _ := s.do(http.MethodGet, "/api/v1/companies/initech", "")
		if code != http.StatusOK || header.Get("X-Apiwatch-Config-File") != s.main {
			t.Errorf("GET initech: %d, file %q", code, header.Get("X-Apiwatch-Config-File"))
		}
	})
	t.Run("conf.d not included", func(t *testing.T) {
		s := newAdminServer(t, map[string]string{"apiwatch.yml": "companies: []\n"}, flags{admin: true})
		code, _, body := s.do(http.MethodPut, "/api/v1/companies/acme", acmeYAML)
		want := fmt.Sprintf("company is not managed through the API: config_files in %s does not include %s; "+
			"add %q to it", s.main, s.companyFile("acme"), "conf.d/*.yml")
		if code != http.StatusConflict {
			t.Errorf("status %d, want 409: %s", code, body)
		}
		if e := decodeError(t, body); e.Error != want {
			t.Errorf("error\n got: %q\nwant: %q", e.Error, want)
		}
		if got := s.files(); !slices.Equal(got, []string{"apiwatch.yml"}) {
			t.Errorf("files = %v, want only apiwatch.yml", got)
		}
	})
}

func TestAdminInvalidNames(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
	rule := "use 1 to 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"
	tests := []struct {
		path string
		name string // as the handler receives it
	}{
		{"/api/v1/companies/%2e%2e%2fx", "../x"},
		{"/api/v1/companies/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"},
		{"/api/v1/companies/a/b", "a/b"},
		{"/api/v1/companies/a%2Fb", "a/b"},
		{"/api/v1/companies/", ""},
		{"/api/v1/companies/.hidden", ".hidden"},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			t.Run(method+" "+tt.path, func(t *testing.T) {
				code, _, body := s.do(method, tt.path, "name: "+tt.name+"\nendpoints: []\n")
				if code != http.StatusBadRequest {
					t.Errorf("status %d, want 400: %s", code, body)
				}
				want := fmt.Sprintf("invalid company name %q: %s", tt.name, rule)
				if e := decodeError(t, body); e.Error != want {
					t.Errorf("error\n got: %q\nwant: %q", e.Error, want)
				}
			})
		}
	}
	// A literal .. segment is cleaned by the router, which redirects
	// before any handler runs.
	code, header, _ := s.do(http.MethodPut, "/api/v1/companies/../x", "name: x\nendpoints: []\n")
	if code != http.StatusTemporaryRedirect || header.Get("Location") != "/api/v1/x" {
		t.Errorf("PUT with a literal ..: %d to %q, want 307 to /api/v1/x", code, header.Get("Location"))
	}
	if got := s.files(); !slices.Equal(got, []string{"apiwatch.yml"}) {
		t.Errorf("files = %v, want only apiwatch.yml", got)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "x.yml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("x.yml exists outside conf.d")
	}
}

func TestAdminGetRedacts(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
	if code, _, body := s.do(http.MethodPut, "/api/v1/companies/acme", acmeYAML); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, header, body := s.do(http.MethodGet, "/api/v1/companies/acme", "")
	if code != http.StatusOK {
		t.Fatalf("GET: status %d: %s", code, body)
	}
	if ct := header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if f := header.Get("X-Apiwatch-Config-File"); f != s.companyFile("acme") {
		t.Errorf("X-Apiwatch-Config-File = %q, want %q", f, s.companyFile("acme"))
	}
	for _, marker := range []string{"tok-ABC123", "pw-in-url", "q-456"} {
		if strings.Contains(body, marker) {
			t.Errorf("GET shows the secret %q:\n%s", marker, body)
		}
	}
	for _, want := range []string{
		"    - routing_key: <secret>\n",
		"    url: https://user:xxxxx@api.acme.example/health?token=xxxxx\n",
		"    interval: 1m\n", // a default filled in
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET body lacks %q:\n%s", want, body)
		}
	}
	if code, _, body := s.do(http.MethodGet, "/api/v1/companies/globex", ""); code != http.StatusNotFound ||
		decodeError(t, body).Error != "company not found" {
		t.Errorf("GET of an unknown company: %d %s, want 404 company not found", code, body)
	}
}

func TestAdminDelete(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
	if code, _, body := s.do(http.MethodPut, "/api/v1/companies/acme", acmeYAML); code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, _, body := s.do(http.MethodDelete, "/api/v1/companies/acme", "")
	if code != http.StatusNoContent || body != "" {
		t.Errorf("DELETE: %d %q, want 204 and no body", code, body)
	}
	if got := s.endpoints(); got != "initech/api" {
		t.Errorf("endpoints = %s, want initech/api", got)
	}
	if got := s.files(); !slices.Equal(got, []string{"apiwatch.yml"}) {
		t.Errorf("files = %v, want only apiwatch.yml", got)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		code, _, body := s.do(method, "/api/v1/companies/acme", "")
		if code != http.StatusNotFound || decodeError(t, body).Error != "company not found" {
			t.Errorf("%s after DELETE: %d %s, want 404 company not found", method, code, body)
		}
	}
}

func TestAdminBodyTooLarge(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain}, flags{admin: true})
	body := "name: acme\n# " + strings.Repeat("x", 4<<20) + "\n"
	code, _, resp := s.do(http.MethodPut, "/api/v1/companies/acme", body)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413: %.200s", code, resp)
	}
	if e := decodeError(t, resp); e.Error != "request body larger than 4194304 bytes" {
		t.Errorf("error = %q", e.Error)
	}
}

func TestAdminConcurrentPuts(t *testing.T) {
	s := newAdminServer(t, map[string]string{"apiwatch.yml": adminMain, "conf.d/.keep": ""}, flags{admin: true})
	const n = 12
	bodies := map[string]string{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("tenant-%02d", i)
		names = append(names, name)
		// Large enough that a torn write would be likely to show.
		var b strings.Builder
		fmt.Fprintf(&b, "name: %s\nendpoints:\n", name)
		for j := range 200 {
			fmt.Fprintf(&b, "  - name: ep-%03d\n    url: https://%s.example/%d\n", j, name, j)
		}
		bodies[name] = b.String()
	}

	// A reader checks that every company file it reads is either absent or
	// complete, while the writes go on.
	stop := make(chan struct{})
	readerDone := make(chan []string)
	go func() {
		var torn []string
		for {
			select {
			case <-stop:
				readerDone <- torn
				return
			default:
			}
			for _, name := range names {
				data, err := os.ReadFile(s.companyFile(name))
				if err != nil {
					continue
				}
				if !strings.HasSuffix(string(data), "url: https://"+name+".example/199\n") {
					torn = append(torn, fmt.Sprintf("%s: %d bytes", name, len(data)))
				}
			}
		}
	}()

	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, name := range names {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPut, s.srv.URL+"/api/v1/companies/"+name, strings.NewReader(bodies[name]))
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	close(stop)
	if torn := <-readerDone; len(torn) > 0 {
		t.Errorf("reader saw incomplete company files: %v", torn)
	}
	for i, code := range codes {
		if code != http.StatusCreated {
			t.Errorf("PUT %s: status %d, want 201", names[i], code)
		}
	}
	cfg := s.reloader.Current()
	if len(cfg.Companies) != n+1 {
		t.Errorf("running configuration has %d companies, want %d", len(cfg.Companies), n+1)
	}
	if got := len(s.manager.Statuses("")); got != n*200+1 {
		t.Errorf("manager has %d endpoints, want %d", got, n*200+1)
	}
	// Only the company files, no temporary file left behind.
	want := []string{"apiwatch.yml", "conf.d/.keep"}
	for _, name := range names {
		want = append(want, "conf.d/"+name+".yml")
	}
	slices.Sort(want)
	if got := s.files(); !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
}
