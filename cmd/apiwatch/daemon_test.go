package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// newTargetServer starts a loopback server with /ok (200), /fail (500),
// /unauthorized (401) and /hang, which answers only when the client gives
// up. Each request to /hang is announced on hangStarted (if nobody waits,
// the announcement is dropped), and the end of its request context on
// hangCancelled.
func newTargetServer(t *testing.T) (srv *httptest.Server, hangStarted, hangCancelled chan time.Time) {
	t.Helper()
	hangStarted = make(chan time.Time, 1)
	hangCancelled = make(chan time.Time, 1)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	mux.HandleFunc("/unauthorized", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case hangStarted <- time.Now():
		default:
		}
		select {
		case <-r.Context().Done():
			select {
			case hangCancelled <- time.Now():
			default:
			}
		case <-release:
		}
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// Registered after srv.Close, so it runs first and frees /hang handlers.
	t.Cleanup(func() { close(release) })
	return srv, hangStarted, hangCancelled
}

func TestDaemonShowsUpAndDownVerdicts(t *testing.T) {
	srv, _, _ := newTargetServer(t)
	dir := t.TempDir()
	const interval = 2 * time.Second
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`
global:
  interval: 2s
companies:
  - name: acme
    endpoints:
      - name: ok
        url: %[1]s/ok
      - name: error
        url: %[1]s/fail
      - name: hang
        url: %[1]s/hang
        timeout: 1s
`, srv.URL))

	d := startDaemon(t, config, dir+"/data")
	statuses := d.waitForStates(map[string]string{"ok": "up", "error": "down", "hang": "down"},
		time.Now().Add(2*interval))

	wantReasons := map[string]string{"ok": "", "error": "status", "hang": "timeout"}
	wantCodes := map[string]int{"ok": 200, "error": 500, "hang": 0}
	for name, reason := range wantReasons {
		if got := statuses[name].LastReason; got != reason {
			t.Errorf("%s: last_reason = %q, want %q", name, got, reason)
		}
		if got := statuses[name].LastStatusCode; got != wantCodes[name] {
			t.Errorf("%s: last_status_code = %d, want %d", name, got, wantCodes[name])
		}
	}

	code, metrics := d.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", code)
	}
	for name, want := range map[string]float64{"ok": 1, "error": 0, "hang": 0} {
		got, ok := d.metricValue(metrics, "probe_up", "acme", name)
		if !ok {
			t.Errorf("probe_up{company=acme,endpoint=%s} missing from /metrics", name)
			continue
		}
		if got != want {
			t.Errorf("probe_up{company=acme,endpoint=%s} = %v, want %v", name, got, want)
		}
	}
	checkMetricsWithPromtool(t, metrics)
}

// checkMetricsWithPromtool runs `promtool check metrics`, which applies the
// Prometheus naming and help-text rules to a /metrics body. A missing
// promtool fails the test unless APIWATCH_SKIP_PROMTOOL=1 is set.
func checkMetricsWithPromtool(t *testing.T, metrics string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMTOOL") == "1" {
			t.Log("Skipping promtool check metrics: promtool not installed and APIWATCH_SKIP_PROMTOOL=1")
			return
		}
		t.Fatalf("promtool not found (install Debian's prometheus package, or set APIWATCH_SKIP_PROMTOOL=1 to skip): %v", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("promtool check metrics failed: %v\n%s", err, out.String())
	}
}

