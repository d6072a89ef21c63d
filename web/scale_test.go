package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/html"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/web"
)

// manyEndpoints returns a configuration of companies c0000, c0001, ... with
// perCompany endpoints each, named e0000, e0001, ... or, where down returns
// true for the company and endpoint index, down0000, down0001, ...
func manyEndpoints(companies, perCompany int, interval string, down func(c, e int) bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  interval: %s\n  timeout: 1s\ncompanies:\n", interval)
	for c := range companies {
		fmt.Fprintf(&b, "  - name: c%04d\n    endpoints:\n", c)
		for e := range perCompany {
			name := "e"
			if down(c, e) {
				name = "down"
			}
			fmt.Fprintf(&b, "      - {name: %s%04d, url: 'https://api%d.c%d.example/health'}\n", name, e, e, c)
		}
	}
	return b.String()
}

// namedProber fails the probes of endpoints whose name starts with "down"
// and lets every other probe succeed.
type namedProber struct{}

func (namedProber) Probe(_ context.Context, t *collector.Target) collector.Result {
	if strings.HasPrefix(t.Endpoint.Name, "down") {
		return collector.Result{Start: time.Now(), Duration: 2 * time.Second, Reason: collector.ReasonTimeout,
			Message: "timed out after 1s while waiting for the response headers"}
	}
	return collector.Result{Start: time.Now(), Duration: 40 * time.Millisecond, Success: true, StatusCode: 200}
}

func TestStatusPageBoundsRows(t *testing.T) {
	downIn := func(companies ...int) func(c, e int) bool {
		return func(c, e int) bool { return e == 7 && containsInt(companies, c) }
	}
	upTo := func(n int) []int {
		var out []int
		for i := range n {
			out = append(out, i)
		}
		return out
	}
	tests := []struct {
		name       string
		companies  int
		down       func(c, e int) bool
		target     string
		wantTables []string
		wantNote   bool
	}{
		{
			name:       "all-up companies collapse",
			companies:  30,
			down:       downIn(3, 10),
			target:     "/",
			wantTables: []string{"c0003", "c0010"},
			wantNote:   true,
		},
		{
			name:       "problems past the bound collapse",
			companies:  30,
			down:       downIn(upTo(27)...),
			target:     "/",
			wantTables: names(upTo(25)),
			wantNote:   true,
		},
		{
			name:       "filter lists every endpoint",
			companies:  30,
			down:       downIn(),
			target:     "/?company=c0004",
			wantTables: []string{"c0004"},
		},
		{
			name:       "up to the bound everything is listed",
			companies:  25,
			down:       downIn(),
			target:     "/",
			wantTables: names(upTo(25)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reg := prometheus.NewRegistry()
				m, err := collector.New(collector.Options{Registerer: reg, Prober: namedProber{}})
				if err != nil {
					t.Fatalf("collector.New: %v", err)
				}
				m.ApplyConfig(loadConfig(t, manyEndpoints(tt.companies, 40, "1m", tt.down)))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- m.Run(ctx) }()
				defer func() {
					cancel()
					<-done
				}()
				time.Sleep(61 * time.Second)
				synctest.Wait()

				rec := httptest.NewRecorder()
				web.New(web.Options{Manager: m, Gatherer: reg}).
					ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
				doc := parseHTML(t, rec.Body.String())
				var tables []string
				for _, section := range findAll(doc, tag("section")) {
					if len(findAll(section, tag("table"))) > 0 {
						tables = append(tables, text(findAll(section, tag("h2"))[0]))
					}
				}
				if diff := cmp.Diff(tt.wantTables, tables); diff != "" {
					t.Errorf("companies with their endpoints listed (-want +got):\n%s", diff)
				}
				rows := 0
				for _, row := range findAll(doc, tag("tr")) {
					if _, ok := attr(row, "id"); ok {
						rows++
					}
				}
				if rows != 40*len(tt.wantTables) {
					t.Errorf("page has %d endpoint rows, want %d", rows, 40*len(tt.wantTables))
				}
				wantSections := tt.companies
				if tt.target != "/" {
					wantSections = 1
				}
				if n := len(findAll(doc, tag("h2"))); n != wantSections {
					t.Errorf("page has %d company headings, want %d", n, wantSections)
				}
				collapsed := wantSections - len(tt.wantTables)
				note := fmt.Sprintf("More than 1000 endpoints are configured, so %d companies show only a summary: "+
					"those with every endpoint up, and those whose endpoints would pass that number. "+
					"Open a company to see all of its endpoints.", collapsed)
				if got := containsString(texts(findAll(doc, tag("p"))), note); got != tt.wantNote {
					t.Errorf("page has the note %q: %v, want %v", note, got, tt.wantNote)
				}
				if tt.wantNote {
					// The first collapsed company still shows its counts
					// and links to its own page.
					first := firstCollapsed(doc)
					if first == "" {
						t.Fatalf("no collapsed company found")
					}
					want := "40 endpoints: 40 up, 0 degraded, 0 down, 0 unknown. Show the endpoints of " + first
					if tt.name == "problems past the bound collapse" {
						want = "40 endpoints: 39 up, 0 degraded, 1 down, 0 unknown. Show the endpoints of " + first
					}
					if !containsString(texts(findAll(doc, tag("p"))), want) {
						t.Errorf("page lacks the summary %q", want)
					}
					if links := findAll(doc, withAttr("href", "?company="+first)); len(links) != 1 {
						t.Errorf("page has %d links to ?company=%s, want 1", len(links), first)
					}
				}
			})
		})
	}
}

