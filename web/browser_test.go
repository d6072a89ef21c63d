package web_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/web"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// screenshotFile is the screenshot of the status page in the README.
const screenshotFile = "../docs/status-page.png"

// demoStates are the states of the example's endpoints at the end of the
// demo run, by company and endpoint.
var demoStates = map[string]map[string]string{
	"acme": {
		"cache": "up", "checkout": "down", "health": "up", "legacy-redirect": "up", "orders-grpc": "up",
		"place-order": "up", "reports": "degraded", "status-api": "up", "status-report": "up",
	},
	"globex": {
		"billing-grpc": "down", "homepage": "up", "inventory": "down", "orders": "down", "search": "down",
	},
}

// statusFacts is what the browser reports about the status page.
type statusFacts struct {
	Lang           string
	H1             []string
	H2             []string
	Headers        int
	UnscopedHeader []string
	Rows           []stateCell
	// Texts are the elements that contain text, with their colours.
	Texts []coloredText
	// Resources lists every resource the page loaded after the document.
	Resources []string
}

// stateCell is the cell that shows an endpoint's state, or a check's
// result, as the browser renders it.
type stateCell struct {
	ID         string
	Company    string
	Text       string
	IconRole   string
	IconLabel  string
	Color      string
	Background string
	Href       string
}

type coloredText struct {
	Text       string
	Color      string
	Background string
}

// pageScript collects statusFacts. background walks up to the first
// element with an opaque background, and reports the canvas, white, when
// there is none.
const pageScript = `(() => {
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") return c;
    }
    return "rgb(255, 255, 255)";
  };
  const stateCell = (cell, row) => {
    const icon = cell.querySelector("svg");
    const section = cell.closest("section");
    const link = row.querySelector("th a");
    return {
      ID: row.id, Company: section ? section.querySelector("h2").textContent : "",
      Text: cell.innerText.trim(), IconRole: icon ? icon.getAttribute("role") : "",
      IconLabel: icon ? icon.getAttribute("aria-label") : "",
      Color: getComputedStyle(cell).color, Background: background(cell),
      Href: link ? link.getAttribute("href") : "",
    };
  };
  const texts = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg")) continue;
    const own = [...el.childNodes].filter(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== "");
    if (own.length === 0) continue;
    texts.push({Text: own.map(n => n.textContent.trim()).join(" "), Color: getComputedStyle(el).color,
      Background: background(el)});
  }
  return {
    Lang: document.documentElement.lang,
    H1: [...document.querySelectorAll("h1")].map(e => e.textContent),
    H2: [...document.querySelectorAll("h2")].map(e => e.textContent),
    Headers: document.querySelectorAll("th").length,
    UnscopedHeader: [...document.querySelectorAll("th")].filter(th => !th.getAttribute("scope")).map(th => th.textContent),
    Rows: [...document.querySelectorAll("td.state")].map(cell => stateCell(cell, cell.closest("tr"))),
    Texts: texts,
    Resources: performance.getEntriesByType("resource").map(e => e.name),
  };
})()`

// chartFacts is what the browser reports about an endpoint page's chart.
type chartFacts struct {
	H1         string
	Role       string
	Title      string
	Marks      map[string]int
	CheckRows  int
	Failures   int
	Degraded   int
	ChartWidth float64
}

const chartScript = `(() => {
  const svg = document.getElementById("latency-chart");
  const marks = {};
  for (const m of svg.querySelectorAll("path")) marks[m.getAttribute("class")] = (marks[m.getAttribute("class")] || 0) + 1;
  const rows = [...document.querySelectorAll("#checks tbody tr")];
  const result = (r) => r.querySelector("td.state").innerText.trim();
  return {
    H1: document.querySelector("h1").textContent,
    Role: svg.getAttribute("role"),
    Title: document.getElementById("latency-title").textContent,
    Marks: marks,
    CheckRows: rows.length,
    Failures: rows.filter(r => result(r) === "failure").length,
    Degraded: rows.filter(r => result(r) === "degraded").length,
    ChartWidth: svg.getBoundingClientRect().width,
  };
})()`