func TestDaemonStopsOnSIGTERMAndKeepsState(t *testing.T) {
	srv, hangStarted, hangCancelled := newTargetServer(t)
	dir := t.TempDir()
	storage := dir + "/data"
	firstConfig := writeFile(t, dir, "first.yml", fmt.Sprintf(`
global:
  interval: 2s
companies:
  - name: acme
    endpoints:
      - name: error
        url: %[1]s/fail
      - name: hang
        url: %[1]s/hang
        timeout: 2s
`, srv.URL))

	d := startDaemon(t, firstConfig, storage)
	before := d.waitForStates(map[string]string{"error": "down"}, time.Now().Add(5*time.Second))["error"]
	if before.Since == nil {
		t.Fatalf("error endpoint is down but has no since time")
	}

	// Wait for a fresh request to /hang, so that a probe is surely in flight
	// with nearly its whole 2s timeout ahead when the signal arrives.
	select {
	case <-hangStarted:
	default:
	}
	select {
	case <-hangStarted:
	case <-time.After(5 * time.Second):
		t.Fatalf("no probe of /hang started within 5s")
	}
	signalled := time.Now()
	d.signal(syscall.SIGTERM)

	select {
	case cancelled := <-hangCancelled:
		if elapsed := cancelled.Sub(signalled); elapsed > time.Second {
			t.Errorf("probe in flight cancelled %v after SIGTERM, want within 1s", elapsed)
		}
	case <-time.After(time.Second):
		t.Errorf("probe in flight not cancelled within 1s of SIGTERM")
	}
	if code := d.wait(5 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\nstderr:\n%s", code, d.stderr)
	}
	if elapsed := time.Since(signalled); elapsed > 2*time.Second {
		t.Errorf("shutdown took %v, want under 2s", elapsed)
	}
	if !strings.Contains(d.stderr.String(), `msg=Stopped`) {
		t.Errorf("stderr does not log msg=Stopped:\n%s", d.stderr)
	}

	// The restart probes once a day, so the status it shows is the one
	// saved at shutdown, not a new verdict.
	secondConfig := writeFile(t, dir, "second.yml", fmt.Sprintf(`
global:
  interval: 24h
companies:
  - name: acme
    endpoints:
      - name: error
        url: %[1]s/fail
      - name: hang
        url: %[1]s/hang
        timeout: 2s
`, srv.URL))
	restarted := startDaemon(t, secondConfig, storage)
	after := restarted.statuses()["error"]
	if after.State != "down" {
		t.Errorf("state after restart = %q, want down", after.State)
	}
	if after.Since == nil || *after.Since != *before.Since {
		t.Errorf("since after restart = %v, want %q", deref(after.Since), *before.Since)
	}
	if after.LastCheck == nil {
		t.Fatalf("last_check after restart is null, want the check before shutdown")
	}
	lastCheck, err := time.Parse(time.RFC3339Nano, *after.LastCheck)
	if err != nil {
		t.Fatalf("parsing last_check %q: %v", *after.LastCheck, err)
	}
	if !lastCheck.Before(signalled) {
		t.Errorf("last_check %v is after the first daemon stopped at %v: a new probe ran", lastCheck, signalled)
	}
	_, metrics := restarted.get("/metrics")
	if v, ok := restarted.metricValue(metrics, "probe_up", "acme", "error"); !ok || v != 0 {
		t.Errorf("probe_up{endpoint=error} after restart = %v (present %v), want 0", v, ok)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func TestDaemonBasicAuth(t *testing.T) {
	srv, _, _ := newTargetServer(t)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hashing password: %v", err)
	}
	webConfig := writeFile(t, dir, "web.yml", fmt.Sprintf("basic_auth_users:\n  admin: %s\n", hash))
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`
companies:
  - name: acme
    endpoints:
      - name: ok
        url: %s/ok
        interval: 1h
`, srv.URL))
	d := startDaemon(t, config, dir+"/data", "--web.config.file="+webConfig)

	paths := []string{"/metrics", "/api/v1/status", "/api/v1/endpoints/acme/ok", "/"}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			if code, _ := d.getWithAuth(path, "", ""); code != http.StatusUnauthorized {
				t.Errorf("without credentials: status %d, want 401", code)
			}
			if code, _ := d.getWithAuth(path, "admin", "wrong"); code != http.StatusUnauthorized {
				t.Errorf("with a wrong password: status %d, want 401", code)
			}
			if code, _ := d.getWithAuth(path, "admin", "s3cret-pass"); code != http.StatusOK {
				t.Errorf("with the right password: status %d, want 200", code)
			}
		})
	}
}

func TestDaemonNeverPrintsSecrets(t *testing.T) {
	srv, _, _ := newTargetServer(t)
	dir := t.TempDir()
	// Each marker is a secret in the configuration. None may appear in any
	// output, whichever way the probe fails.
	markers := []string{"tok-ABC123", "pw-in-url", "q-456"}
	refused := closedPort(t)
	target := strings.TrimPrefix(srv.URL, "http://")
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`
global:
  interval: 2s
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key: tok-ABC123
    endpoints:
      - name: refused
        url: http://user:pw-in-url@%[1]s/x?token=q-456
      - name: unauthorized
        url: http://user:pw-in-url@%[2]s/unauthorized?token=q-456
      - name: timeout
        url: http://user:pw-in-url@%[2]s/hang?token=q-456
        timeout: 1s
`, refused, target))

	d := startDaemon(t, config, dir+"/data", "--log.level=debug")
	statuses := d.waitForStates(
		map[string]string{"refused": "down", "unauthorized": "down", "timeout": "down"},
		time.Now().Add(10*time.Second))
	wantReasons := map[string]string{"refused": "connect", "unauthorized": "status", "timeout": "timeout"}
	for name, reason := range wantReasons {
		if got := statuses[name].LastReason; got != reason {
			t.Errorf("%s: last_reason = %q, want %q", name, got, reason)
		}
	}
	// The status API shows the URL, redacted.
	wantURL := fmt.Sprintf("http://user:xxxxx@%s/unauthorized?token=xxxxx", target)
	if got := statuses["unauthorized"].URL; got != wantURL {
		t.Errorf("url = %q, want %q", got, wantURL)
	}

	outputs := map[string]string{}
	for _, path := range []string{
		"/", "/metrics", "/api/v1/status",
		"/api/v1/endpoints/acme/refused",
		"/api/v1/endpoints/acme/unauthorized",
		"/api/v1/endpoints/acme/timeout",
	} {
		code, body := d.get(path)
		if code != http.StatusOK {
			t.Errorf("GET %s: status %d", path, code)
		}
		outputs["GET "+path] = body
	}
	d.signal(syscall.SIGTERM)
	if code := d.wait(5 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	outputs["stdout"] = d.stdout.String()
	outputs["stderr"] = d.stderr.String()
	if !strings.Contains(outputs["stderr"], "Probe finished") {
		t.Errorf("stderr has no debug log of probes, so the check below proves little:\n%s", outputs["stderr"])
	}

	for where, text := range outputs {
		for _, marker := range markers {
			if strings.Contains(text, marker) {
				t.Errorf("%s contains the secret %q:\n%s", where, marker, text)
			}
		}
	}
}