// firstCollapsed returns the name of the first company section without a
// table.
func firstCollapsed(doc *html.Node) string {
	for _, section := range findAll(doc, tag("section")) {
		if len(findAll(section, tag("table"))) == 0 {
			return text(findAll(section, tag("h2"))[0])
		}
	}
	return ""
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func names(companies []int) []string {
	var out []string
	for _, c := range companies {
		out = append(out, fmt.Sprintf("c%04d", c))
	}
	return out
}

// countingWriter is a ResponseWriter that counts and discards the body.
type countingWriter struct {
	header http.Header
	bytes  int64
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.bytes += int64(len(p)); return len(p), nil }

// BenchmarkStatusPage renders the status page over a manager whose
// endpoints have all been probed, in companies of 20 endpoints: all up, all
// down, and one company of every endpoint filtered with ?company=.
func BenchmarkStatusPage(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		for _, tc := range []struct {
			name       string
			companies  int
			down       func(c, e int) bool
			target     string
			perCompany int
		}{
			{"all up", n / 20, func(int, int) bool { return false }, "/", 20},
			{"all down", n / 20, func(int, int) bool { return true }, "/", 20},
			{"one company", 1, func(_, e int) bool { return e%2 == 0 }, "/?company=c0000", n},
		} {
			b.Run(fmt.Sprintf("%d endpoints/%s", n, tc.name), func(b *testing.B) {
				m := probedManager(b, manyEndpoints(tc.companies, tc.perCompany, "1s", tc.down), n)
				h := web.New(web.Options{Manager: m, Gatherer: prometheus.NewRegistry()})
				req := httptest.NewRequest(http.MethodGet, tc.target, nil)
				var w *countingWriter
				b.ReportAllocs()
				for b.Loop() {
					w = &countingWriter{header: http.Header{}}
					h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(w.bytes), "page-bytes")
			})
		}
	}
}

// probedManager returns a manager of the endpoints of configText, stopped
// after each of its n endpoints has had its first verdict.
func probedManager(b *testing.B, configText string, n int) *collector.Manager {
	b.Helper()
	var verdicts atomic.Int64
	allJudged := make(chan struct{})
	m, err := collector.New(collector.Options{
		Registerer: prometheus.NewRegistry(),
		Prober:     namedProber{},
		OnTransition: func(tr collector.Transition) {
			if tr.From == collector.StateUnknown && verdicts.Add(1) == int64(n) {
				close(allJudged)
			}
		},
	})
	if err != nil {
		b.Fatalf("collector.New: %v", err)
	}

	path := filepath.Join(b.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(configText), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		b.Fatalf("loading config: %v", err)
	}
	m.ApplyConfig(cfg)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-allJudged:
	case <-time.After(time.Minute):
		b.Fatalf("only %d of %d endpoints judged after a minute", verdicts.Load(), n)
	}
	cancel()
	<-done
	return m
}

func TestCompanyPagePaginates(t *testing.T) {
	tests := []struct {
		target   string
		wantCode int
		wantRows int
		wantNav  string
		wantPrev string
		wantNext string
	}{
		{"/?company=c0000", http.StatusOK, 1000, "Endpoints 1 to 1000 of 2500, page 1 of 3. Next page", "",
			"?company=c0000&page=2"},
		{"/?company=c0000&page=2", http.StatusOK, 1000,
			"Endpoints 1001 to 2000 of 2500, page 2 of 3. Previous page Next page",
			"?company=c0000&page=1", "?company=c0000&page=3"},
		{"/?company=c0000&page=3", http.StatusOK, 500, "Endpoints 2001 to 2500 of 2500, page 3 of 3. Previous page",
			"?company=c0000&page=2", ""},
		{"/?company=c0000&page=4", http.StatusNotFound, 0, "", "", ""},
		{"/?company=c0000&page=0", http.StatusBadRequest, 0, "", "", ""},
		{"/?company=c0000&page=two", http.StatusBadRequest, 0, "", "", ""},
	}
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := collector.New(collector.Options{Registerer: reg, Prober: namedProber{}})
		if err != nil {
			t.Fatalf("collector.New: %v", err)
		}
		m.ApplyConfig(loadConfig(t, manyEndpoints(1, 2500, "1m", func(_, e int) bool { return e%3 == 0 })))
		h := web.New(web.Options{Manager: m, Gatherer: reg})
		for _, tt := range tests {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if rec.Code != tt.wantCode {
				t.Errorf("%s: status %d, want %d", tt.target, rec.Code, tt.wantCode)
			}
			if tt.wantCode != http.StatusOK {
				continue
			}
			doc := parseHTML(t, rec.Body.String())
			rows := 0
			for _, row := range findAll(doc, tag("tr")) {
				if _, ok := attr(row, "id"); ok {
					rows++
				}
			}
			if rows != tt.wantRows {
				t.Errorf("%s: %d rows, want %d", tt.target, rows, tt.wantRows)
			}
			if !containsString(texts(findAll(doc, tag("p"))), tt.wantNav) {
				t.Errorf("%s: page lacks %q", tt.target, tt.wantNav)
			}
			for rel, want := range map[string]string{"prev": tt.wantPrev, "next": tt.wantNext} {
				links := findAll(doc, withAttr("rel", rel))
				var got string
				if len(links) == 1 {
					got, _ = attr(links[0], "href")
				}
				if len(links) > 1 || got != want {
					t.Errorf("%s: %d %s links to %q, want %q", tt.target, len(links), rel, got, want)
				}
			}
		}
	})
}
