package web_test

import (
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// facts returns the text of each dd of the first dl after the h1, by the
// text of its dt.
func facts(t *testing.T, doc *html.Node) map[string]string {
	t.Helper()
	lists := findAll(doc, tag("dl"))
	if len(lists) == 0 {
		t.Fatalf("page has no dl")
	}
	return definitions(lists[0])
}

func definitions(dl *html.Node) map[string]string {
	out := map[string]string{}
	term := ""
	for c := dl.FirstChild; c != nil; c = c.NextSibling {
		switch {
		case c.Type != html.ElementNode:
		case c.Data == "dt":
			term = text(c)
		case c.Data == "dd":
			out[term] = text(c)
		}
	}
	return out
}

func TestEndpointPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		time.Sleep(2*time.Minute + 4*time.Second) // 00:03:05, after three probes
		synctest.Wait()
		code, contentType, page := s.get("/endpoints/acme/db")
		if code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
		if contentType != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q, want text/html; charset=utf-8", contentType)
		}
		doc := parseHTML(t, page)
		if h1 := texts(findAll(doc, tag("h1"))); len(h1) != 1 || h1[0] != "acme/db" {
			t.Errorf("h1 = %q, want one acme/db", h1)
		}
		wantFacts := map[string]string{
			"State":        "down since 2000-01-01 00:03:01 UTC, 3 seconds ago",
			"URL":          "https://db.acme.example/ping",
			"Last check":   "2000-01-01 00:03:01 UTC, 3 seconds ago: status 503, 1.5s",
			"Last failure": "2000-01-01 00:03:01 UTC, 3 seconds ago, reason status: status 503, expected 2xx",
			"Uptime":       "33.33% of probes successful: 1 of 3 since apiwatch started or a reload added this endpoint",
		}
		if diff := cmp.Diff(wantFacts, facts(t, doc)); diff != "" {
			t.Errorf("facts (-want +got):\n%s", diff)
		}
		wantSettings := map[string]string{
			"Probe":        "HTTP GET request",
			"Schedule":     "cron schedule * * * * * in UTC",
			"Timeout":      "10s",
			"Thresholds":   "down after 1 failed probe in a row, up again after 1 successful probe in a row",
			"Expectations": "status is 2xx follows up to 10 redirects and judges the final response reads at most 1MiB of the body",
		}
		if diff := cmp.Diff(wantSettings, definitions(findAll(doc, tag("dl"))[1])); diff != "" {
			t.Errorf("settings (-want +got):\n%s", diff)
		}

		// The recent checks, newest first.
		wantChecks := [][]string{
			{"2000-01-01 00:03:00 UTC 5 seconds ago", "failure", "503", "1.5s", "status", "", "down"},
			{"2000-01-01 00:02:00 UTC 1 minute ago", "success", "200", "250ms", "", "", "up"},
			{"2000-01-01 00:01:00 UTC 2 minutes ago", "failure", "503", "1.5s", "status", "", "down"},
		}
		var gotChecks [][]string
		for _, row := range findAll(byID(t, doc, "checks"), tag("tr"))[1:] {
			gotChecks = append(gotChecks, cellTexts(row))
		}
		if diff := cmp.Diff(wantChecks, gotChecks); diff != "" {
			t.Errorf("recent checks (-want +got):\n%s", diff)
		}

		// The chart draws the same checks, oldest on the left, with the
		// failures marked by a cross.
		chart := byID(t, doc, "latency-chart")
		if role, _ := attr(chart, "role"); role != "img" {
			t.Errorf("chart role %q, want img", role)
		}
		if got := rawText(byID(t, doc, "latency-title")); got != "Latency of the last 3 checks" {
			t.Errorf("chart title %q", got)
		}
		wantDesc := "From 2000-01-01 00:01:00 UTC to 2000-01-01 00:03:00 UTC: lowest 250ms, highest 1.5s, last 1.5s. " +
			"2 failed, marked with a cross; 0 degraded, marked with a triangle. " +
			"The table of recent checks lists the same data."
		if got := text(byID(t, doc, "latency-desc")); got != wantDesc {
			t.Errorf("chart description\n%q, want\n%q", got, wantDesc)
		}
		lines := findAll(chart, tag("polyline"))
		if len(lines) != 1 {
			t.Fatalf("chart has %d polylines, want 1", len(lines))
		}
		// The axis tops at 2s: 1.5s is at three quarters of the plot's
		// height of 158 units above y=170, and 250ms at one eighth.
		if points, _ := attr(lines[0], "points"); points != "56.0,51.5 342.0,150.2 628.0,51.5" {
			t.Errorf("chart points %q", points)
		}
		var marks []string
		for _, p := range findAll(chart, tag("path")) {
			class, _ := attr(p, "class")
			marks = append(marks, class)
		}
		if diff := cmp.Diff([]string{"mark-failed", "mark-ok", "mark-failed"}, marks); diff != "" {
			t.Errorf("chart marks (-want +got):\n%s", diff)
		}
	})
}

func TestEndpointPageRedactsURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		_, _, page := s.get("/endpoints/acme/api")
		doc := parseHTML(t, page)
		if got, want := facts(t, doc)["URL"], "https://api.acme.example/health?api_key=xxxxx"; got != want {
			t.Errorf("URL %q, want %q", got, want)
		}
		if got, want := definitions(findAll(doc, tag("dl"))[1])["Labels"], `tier="gold"`; got != want {
			t.Errorf("labels %q, want %q", got, want)
		}
		for _, secret := range []string{"k-1", "api_key=k"} {
			if strings.Contains(page, secret) {
				t.Errorf("page shows %q from the URL", secret)
			}
		}
	})
}

func TestEndpointPageDegraded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		_, _, page := s.get("/endpoints/acme/slow")
		got := facts(t, parseHTML(t, page))
		if want := "reason slow: " + slowMessage; got["Degraded"] != want {
			t.Errorf("Degraded = %q, want %q", got["Degraded"], want)
		}
		if want := "degraded since 2000-01-01 00:01:01 UTC, just now"; got["State"] != want {
			t.Errorf("State = %q, want %q", got["State"], want)
		}
		doc := parseHTML(t, page)
		row := findAll(byID(t, doc, "checks"), tag("tr"))[1]
		want := []string{"2000-01-01 00:01:00 UTC 1 second ago", "degraded", "200", "1.2s", "slow", "1", "degraded"}
		if diff := cmp.Diff(want, cellTexts(row)); diff != "" {
			t.Errorf("check row (-want +got):\n%s", diff)
		}
		if marks := findAll(byID(t, doc, "latency-chart"), withAttr("class", "mark-degraded")); len(marks) != 1 {
			t.Errorf("chart has %d degraded marks, want 1", len(marks))
		}
		if got := rawText(byID(t, doc, "latency-title")); got != "Latency of the last check" {
			t.Errorf("chart title %q", got)
		}
	})
}

func TestEndpointPageNeverProbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		_, _, page := s.get("/endpoints/globex/web")
		doc := parseHTML(t, page)
		want := map[string]string{
			"State":        "unknown",
			"URL":          "https://www.globex.example/",
			"Last check":   "never",
			"Last failure": "never",
			"Maintenance":  "A maintenance window is active: the endpoint is probed, and no new alert fires until the window ends.",
			"Uptime":       "no probe since apiwatch started or a reload added this endpoint",
		}
		if diff := cmp.Diff(want, facts(t, doc)); diff != "" {
			t.Errorf("facts (-want +got):\n%s", diff)
		}
		if charts := findAll(doc, tag("figure")); len(charts) != 0 {
			t.Errorf("page has %d charts, want none", len(charts))
		}
		if rows := texts(findAll(byID(t, doc, "checks"), tag("td"))); !cmp.Equal(rows, []string{"No checks yet."}) {
			t.Errorf("checks table cells %q", rows)
		}
	})
}

func TestEndpointPageNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		for _, target := range []string{"/endpoints/acme/nope", "/endpoints/initech/api"} {
			code, contentType, page := s.get(target)
			if code != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", target, code)
			}
			if contentType != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type %q", target, contentType)
			}
			doc := parseHTML(t, page)
			if h1 := texts(findAll(doc, tag("h1"))); !cmp.Equal(h1, []string{"Endpoint not found"}) {
				t.Errorf("%s: h1 %q", target, h1)
			}
		}
		_, _, page := s.get("/endpoints/acme/nope")
		want := "The running configuration has no endpoint nope of company acme. A reload may have removed or renamed it."
		if !containsString(texts(findAll(parseHTML(t, page), tag("p"))), want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	})
}

// rawText returns all text under n, with SVG titles.
func rawText(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