// TestStatusPageInBrowser serves the status page of the example
// configuration, after ten minutes of probes, to headless Chromium. It
// checks what a reader sees and what assistive technology relies on, saves
// a screenshot, and follows a link to an endpoint page.
func TestStatusPageInBrowser(t *testing.T) {
	requireChromium(t)
	m := demoManager(t)
	srv := httptest.NewServer(web.New(web.Options{Manager: m, Gatherer: prometheus.NewRegistry()}))
	defer srv.Close()
	ctx := startBrowser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("opening the status page: %v", err)
	}
	facts, err := chromedp.Run(ctx, chromedp.Evaluate[statusFacts](pageScript))
	if err != nil {
		t.Fatalf("reading the status page: %v", err)
	}
	checkStatusFacts(t, facts)
	saveScreenshot(t, ctx, "status-page.png", os.Getenv("APIWATCH_UPDATE_SCREENSHOT") == "1")
	// The first Tab moves the keyboard focus to the first link, which must
	// show where it is.
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
		t.Fatalf("pressing Tab: %v", err)
	}
	focus, err := chromedp.Run(ctx, chromedp.Evaluate[string](focusScript))
	if want := "A cache: solid 3px"; err != nil || focus != want {
		t.Errorf("after Tab the focus is on %q (%v), want %q", focus, err, want)
	}

	// Follow the link of acme/checkout, which went down after failures
	// and successes, so its chart has both marks.
	_, err = chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(`a[href="endpoints/acme/checkout"]`))))
	if err != nil {
		t.Fatalf("following the link to acme/checkout: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || location != srv.URL+"/endpoints/acme/checkout" {
		t.Fatalf("after the click the browser is at %q (%v), want %s/endpoints/acme/checkout", location, err, srv.URL)
	}
	chart, err := chromedp.Run(ctx, chromedp.Evaluate[chartFacts](chartScript))
	if err != nil {
		t.Fatalf("reading the endpoint page: %v", err)
	}
	checkChartFacts(t, chart)
	endpointFacts, err := chromedp.Run(ctx, chromedp.Evaluate[statusFacts](pageScript))
	if err != nil {
		t.Fatalf("reading the endpoint page: %v", err)
	}
	checkContrast(t, endpointFacts)
	if len(endpointFacts.H1) != 1 || len(endpointFacts.UnscopedHeader) != 0 || len(endpointFacts.Resources) != 0 {
		t.Errorf("endpoint page: h1 %q, headers without scope %q, resources loaded %q; want one h1 and none else",
			endpointFacts.H1, endpointFacts.UnscopedHeader, endpointFacts.Resources)
	}
	saveScreenshot(t, ctx, "endpoint-page.png", false)
}

