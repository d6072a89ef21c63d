package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The reload tests run the daemon binary on a configuration in a temporary
// directory and change it while it probes a loopback target that records
// the time of every request.

// reloadWait bounds each wait for the daemon to act on a change: the
// watcher's debounce (500ms), the reload and the next probe.
const reloadWait = 5 * time.Second

// hitTarget is a loopback HTTP target that records when each path is
// requested. Paths starting with /fail respond with 500, the others with 200.
type hitTarget struct {
	srv *httptest.Server

	mu      sync.Mutex
	hits    map[string][]time.Time
	changed chan struct{} // closed and replaced on every request
}

func startHitTarget(t *testing.T) *hitTarget {
	t.Helper()
	h := &hitTarget{hits: map[string][]time.Time{}, changed: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits[r.URL.Path] = append(h.hits[r.URL.Path], time.Now())
		close(h.changed)
		h.changed = make(chan struct{})
		h.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// times returns the times path was requested.
func (h *hitTarget) times(path string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.hits[path]...)
}

// waitForHits waits until path has been requested n times and returns the
// times. It fails the test after timeout.
func (h *hitTarget) waitForHits(t *testing.T, path string, n int, timeout time.Duration) []time.Time {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		got := append([]time.Time(nil), h.hits[path]...)
		changed := h.changed
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s requested %d times within %v, want %d", path, len(got), timeout, n)
			return nil
		}
	}
}

