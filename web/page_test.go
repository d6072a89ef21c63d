package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// Rows of the status page after runProbes, at 00:01:01, as cellTexts
// returns them: endpoint, state, last check, latency, uptime, last failure
// and reason.
var firstRoundRows = map[string][]string{
	"acme/api": {"api", "up changed just now", "2000-01-01 00:01:00 UTC just now", "250ms", "100% 1 of 1",
		"never", ""},
	"acme/db": {"db", "down changed just now", "2000-01-01 00:01:01 UTC just now", "1.5s", "0% 0 of 1",
		"2000-01-01 00:01:01 UTC just now", "status: status 503, expected 2xx"},
	"acme/slow": {"slow", "degraded changed just now", "2000-01-01 00:01:01 UTC just now", "1.2s", "100% 1 of 1",
		"never", "slow: " + slowMessage},
	"globex/web": {"web", "unknown in maintenance, no new alerts", "never", "none", "none", "never", ""},
}

// Rows at 00:03:05, after three rounds of probes: acme/db failed, succeeded
// and failed again, and acme/slow turned up after two healthy probes.
var thirdRoundRows = map[string][]string{
	"acme/api": {"api", "up changed 2 minutes ago", "2000-01-01 00:03:00 UTC 4 seconds ago", "250ms", "100% 3 of 3",
		"never", ""},
	"acme/db": {"db", "down changed 3 seconds ago", "2000-01-01 00:03:01 UTC 3 seconds ago", "1.5s", "33.33% 1 of 3",
		"2000-01-01 00:03:01 UTC 3 seconds ago", "status: status 503, expected 2xx"},
	"acme/slow": {"slow", "up changed 4 seconds ago", "2000-01-01 00:03:00 UTC 4 seconds ago", "250ms", "100% 3 of 3",
		"never", ""},
	"globex/web": {"web", "unknown in maintenance, no new alerts", "never", "none", "none", "never", ""},
}