func checkStatusFacts(t *testing.T, f statusFacts) {
	t.Helper()
	if f.Lang != "en" {
		t.Errorf("lang = %q, want en", f.Lang)
	}
	if diff := cmp.Diff([]string{"apiwatch status"}, f.H1); diff != "" {
		t.Errorf("h1 elements (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"acme", "globex"}, f.H2); diff != "" {
		t.Errorf("company headings (-want +got):\n%s", diff)
	}
	if f.Headers == 0 || len(f.UnscopedHeader) != 0 {
		t.Errorf("%d table headers, these without scope: %q", f.Headers, f.UnscopedHeader)
	}
	got := map[string]map[string]string{}
	for _, row := range f.Rows {
		company, endpoint, _ := strings.Cut(row.ID, "/")
		if got[company] == nil {
			got[company] = map[string]string{}
		}
		// The cell reads the state, then when it changed.
		state, _, _ := strings.Cut(row.Text, "\n")
		got[company][endpoint] = state
		if row.Company != company {
			t.Errorf("%s: row is under the heading %q", row.ID, row.Company)
		}
		if row.IconRole != "img" || row.IconLabel != state {
			t.Errorf("%s: state icon has role %q and label %q, want img and %q", row.ID, row.IconRole, row.IconLabel, state)
		}
		if row.Href != "endpoints/"+row.ID {
			t.Errorf("%s: link %q, want endpoints/%s", row.ID, row.Href, row.ID)
		}
	}
	if diff := cmp.Diff(demoStates, got); diff != "" {
		t.Errorf("states shown (-want +got):\n%s", diff)
	}
	checkContrast(t, f)
	if len(f.Resources) != 0 {
		t.Errorf("page loaded resources %q, want none", f.Resources)
	}
}

// focusScript describes the element that has the focus and its outline.
const focusScript = `(() => {
  const el = document.activeElement, style = getComputedStyle(el);
  return el.tagName + " " + el.textContent + ": " + style.outlineStyle + " " + style.outlineWidth;
})()`

// checkContrast checks that every state cell and every other text has a
// contrast of at least 4.5:1 against its background, the WCAG AA minimum
// for normal text.
func checkContrast(t *testing.T, f statusFacts) {
	t.Helper()
	for _, row := range f.Rows {
		ratio, err := contrast(row.Color, row.Background)
		if err != nil {
			t.Fatalf("%s: %v", row.ID, err)
		}
		if ratio < 4.5 {
			t.Errorf("%s: state %q in %s on %s has contrast %.2f, want at least 4.5",
				row.ID, row.Text, row.Color, row.Background, ratio)
		}
	}
	if len(f.Rows) == 0 {
		t.Errorf("page has no state cells")
	}
	for _, text := range f.Texts {
		ratio, err := contrast(text.Color, text.Background)
		if err != nil {
			t.Fatalf("%q: %v", text.Text, err)
		}
		if ratio < 4.5 {
			t.Errorf("text %q in %s on %s has contrast %.2f, want at least 4.5", text.Text, text.Color, text.Background, ratio)
		}
	}
}

func checkChartFacts(t *testing.T, c chartFacts) {
	t.Helper()
	if c.H1 != "acme/checkout" {
		t.Errorf("endpoint page h1 %q, want acme/checkout", c.H1)
	}
	if c.Role != "img" {
		t.Errorf("chart role %q, want img", c.Role)
	}
	if want := fmt.Sprintf("Latency of the last %d checks", c.CheckRows); c.Title != want {
		t.Errorf("chart title %q, want %q", c.Title, want)
	}
	// checkout is probed every 10 seconds: 63 times in 10.5 minutes,
	// give or take one for where its slot falls.
	if c.CheckRows < 62 || c.CheckRows > 64 {
		t.Errorf("%d recent checks, want 62 to 64", c.CheckRows)
	}
	wantMarks := map[string]int{"mark-ok": c.CheckRows - c.Failures - c.Degraded, "mark-failed": c.Failures}
	if diff := cmp.Diff(wantMarks, c.Marks); diff != "" {
		t.Errorf("chart marks against the table (-want +got):\n%s", diff)
	}
	if c.Failures < 20 {
		t.Errorf("%d failures, want at least 20: /flaky fails for 3.5 of the 10.5 minutes", c.Failures)
	}
	if c.ChartWidth < 300 {
		t.Errorf("chart is %.0f pixels wide, want at least 300", c.ChartWidth)
	}
}

// contrast returns the WCAG contrast ratio of two CSS colours in the
// rgb() or rgba() form that getComputedStyle returns. It rejects a colour
// that is partly transparent, whose contrast depends on what lies below.
func contrast(fg, bg string) (float64, error) {
	l1, err := relativeLuminance(fg)
	if err != nil {
		return 0, err
	}
	l2, err := relativeLuminance(bg)
	if err != nil {
		return 0, err
	}
	return (max(l1, l2) + 0.05) / (min(l1, l2) + 0.05), nil
}

// relativeLuminance follows the WCAG 2.1 definition for sRGB.
func relativeLuminance(css string) (float64, error) {
	inner, ok := strings.CutPrefix(css, "rgb(")
	if !ok {
		inner, ok = strings.CutPrefix(css, "rgba(")
	}
	inner, closed := strings.CutSuffix(inner, ")")
	if !ok || !closed {
		return 0, fmt.Errorf("colour %q is not rgb() or rgba()", css)
	}
	parts := strings.Split(inner, ",")
	if len(parts) == 4 {
		if alpha := strings.TrimSpace(parts[3]); alpha != "1" {
			return 0, fmt.Errorf("colour %q is partly transparent", css)
		}
		parts = parts[:3]
	}
	if len(parts) != 3 {
		return 0, fmt.Errorf("colour %q has %d components", css, len(parts))
	}
	var lum float64
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseFloat(strings.TrimSpace(parts[i]), 64)
		if err != nil {
			return 0, fmt.Errorf("colour %q: %v", css, err)
		}
		c := v / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += weight * c
	}
	return lum, nil
}