// request sends a request and returns the status code and the body.
func (d *runningDaemon) request(method, path, body string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.baseURL+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatalf("building %s %s: %v", method, path, err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// reloadedLine is the log line of a successful reload, in logfmt.
const reloadedLine = `msg="Configuration reloaded"`

// waitForLogCount waits until the daemon's standard error holds text n
// times, and returns the time it saw that. It fails the test after timeout.
func (d *runningDaemon) waitForLogCount(text string, n int, timeout time.Duration) time.Time {
	d.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	b := d.stderr
	for {
		b.mu.Lock()
		count := strings.Count(b.buf.String(), text)
		written := b.written
		b.mu.Unlock()
		if count >= n {
			return time.Now()
		}
		select {
		case <-written:
		case <-deadline.C:
			d.t.Fatalf("stderr holds %q %d times after %v, want %d\nstderr:\n%s", text, count, timeout, n, b)
			return time.Time{}
		}
	}
}

// sample returns the value of the series name with exactly the given
// labels in the daemon's /metrics, and whether it exists.
func (d *runningDaemon) sample(name string, labels map[string]string) (float64, bool) {
	d.t.Helper()
	code, body := d.get("/metrics")
	if code != http.StatusOK {
		d.t.Fatalf("GET /metrics: status %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		d.t.Fatalf("parsing /metrics: %v", err)
	}
	for _, m := range families[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(labels) {
			continue
		}
		return m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue(), true
	}
	return 0, false
}

func (d *runningDaemon) mustSample(name string, labels map[string]string) float64 {
	d.t.Helper()
	v, ok := d.sample(name, labels)
	if !ok {
		d.t.Fatalf("%s%v missing from /metrics", name, labels)
	}
	return v
}

// waitForSeries polls /metrics until the series exists (present true) or
// is gone (present false), and fails the test after reloadWait. Polling is
// needed because the daemon is another process.
func (d *runningDaemon) waitForSeries(name string, labels map[string]string, present bool) {
	d.t.Helper()
	deadline := time.Now().Add(reloadWait)
	for {
		if _, ok := d.sample(name, labels); ok == present {
			return
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s%v present=%v after %v, want %v\nstderr:\n%s", name, labels, !present, reloadWait, present, d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkReloadMetrics checks the reload gauge and counters on /metrics.
func (d *runningDaemon) checkReloadMetrics(last, successes, failures float64) {
	d.t.Helper()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"apiwatch_config_last_reload_successful", map[string]string{}, last},
		{"apiwatch_config_reloads_total", map[string]string{"result": "success"}, successes},
		{"apiwatch_config_reloads_total", map[string]string{"result": "failure"}, failures},
	} {
		if got := d.mustSample(c.name, c.labels); got != c.want {
			d.t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// endpointDetail is the part of /api/v1/endpoints/<company>/<endpoint> the
// reload tests read.
type endpointDetail struct {
	State               string  `json:"state"`
	Since               *string `json:"since"`
	URL                 string  `json:"url"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
}

func (d *runningDaemon) endpoint(company, name string) endpointDetail {
	d.t.Helper()
	code, body := d.get("/api/v1/endpoints/" + company + "/" + name)
	if code != http.StatusOK {
		d.t.Fatalf("GET endpoint %s/%s: status %d: %s", company, name, code, body)
	}
	var e endpointDetail
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		d.t.Fatalf("decoding endpoint %s/%s: %v\n%s", company, name, err, body)
	}
	return e
}

// waitForEndpoint polls the endpoint's status until match returns true, and
// returns it. It fails the test after reloadWait.
func (d *runningDaemon) waitForEndpoint(company, name string, match func(endpointDetail) bool) endpointDetail {
	d.t.Helper()
	deadline := time.Now().Add(reloadWait)
	for {
		e := d.endpoint(company, name)
		if match(e) {
			return e
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s/%s status %+v did not match within %v", company, name, e, reloadWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replaceFile writes content beside path and renames it over path, as
// editors and configuration management tools do, so that the daemon never
// reads half a file.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func labels(company, endpoint string) map[string]string {
	return map[string]string{"company": company, "endpoint": endpoint}
}

func TestDaemonReloadsCompanyFiles(t *testing.T) {
	target := startHitTarget(t)
	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`config_files: [conf.d/*.yml]
global:
  interval: 1s
companies:
  - name: initech
    endpoints:
      - name: api
        url: %s/ok-initech
`, target.srv.URL))
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, config, dir+"/data")

	acme := filepath.Join(dir, "conf.d", "acme.yml")
	replaceFile(t, acme, fmt.Sprintf(`companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/ok-acme
`, target.srv.URL))
	d.waitForSeries("probe_success", labels("acme", "api"), true)
	target.waitForHits(t, "/ok-acme", 1, reloadWait)

	if err := os.Remove(acme); err != nil {
		t.Fatal(err)
	}
	d.waitForSeries("probe_success", labels("acme", "api"), false)
	if _, ok := d.sample("probe_success", labels("initech", "api")); !ok {
		t.Errorf("initech's series went away with acme's")
	}
	d.checkReloadMetrics(1, 2, 0)
}

func TestDaemonReloadTriggers(t *testing.T) {
	target := startHitTarget(t)
	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/ok
        interval: 1h
`, target.srv.URL))

	t.Run("SIGHUP", func(t *testing.T) {
		d := startDaemon(t, config, t.TempDir())
		for i := 1; i <= 2; i++ {
			d.signal(syscall.SIGHUP)
			d.waitForLogCount(reloadedLine, i, reloadWait)
		}
		d.checkReloadMetrics(1, 2, 0)
	})
	t.Run("HTTP reload disabled", func(t *testing.T) {
		d := startDaemon(t, config, t.TempDir())
		code, body := d.request(http.MethodPost, "/-/reload", "")
		want := "Lifecycle API is not enabled: start apiwatch with --web.enable-lifecycle.\n"
		if code != http.StatusForbidden || body != want {
			t.Errorf("POST /-/reload: %d %q, want 403 %q", code, body, want)
		}
		d.checkReloadMetrics(1, 0, 0)
	})
	t.Run("HTTP reload enabled", func(t *testing.T) {
		d := startDaemon(t, config, t.TempDir(), "--web.enable-lifecycle")
		code, body := d.request(http.MethodPost, "/-/reload", "")
		if code != http.StatusOK || body != "Configuration reloaded.\n" {
			t.Errorf("POST /-/reload: %d %q, want 200", code, body)
		}
		d.checkReloadMetrics(1, 1, 0)
	})
}

func TestDaemonKeepsProbingWithBrokenConfig(t *testing.T) {
	target := startHitTarget(t)
	dir := t.TempDir()
	good := fmt.Sprintf(`global:
  interval: 1s
companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/ok
`, target.srv.URL)
	config := writeFile(t, dir, "apiwatch.yml", good)
	d := startDaemon(t, config, dir+"/data")
	target.waitForHits(t, "/ok", 1, reloadWait)
	okBefore := d.mustSample("apiwatch_config_last_reload_success_timestamp_seconds", map[string]string{})

	replaceFile(t, config, strings.Replace(good, "interval: 1s", "interval: fast", 1))
	d.waitForLogCount(`msg="Invalid configuration, keeping the previous one" err="`+config+
		`:2:13: global.interval: invalid duration \"fast\": use a number with a unit`, 1, reloadWait)
	d.checkReloadMetrics(0, 0, 1)
	if v := d.mustSample("apiwatch_config_last_reload_success_timestamp_seconds", map[string]string{}); v != okBefore {
		t.Errorf("success timestamp moved from %v to %v on a failed reload", okBefore, v)
	}
	// The running configuration keeps probing every second.
	n := len(target.times("/ok"))
	target.waitForHits(t, "/ok", n+2, 3*time.Second)

	fixed := time.Now()
	replaceFile(t, config, strings.Replace(good, "/ok", "/ok-fixed", 1))
	d.waitForLogCount(reloadedLine, 1, reloadWait)
	target.waitForHits(t, "/ok-fixed", 1, reloadWait)
	d.checkReloadMetrics(1, 1, 1)
	after := d.mustSample("apiwatch_config_last_reload_success_timestamp_seconds", map[string]string{})
	if after < float64(fixed.UnixNano())/1e9 {
		t.Errorf("success timestamp %v is before the fix at %v", after, float64(fixed.UnixNano())/1e9)
	}
}

func TestDaemonReloadsKeepState(t *testing.T) {
	const interval = time.Second
	target := startHitTarget(t)
	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`global:
  interval: 1s
companies:
  - name: acme
    endpoints:
      - name: steady
        url: %[1]s/ok-steady
      - name: failing
        url: %[1]s/fail-failing
`, target.srv.URL))
	d := startDaemon(t, config, dir+"/data")
	d.waitForStates(map[string]string{"steady": "up", "failing": "down"}, time.Now().Add(reloadWait))
	target.waitForHits(t, "/ok-steady", 2, reloadWait)
	before := map[string]endpointDetail{"steady": d.endpoint("acme", "steady"), "failing": d.endpoint("acme", "failing")}
	failuresBefore := d.mustSample("probe_failures_total",
		map[string]string{"company": "acme", "endpoint": "failing", "reason": "status"})
	lastCheckBefore := d.mustSample("probe_last_check_timestamp_seconds", labels("acme", "steady"))

	// 20 reloads spread over about three intervals, so that some fall
	// just before a probe and some just after.
	start := time.Now()
	for i := 1; i <= 20; i++ {
		d.signal(syscall.SIGHUP)
		d.waitForLogCount(reloadedLine, i, reloadWait)
		time.Sleep(150 * time.Millisecond) // pacing, not synchronisation
	}
	end := time.Now()
	n := len(target.times("/ok-steady"))
	target.waitForHits(t, "/ok-steady", n+2, 3*interval)

	for _, path := range []string{"/ok-steady", "/fail-failing"} {
		times := target.times(path)
		during := 0
		for i := 1; i < len(times); i++ {
			gap := times[i].Sub(times[i-1])
			if gap < interval-100*time.Millisecond || gap > interval+500*time.Millisecond {
				t.Errorf("%s: gap of %v between hits %d and %d, want %v ± 100ms", path, gap, i, i+1, interval)
			}
			if times[i].After(start) && times[i].Before(end) {
				during++
			}
		}
		if during < 2 {
			t.Errorf("%s: %d hits during the reloads, want at least 2: probing stopped", path, during)
		}
	}
	for name, b := range before {
		after := d.endpoint("acme", name)
		if after.State != b.State || deref(after.Since) != deref(b.Since) {
			t.Errorf("%s: state %s since %s after the reloads, want %s since %s",
				name, after.State, deref(after.Since), b.State, deref(b.Since))
		}
	}
	failuresAfter := d.mustSample("probe_failures_total",
		map[string]string{"company": "acme", "endpoint": "failing", "reason": "status"})
	if failuresAfter < failuresBefore+3 {
		t.Errorf("probe_failures_total went from %v to %v, want it to keep counting", failuresBefore, failuresAfter)
	}
	if got := d.endpoint("acme", "failing").ConsecutiveFailures; got < before["failing"].ConsecutiveFailures+3 {
		t.Errorf("consecutive failures went from %d to %d, want them to keep counting",
			before["failing"].ConsecutiveFailures, got)
	}
	if v := d.mustSample("probe_last_check_timestamp_seconds", labels("acme", "steady")); v < lastCheckBefore+2 {
		t.Errorf("probe_last_check_timestamp_seconds went from %v to %v, want it to advance", lastCheckBefore, v)
	}
	d.checkReloadMetrics(1, 20, 0)
}

func TestDaemonReloadChangedURLAndNewEndpoint(t *testing.T) {
	target := startHitTarget(t)
	dir := t.TempDir()
	const before = `global:
  interval: 1s
companies:
  - name: acme
    endpoints:
      - name: api
        url: %[1]s/fail-old
`
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(before, target.srv.URL))
	d := startDaemon(t, config, dir+"/data")
	d.waitForStates(map[string]string{"api": "down"}, time.Now().Add(reloadWait))
	old := d.endpoint("acme", "api")

	replaceFile(t, config, fmt.Sprintf(strings.Replace(before, "/fail-old", "/fail-new", 1)+`      - name: fresh
        url: %[1]s/ok-fresh
        interval: 2s
`, target.srv.URL))
	reloaded := d.waitForLogCount(reloadedLine, 1, reloadWait)

	first := target.waitForHits(t, "/ok-fresh", 1, reloadWait)[0]
	if wait := first.Sub(reloaded); wait > 2*time.Second {
		t.Errorf("new endpoint first probed %v after the reload, want within its 2s interval", wait)
	}
	target.waitForHits(t, "/fail-new", 1, reloadWait)
	for _, hit := range target.times("/fail-old") {
		if hit.After(reloaded) {
			t.Errorf("old URL requested at %v, after the reload at %v", hit, reloaded)
		}
	}
	// The target has responded, and the daemon records the result just after.
	now := d.waitForEndpoint("acme", "api", func(e endpointDetail) bool {
		return e.ConsecutiveFailures > old.ConsecutiveFailures+1
	})
	if now.State != "down" || deref(now.Since) != deref(old.Since) {
		t.Errorf("after the URL change: %s since %s, want down since %s", now.State, deref(now.Since), deref(old.Since))
	}
	if want := target.srv.URL + "/fail-new"; now.URL != want {
		t.Errorf("url = %s, want %s", now.URL, want)
	}
}

func TestDaemonFailureThresholdSurvivesReload(t *testing.T) {
	target := startHitTarget(t)
	dir := t.TempDir()
	const companies = `global:
  interval: 1s
companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/fail
        failure_threshold: 3
`
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(companies, target.srv.URL))
	d := startDaemon(t, config, dir+"/data")
	target.waitForHits(t, "/fail", 2, reloadWait)
	d.waitForEndpoint("acme", "api", func(e endpointDetail) bool { return e.ConsecutiveFailures == 2 })

	// A real change to the endpoint, reloaded at once by SIGHUP, before
	// its third probe. The file watcher may reload it once more.
	replaceFile(t, config, fmt.Sprintf(companies, target.srv.URL)+"        labels: {team: payments}\n")
	d.signal(syscall.SIGHUP)
	reloaded := d.waitForLogCount(reloadedLine, 1, reloadWait)
	if third := target.times("/fail"); len(third) > 2 {
		t.Fatalf("third probe at %v ran before the reload at %v; the test proves nothing", third[2], reloaded)
	}
	if e := d.endpoint("acme", "api"); e.State != "unknown" || e.ConsecutiveFailures != 2 {
		t.Errorf("after the reload: %s with %d failures, want unknown with 2", e.State, e.ConsecutiveFailures)
	}

	d.waitForStates(map[string]string{"api": "down"}, time.Now().Add(reloadWait))
	if hits := target.times("/fail"); len(hits) != 3 {
		t.Errorf("down after %d failed probes, want 3", len(hits))
	}
}

func TestDaemonAdminAPIResolvesDeletedCompany(t *testing.T) {
	target := startHitTarget(t)
	am := newAlertmanager(t)
	am.configFile = writeFile(t, t.TempDir(), "alertmanager.yml",
		"route:\n  receiver: discard\nreceivers:\n  - name: discard\n")
	am.start()

	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`config_files: [conf.d/*.yml]
global:
  interval: 1s
alerting:
  alertmanagers:
    - url: %s
  resend_interval: 2s
companies:
  - name: initech
    endpoints:
      - name: api
        url: %s/ok-initech
`, am.url(), target.srv.URL))
	d := startDaemon(t, config, dir+"/data", "--web.enable-admin-api")

	body := fmt.Sprintf(`name: acme
contacts:
  pagerduty:
    - routing_key: tok-ABC123
endpoints:
  - name: checkout
    url: %s/fail-checkout?token=q-456
`, target.srv.URL)
	if code, resp := d.request(http.MethodPut, "/api/v1/companies/acme", body); code != http.StatusCreated {
		t.Fatalf("PUT acme: status %d, want 201: %s", code, resp)
	}
	d.waitForStates(map[string]string{"checkout": "down"}, time.Now().Add(reloadWait))
	am.waitForActiveAlert("acme", "checkout")

	code, doc := d.request(http.MethodGet, "/api/v1/companies/acme", "")
	if code != http.StatusOK {
		t.Fatalf("GET acme: status %d: %s", code, doc)
	}
	for _, secret := range []string{"tok-ABC123", "q-456"} {
		if strings.Contains(doc, secret) {
			t.Errorf("GET acme shows the secret %q:\n%s", secret, doc)
		}
	}

	removing := time.Now()
	if code, resp := d.request(http.MethodDelete, "/api/v1/companies/acme", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE acme: status %d, want 204: %s", code, resp)
	}
	if _, ok := d.sample("probe_success", labels("acme", "checkout")); ok {
		t.Errorf("acme/checkout series still on /metrics after DELETE returned")
	}
	resolved := am.proxy.waitForPost("acme", "checkout", func(a postedAlert) bool { return !a.EndsAt.After(a.received) })
	if resolved.EndsAt.Before(wireTime(removing)) {
		t.Errorf("resolved alert endsAt %v, before the DELETE at %v", resolved.EndsAt, removing)
	}
	am.waitForNoActiveAlert("acme", "checkout")
	if st := d.statuses(); len(st) != 1 || st["api"].Company != "initech" {
		t.Errorf("endpoints after DELETE: %+v, want only initech/api", st)
	}
	// One reload per admin change: the watcher skips the events of the
	// admin API's own writes.
	d.checkReloadMetrics(1, 2, 0)
}