func TestStatusPage(t *testing.T) {
	tests := []struct {
		name string
		// wait is how long to let the manager probe after runProbes.
		wait      time.Duration
		target    string
		wantCode  int
		wantH1    string
		wantH2    []string
		wantLines []string
		wantRows  map[string][]string
	}{
		{
			name:     "all companies",
			target:   "/",
			wantCode: http.StatusOK,
			wantH1:   "apiwatch status",
			wantH2:   []string{"acme", "globex"},
			wantLines: []string{
				"4 endpoints in 2 companies: 1 up, 1 degraded, 1 down, 1 unknown.",
				"3 endpoints: 1 up, 1 degraded, 1 down, 0 unknown.",
				"1 endpoint: 0 up, 0 degraded, 0 down, 1 unknown.",
			},
			wantRows: firstRoundRows,
		},
		{
			name:     "after three rounds",
			wait:     2*time.Minute + 4*time.Second,
			target:   "/",
			wantCode: http.StatusOK,
			wantH1:   "apiwatch status",
			wantH2:   []string{"acme", "globex"},
			wantLines: []string{
				"4 endpoints in 2 companies: 2 up, 0 degraded, 1 down, 1 unknown.",
				"3 endpoints: 2 up, 0 degraded, 1 down, 0 unknown.",
			},
			wantRows: thirdRoundRows,
		},
		{
			name:      "company filter",
			target:    "/?company=globex",
			wantCode:  http.StatusOK,
			wantH1:    "apiwatch status: globex",
			wantH2:    []string{"globex"},
			wantLines: []string{"1 endpoint: 0 up, 0 degraded, 0 down, 1 unknown.", "All companies"},
			wantRows:  map[string][]string{"globex/web": firstRoundRows["globex/web"]},
		},
		{
			name:      "unknown company",
			target:    "/?company=initech",
			wantCode:  http.StatusNotFound,
			wantH1:    "apiwatch status: initech",
			wantH2:    []string{},
			wantLines: []string{"No company named initech is configured.", "All companies"},
			wantRows:  map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newServer(t)
				defer s.runProbes()()
				time.Sleep(tt.wait)
				synctest.Wait()
				code, contentType, page := s.get(tt.target)
				if code != tt.wantCode {
					t.Errorf("status %d, want %d", code, tt.wantCode)
				}
				if contentType != "text/html; charset=utf-8" {
					t.Errorf("Content-Type = %q, want text/html; charset=utf-8", contentType)
				}
				doc := parseHTML(t, page)
				if h1 := findAll(doc, tag("h1")); len(h1) != 1 || text(h1[0]) != tt.wantH1 {
					t.Errorf("h1 = %v, want one %q", texts(h1), tt.wantH1)
				}
				if diff := cmp.Diff(tt.wantH2, texts(findAll(doc, tag("h2")))); diff != "" {
					t.Errorf("company headings (-want +got):\n%s", diff)
				}
				paragraphs := texts(findAll(doc, tag("p")))
				for _, line := range tt.wantLines {
					if !containsString(paragraphs, line) {
						t.Errorf("page lacks the paragraph %q; it has %q", line, paragraphs)
					}
				}
				got := map[string][]string{}
				for _, row := range findAll(doc, tag("tr")) {
					if id, ok := attr(row, "id"); ok {
						got[id] = cellTexts(row)
					}
				}
				if diff := cmp.Diff(tt.wantRows, got); diff != "" {
					t.Errorf("endpoint rows (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func texts(nodes []*html.Node) []string {
	out := []string{}
	for _, n := range nodes {
		out = append(out, text(n))
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// apiEndpoint is the part of an endpoint object of the status API that the
// status page shows.
type apiEndpoint struct {
	Company          string     `json:"company"`
	Endpoint         string     `json:"endpoint"`
	State            string     `json:"state"`
	InMaintenance    bool       `json:"in_maintenance"`
	Since            *time.Time `json:"since"`
	LastCheck        *time.Time `json:"last_check"`
	LastFailure      *time.Time `json:"last_failure"`
	LatencySeconds   float64    `json:"latency_seconds"`
	FailureReason    string     `json:"failure_reason"`
	FailureMessage   string     `json:"failure_message"`
	DegradedReason   string     `json:"degraded_reason"`
	DegradedMessage  string     `json:"degraded_message"`
	Probes           uint64     `json:"probes"`
	SuccessfulProbes uint64     `json:"successful_probes"`
}

// TestStatusPageMatchesAPI checks every endpoint row of the status page
// against the status API at several moments: after the first probes, with
// every state on the page, after a recovery and after a new failure.
func TestStatusPageMatchesAPI(t *testing.T) {
	for _, filter := range []string{"", "acme", "globex"} {
		t.Run("company="+filter, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newServer(t)
				defer s.runProbes()()
				for round := range 3 {
					if round > 0 {
						time.Sleep(time.Minute)
						synctest.Wait()
					}
					compareWithAPI(t, s, filter)
				}
			})
		})
	}
}

func compareWithAPI(t *testing.T, s *server, filter string) {
	t.Helper()
	_, _, body := s.get("/api/v1/status?company=" + filter)
	var api struct{ Endpoints []apiEndpoint }
	if err := json.Unmarshal([]byte(body), &api); err != nil {
		t.Fatalf("decoding the status API: %v\n%s", err, body)
	}
	_, _, page := s.get("/?company=" + filter)
	doc := parseHTML(t, page)
	rows := 0
	for _, row := range findAll(doc, tag("tr")) {
		if _, ok := attr(row, "id"); ok {
			rows++
		}
	}
	if rows != len(api.Endpoints) {
		t.Errorf("page has %d endpoint rows, the API %d endpoints", rows, len(api.Endpoints))
	}
	for _, e := range api.Endpoints {
		name := e.Company + "/" + e.Endpoint
		c := cells(byID(t, doc, name))
		if len(c) != 7 {
			t.Fatalf("%s: row has %d cells, want 7", name, len(c))
		}
		if href := linkOf(c[0]); href != "endpoints/"+name {
			t.Errorf("%s: link %q, want endpoints/%s", name, href, name)
		}
		checkStateCell(t, name, c[1], e.State, e.InMaintenance)
		checkTimeCell(t, name+" last check", c[2], e.LastCheck)
		checkTimeCell(t, name+" last failure", c[5], e.LastFailure)
		if e.LastCheck == nil {
			checkNone(t, name+" latency", c[3])
		} else {
			checkDataValue(t, name+" latency", c[3], e.LatencySeconds)
		}
		if e.Probes == 0 {
			checkNone(t, name+" uptime", c[4])
		} else {
			checkDataValue(t, name+" uptime", c[4], float64(e.SuccessfulProbes)/float64(e.Probes))
			wantCount := fmt.Sprintf("%d of %d", e.SuccessfulProbes, e.Probes)
			if !strings.HasSuffix(text(c[4]), " "+wantCount) {
				t.Errorf("%s uptime: %q, want it to end with %q", name, text(c[4]), wantCount)
			}
		}
		reason, message := e.FailureReason, e.FailureMessage
		if e.State == "degraded" {
			reason, message = e.DegradedReason, e.DegradedMessage
		}
		wantReason := ""
		if reason != "" {
			wantReason = reason + ": " + message
		}
		if got := text(c[6]); got != wantReason {
			t.Errorf("%s reason: %q, want %q", name, got, wantReason)
		}
	}
}

func linkOf(n *html.Node) string {
	links := findAll(n, tag("a"))
	if len(links) != 1 {
		return fmt.Sprintf("%d links", len(links))
	}
	href, _ := attr(links[0], "href")
	return href
}

// checkStateCell checks that a state cell shows the state in its class,
// in an icon labelled with the state, and in words, followed by a note
// when a maintenance window is active.
func checkStateCell(t *testing.T, name string, cell *html.Node, state string, inMaintenance bool) {
	t.Helper()
	if class, _ := attr(cell, "class"); class != "state state-"+state {
		t.Errorf("%s: state cell class %q, want %q", name, class, "state state-"+state)
	}
	icons := findAll(cell, tag("svg"))
	if len(icons) != 1 {
		t.Fatalf("%s: state cell has %d icons, want 1", name, len(icons))
	}
	if label, _ := attr(icons[0], "aria-label"); label != state {
		t.Errorf("%s: icon aria-label %q, want %q", name, label, state)
	}
	if role, _ := attr(icons[0], "role"); role != "img" {
		t.Errorf("%s: icon role %q, want img", name, role)
	}
	words := state
	if inMaintenance {
		words += " in maintenance, no new alerts"
	}
	if got := text(cell); got != words && !strings.HasPrefix(got, words+" changed ") {
		t.Errorf("%s: state cell reads %q, want %q first", name, got, words)
	}
}

// checkTimeCell checks that a cell shows want to the millisecond in a
// <time> element, or "never" without one when want is nil.
func checkTimeCell(t *testing.T, name string, cell *html.Node, want *time.Time) {
	t.Helper()
	times := findAll(cell, tag("time"))
	if want == nil {
		if len(times) != 0 || text(cell) != "never" {
			t.Errorf("%s: %q with %d time elements, want never without one", name, text(cell), len(times))
		}
		return
	}
	if len(times) != 1 {
		t.Fatalf("%s: %d time elements, want 1", name, len(times))
	}
	value, _ := attr(times[0], "datetime")
	got, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		t.Fatalf("%s: datetime %q: %v", name, value, err)
	}
	if !got.Equal(want.Truncate(time.Millisecond)) {
		t.Errorf("%s: datetime %s, want %s", name, got, want)
	}
}

func checkNone(t *testing.T, name string, cell *html.Node) {
	t.Helper()
	if got := text(cell); got != "none" {
		t.Errorf("%s: %q, want none", name, got)
	}
}

// checkDataValue checks the value attribute of the cell's <data> element.
func checkDataValue(t *testing.T, name string, cell *html.Node, want float64) {
	t.Helper()
	data := findAll(cell, tag("data"))
	if len(data) != 1 {
		t.Fatalf("%s: %d data elements, want 1", name, len(data))
	}
	value, _ := attr(data[0], "value")
	got, err := strconv.ParseFloat(value, 64)
	if err != nil {
		t.Fatalf("%s: data value %q: %v", name, value, err)
	}
	if got != want {
		t.Errorf("%s: data value %v, want %v", name, got, want)
	}
}

// TestStatusPageStructure checks what assistive technology relies on: the
// language, one h1, an h2 per company that labels its section, table
// headers with a scope, and a text alternative for every state icon.
func TestStatusPageStructure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		_, _, page := s.get("/")
		doc := parseHTML(t, page)
		if htmls := findAll(doc, withAttr("lang", "en")); len(htmls) != 1 || htmls[0].Data != "html" {
			t.Errorf("the html element lacks lang=\"en\"")
		}
		if n := len(findAll(doc, tag("h1"))); n != 1 {
			t.Errorf("page has %d h1 elements, want 1", n)
		}
		sections := findAll(doc, tag("section"))
		if len(sections) != 2 {
			t.Fatalf("page has %d sections, want one per company, 2", len(sections))
		}
		for _, section := range sections {
			labelledBy, _ := attr(section, "aria-labelledby")
			heading := byID(t, doc, labelledBy)
			if heading.Data != "h2" {
				t.Errorf("section is labelled by a %s, want an h2", heading.Data)
			}
		}
		for _, th := range findAll(doc, tag("th")) {
			scope, _ := attr(th, "scope")
			wantScope := "col"
			if th.Parent.Parent.Data == "tbody" {
				wantScope = "row"
			}
			if scope != wantScope {
				t.Errorf("header %q has scope %q, want %q", text(th), scope, wantScope)
			}
		}
		for _, icon := range findAll(doc, withAttr("class", "icon")) {
			label, _ := attr(icon, "aria-label")
			if role, _ := attr(icon, "role"); role != "img" || label == "" {
				t.Errorf("icon with role %q and aria-label %q, want role img and a label", role, label)
			}
		}
		if refresh := findAll(doc, withAttr("http-equiv", "refresh")); len(refresh) != 1 {
			t.Errorf("page has %d refresh meta elements, want 1", len(refresh))
		} else if content, _ := attr(refresh[0], "content"); content != "15" {
			t.Errorf("refresh content %q, want 15", content)
		}
	})
}

func TestPageHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		for _, target := range []string{"/", "/?company=nope", "/endpoints/acme/db", "/endpoints/acme/nope"} {
			rec := s.serve(target)
			wantCSP := "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " +
				"frame-ancestors 'none'"
			if got := rec.Header().Get("Content-Security-Policy"); got != wantCSP {
				t.Errorf("%s: Content-Security-Policy %q, want %q", target, got, wantCSP)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", target, got)
			}
			for _, loads := range []string{"<script", "<link", " src=", "url(", "@import"} {
				if strings.Contains(rec.Body.String(), loads) {
					t.Errorf("%s: page contains %q, which loads a script or another resource", target, loads)
				}
			}
		}
	})
}