func TestContrast(t *testing.T) {
	tests := []struct {
		fg, bg string
		want   float64
	}{
		{"rgb(0, 0, 0)", "rgb(255, 255, 255)", 21},
		{"rgb(255, 255, 255)", "rgb(255, 255, 255)", 1},
		// #767676 on white is the lightest grey that passes AA.
		{"rgb(118, 118, 118)", "rgba(255, 255, 255, 1)", 4.54},
	}
	for _, tt := range tests {
		got, err := contrast(tt.fg, tt.bg)
		if err != nil || math.Abs(got-tt.want) > 0.005 {
			t.Errorf("contrast(%s, %s) = %.3f, %v; want %.2f", tt.fg, tt.bg, got, err, tt.want)
		}
	}
	for _, bad := range []string{"rgba(0, 0, 0, 0.5)", "#000000", "rgb(1, 2)"} {
		if _, err := contrast(bad, "rgb(255, 255, 255)"); err == nil {
			t.Errorf("contrast(%q) returned no error", bad)
		}
	}
}

// requireChromium fails the test when Chromium is missing, so that a
// machine without it cannot pass by accident, unless APIWATCH_SKIP_BROWSER=1
// skips the browser tests.
func requireChromium(t *testing.T) {
	t.Helper()
	if os.Getenv("APIWATCH_SKIP_BROWSER") == "1" {
		t.Skip("APIWATCH_SKIP_BROWSER=1 skips the browser tests")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: install it with `apt-get install chromium` "+
			"(make test-deps does so as root), or set APIWATCH_SKIP_BROWSER=1 to skip them: %v", chromiumPath, err)
	}
}

// startBrowser starts headless Chromium with a fresh profile and returns
// the context of its first tab. Cleanup stops the browser, and logs its
// output if the test failed.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	var output bytes.Buffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&output),
	)
	timeoutCtx, cancelTimeout := context.WithTimeout(allocCtx, 60*time.Second)
	ctx, cancelTab := chromedp.NewContext(timeoutCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelTimeout()
		cancelAlloc()
		if t.Failed() && output.Len() > 0 {
			t.Logf("Chromium output:\n%s", output.String())
		}
	})
	return ctx
}

// saveScreenshot saves a full-page PNG of the current page under the
// test's artifact directory and, when toDocs is set, as screenshotFile.
func saveScreenshot(t *testing.T, ctx context.Context, name string, toDocs bool) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("Saved a screenshot of %d bytes to %s", len(png), path)
	if toDocs {
		if err := os.WriteFile(screenshotFile, png, 0o644); err != nil {
			t.Fatalf("updating %s: %v", screenshotFile, err)
		}
		t.Logf("Updated %s", screenshotFile)
	}
}
