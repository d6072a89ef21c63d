package main

// The alerting harness: real Alertmanagers (Debian's prometheus-alertmanager)
// behind recording proxies, a real SMTP sink (mailpit, built from
// tools/go.mod), a fake PagerDuty Events API v2 and an HTTP target whose
// endpoints the test switches between healthy and failing. Every process and
// server it starts is stopped by the test's cleanup, also on failure.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Timing of the alerting tests. Alertmanager groups and repeats are short so
// that a notification follows an alert within about a second.
const (
	// resendInterval is apiwatch's alerting.resend_interval in the tests.
	resendInterval = 2 * time.Second
	// leaseFactor times resendInterval is the endsAt lease of a firing
	// alert, the factor alerting.leaseFactor sets.
	leaseFactor = 4
	// notifyTimeout bounds each wait for an alert, an email or a PagerDuty
	// event, which normally arrive within 3 seconds.
	notifyTimeout = 15 * time.Second
	// pollInterval is how often the tests poll the status of processes that
	// offer no push signal: apiwatch, Alertmanager and mailpit.
	pollInterval = 100 * time.Millisecond
)

// repoRoot is the repository's top directory, relative to this package.
var repoRoot = filepath.Join("..", "..")

// lookPathOrFail returns the path of an installed command, or fails the test
// with how to install it.
func lookPathOrFail(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's prometheus-alertmanager package "+
			"(make test-deps does it when run as root): %v", name, err)
	}
	return path
}

var mailpitBuild struct {
	once sync.Once
	path string
	err  error
}

// mailpitBinary returns the mailpit binary: $APIWATCH_MAILPIT if set, which
// `make test` sets to the copy `make test-deps` built, or else bin/mailpit,
// built here from the version tools/go.mod pins. `go build` skips the link
// when bin/mailpit is already up to date, so only the first build is slow
// (about a minute with an empty build cache).
func mailpitBinary(t *testing.T) string {
	t.Helper()
	mailpitBuild.once.Do(func() {
		if p := os.Getenv("APIWATCH_MAILPIT"); p != "" {
			mailpitBuild.path = p
			return
		}
		root, err := filepath.Abs(repoRoot)
		if err != nil {
			mailpitBuild.err = err
			return
		}
		mailpitBuild.path = filepath.Join(root, "bin", "mailpit")
		build := exec.Command("go", "build", "-o", mailpitBuild.path, "github.com/axllent/mailpit")
		build.Dir = filepath.Join(root, "tools")
		if out, err := build.CombinedOutput(); err != nil {
			mailpitBuild.err = fmt.Errorf("building mailpit from tools/go.mod: %w\n%s", err, out)
		}
	})
	if mailpitBuild.err != nil {
		t.Fatal(mailpitBuild.err)
	}
	return mailpitBuild.path
}

// poll calls check every pollInterval until it returns true, and reports
// whether that happened within timeout. Polling is how the tests wait for
// other processes, which offer no signal to wait on.
func poll(timeout time.Duration, check func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// getJSON fetches url and decodes the JSON response into out. It returns an
// error for a non-200 status.
func getJSON(url string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding GET %s: %w\n%s", url, err, body)
	}
	return nil
}

// eventLog collects what an in-process fake receives, and wakes the tests
// that wait for it.
type eventLog[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every add
}

func newEventLog[T any]() *eventLog[T] {
	return &eventLog[T]{changed: make(chan struct{})}
}

func (l *eventLog[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.items)
}

// waitFor waits until match returns true for the items received so far and
// returns them, or returns them and false after timeout.
func (l *eventLog[T]) waitFor(timeout time.Duration, match func([]T) bool) ([]T, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		items := slices.Clone(l.items)
		changed := l.changed
		l.mu.Unlock()
		if match(items) {
			return items, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return items, false
		}
	}
}

// externalProcess is a running Alertmanager or mailpit.
type externalProcess struct {
	name   string
	cmd    *exec.Cmd
	output *outputBuffer
	exited chan struct{} // closed when the process has exited
}

// startExternal runs a command whose standard output and error go to one
// buffer. The test's cleanup kills it if it is still running.
func startExternal(t *testing.T, name, path string, args ...string) *externalProcess {
	t.Helper()
	p := &externalProcess{
		name:   name,
		cmd:    exec.Command(path, args...),
		output: newOutputBuffer(),
		exited: make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output)
		}
	})
	return p
}

func (p *externalProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *externalProcess) kill() {
	if p.running() {
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// stop sends SIGTERM and waits for the exit, killing the process after 10s.
func (p *externalProcess) stop(t *testing.T) {
	t.Helper()
	if !p.running() {
		t.Fatalf("%s exited before the test stopped it:\n%s", p.name, p.output)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s still running 10s after SIGTERM; killing it", p.name)
		p.kill()
	}
}

// waitReady polls url until it responds with 200, and fails the test if the
// process exits first or the timeout passes.
func (p *externalProcess) waitReady(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	ok := poll(timeout, func() bool {
		if !p.running() {
			return true
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !p.running() {
		t.Fatalf("%s exited during start-up:\n%s", p.name, p.output)
	}
	if !ok {
		t.Fatalf("%s not ready at %s after %v:\n%s", p.name, url, timeout, p.output)
	}
}

// amAlert is an alert as Alertmanager's v2 API carries it: posted to
// /api/v2/alerts, or listed by GET /api/v2/alerts, which adds the status and
// the receivers.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

func (a amAlert) isFor(company, endpoint string) bool {
	return a.Labels["company"] == company && a.Labels["endpoint"] == endpoint
}

// alertPost is one POST /api/v2/alerts that a recording proxy forwarded.
type alertPost struct {
	received time.Time
	// status is Alertmanager's response status, 0 if it was unreachable.
	status int
	alerts []amAlert
	// undecodable is the body if it was not a JSON list of alerts.
	undecodable string
}

// recordingProxy forwards HTTP requests to one Alertmanager and records the
// alerts posted through it. It listens on a fixed loopback address and is
// stopped and started with its Alertmanager, so that apiwatch finds a
// stopped Alertmanager refusing connections, as a real one would.
type recordingProxy struct {
	t     *testing.T
	addr  string
	proxy *httputil.ReverseProxy
	posts *eventLog[alertPost]

	mu     sync.Mutex
	server *http.Server
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parsing %s: %v", target, err)
	}
	p := &recordingProxy{
		t:     t,
		addr:  closedPort(t),
		proxy: httputil.NewSingleHostReverseProxy(u),
		posts: newEventLog[alertPost](),
	}
	t.Cleanup(p.stop)
	return p
}

func (p *recordingProxy) url() string { return "http://" + p.addr }

func (p *recordingProxy) start() {
	p.t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listening on %s for the Alertmanager proxy: %v", p.addr, err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	p.mu.Lock()
	p.server = srv
	p.mu.Unlock()
	go srv.Serve(l)
}

// stop closes the listener and every open connection.
func (p *recordingProxy) stop() {
	p.mu.Lock()
	srv := p.server
	p.server = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
		p.proxy.ServeHTTP(w, r)
		return
	}
	received := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w}
	p.proxy.ServeHTTP(rec, r)
	post := alertPost{received: received, status: rec.status}
	if rec.status == http.StatusBadGateway {
		post.status = 0
	}
	if err := json.Unmarshal(body, &post.alerts); err != nil {
		post.undecodable = string(body)
	}
	p.posts.add(post)
}

// statusRecorder notes the status code a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// postedAlert is one alert in a recorded POST.
type postedAlert struct {
	amAlert
	received time.Time
	status   int
}

// postedAlerts returns every posting of the endpoint's alert, oldest first.
func postedAlerts(posts []alertPost, company, endpoint string) []postedAlert {
	var out []postedAlert
	for _, p := range posts {
		for _, a := range p.alerts {
			if a.isFor(company, endpoint) {
				out = append(out, postedAlert{amAlert: a, received: p.received, status: p.status})
			}
		}
	}
	return out
}

// waitForPost waits until Alertmanager has accepted a posting of the
// endpoint's alert for which match returns true, and returns the first one.
func (p *recordingProxy) waitForPost(company, endpoint string, match func(postedAlert) bool) postedAlert {
	p.t.Helper()
	var found postedAlert
	posts, ok := p.posts.waitFor(notifyTimeout, func(posts []alertPost) bool {
		for _, a := range postedAlerts(posts, company, endpoint) {
			if a.status == http.StatusOK && match(a) {
				found = a
				return true
			}
		}
		return false
	})
	if !ok {
		var undecodable []string
		for _, post := range posts {
			if post.undecodable != "" {
				undecodable = append(undecodable, post.undecodable)
			}
		}
		p.t.Fatalf("no matching alert for %s/%s accepted through %s within %v; postings:\n%sundecodable bodies: %q",
			company, endpoint, p.url(), notifyTimeout, describePostings(postedAlerts(posts, company, endpoint)), undecodable)
	}
	return found
}

func describePostings(alerts []postedAlert) string {
	var b strings.Builder
	for _, a := range alerts {
		fmt.Fprintf(&b, "  %s status %d: startsAt %s endsAt %s\n", a.received.Format(time.StampMilli),
			a.status, a.StartsAt.Format(time.StampMilli), a.EndsAt.Format(time.StampMilli))
	}
	return b.String()
}

// alertmanager is a real Alertmanager on a loopback port, behind a recording
// proxy that apiwatch sends to.
type alertmanager struct {
	t          *testing.T
	addr       string
	configFile string
	storage    string
	proc       *externalProcess
	proxy      *recordingProxy
}

// newAlertmanager prepares an Alertmanager on a free port with its own
// storage. start runs it.
func newAlertmanager(t *testing.T) *alertmanager {
	t.Helper()
	am := &alertmanager{t: t, addr: closedPort(t), storage: t.TempDir()}
	am.proxy = newRecordingProxy(t, "http://"+am.addr)
	return am
}

// start runs Alertmanager on its port and storage, waits until it is ready
// and then opens the proxy. Clustering is off, so two Alertmanagers in one
// test do not gossip.
func (am *alertmanager) start() {
	am.t.Helper()
	am.proc = startExternal(am.t, "alertmanager "+am.addr, lookPathOrFail(am.t, "prometheus-alertmanager"),
		"--config.file="+am.configFile,
		"--storage.path="+am.storage,
		"--web.listen-address="+am.addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	am.proc.waitReady(am.t, "http://"+am.addr+"/-/ready", 20*time.Second)
	am.proxy.start()
}

// stop closes the proxy and stops Alertmanager.
func (am *alertmanager) stop() {
	am.t.Helper()
	am.proxy.stop()
	am.proc.stop(am.t)
}

// url is the address apiwatch sends alerts to: the proxy's.
func (am *alertmanager) url() string { return am.proxy.url() }

// activeAlerts returns the active alerts of the endpoint that Alertmanager
// lists. Alertmanager never lists a resolved alert.
func (am *alertmanager) activeAlerts(company, endpoint string) []amAlert {
	am.t.Helper()
	q := url.Values{"active": {"true"}, "filter": {
		fmt.Sprintf("company=%q", company), fmt.Sprintf("endpoint=%q", endpoint)}}
	var alerts []amAlert
	if err := getJSON("http://"+am.addr+"/api/v2/alerts?"+q.Encode(), &alerts); err != nil {
		am.t.Fatalf("listing Alertmanager alerts: %v", err)
	}
	return alerts
}

// waitForActiveAlert waits until Alertmanager lists an active alert for the
// endpoint and returns it.
func (am *alertmanager) waitForActiveAlert(company, endpoint string) amAlert {
	am.t.Helper()
	var alerts []amAlert
	if !poll(notifyTimeout, func() bool {
		alerts = am.activeAlerts(company, endpoint)
		return len(alerts) > 0
	}) {
		am.t.Fatalf("Alertmanager %s lists no active alert for %s/%s after %v", am.addr, company, endpoint, notifyTimeout)
	}
	if len(alerts) != 1 {
		am.t.Errorf("Alertmanager lists %d active alerts for %s/%s, want 1: %+v", len(alerts), company, endpoint, alerts)
	}
	return alerts[0]
}

// waitForNoActiveAlert waits until Alertmanager lists no active alert for
// the endpoint.
func (am *alertmanager) waitForNoActiveAlert(company, endpoint string) {
	am.t.Helper()
	var alerts []amAlert
	if !poll(notifyTimeout, func() bool {
		alerts = am.activeAlerts(company, endpoint)
		return len(alerts) == 0
	}) {
		am.t.Fatalf("Alertmanager %s still lists active alerts for %s/%s after %v: %+v",
			am.addr, company, endpoint, notifyTimeout, alerts)
	}
}

// mailpit is a real SMTP sink whose messages the tests read through its
// HTTP API.
type mailpit struct {
	t        *testing.T
	smtpAddr string
	apiURL   string
	proc     *externalProcess
}

// startMailpit runs mailpit on two free loopback ports. It accepts any SMTP
// authentication without TLS, and its version check, the only call it makes
// to the internet, is off.
func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	m := &mailpit{t: t, smtpAddr: closedPort(t)}
	httpAddr := closedPort(t)
	m.apiURL = "http://" + httpAddr
	m.proc = startExternal(t, "mailpit", bin,
		"--listen", httpAddr,
		"--smtp", m.smtpAddr,
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check",
		"--smtp-auth-accept-any",
		"--smtp-auth-allow-insecure",
	)
	m.proc.waitReady(t, m.apiURL+"/readyz", 20*time.Second)
	return m
}

// mailSummary is a message in mailpit's message lists.
type mailSummary struct {
	ID      string
	To      []mailAddress
	Subject string
}

type mailAddress struct {
	Name    string
	Address string
}

// mailMessage is one message with its bodies.
type mailMessage struct {
	ID      string
	From    mailAddress
	To      []mailAddress
	Subject string
	Text    string
	HTML    string
}

// messagesTo returns the messages addressed to addr, newest first.
func (m *mailpit) messagesTo(addr string) []mailSummary {
	m.t.Helper()
	var list struct {
		Messages []mailSummary `json:"messages"`
	}
	q := url.Values{"query": {"to:" + addr}}
	if err := getJSON(m.apiURL+"/api/v1/search?"+q.Encode(), &list); err != nil {
		m.t.Fatalf("searching mailpit: %v", err)
	}
	// The search matches substrings; keep exact recipients only.
	var out []mailSummary
	for _, msg := range list.Messages {
		if slices.ContainsFunc(msg.To, func(a mailAddress) bool { return a.Address == addr }) {
			out = append(out, msg)
		}
	}
	return out
}

// waitForMail waits for a message to addr whose subject starts with prefix
// and returns it with its bodies.
func (m *mailpit) waitForMail(addr, prefix string) mailMessage {
	m.t.Helper()
	var id string
	var seen []mailSummary
	if !poll(notifyTimeout, func() bool {
		seen = m.messagesTo(addr)
		for _, msg := range seen {
			if strings.HasPrefix(msg.Subject, prefix) {
				id = msg.ID
				return true
			}
		}
		return false
	}) {
		m.t.Fatalf("no mail to %s with a subject starting %q within %v; subjects: %q",
			addr, prefix, notifyTimeout, subjects(seen))
	}
	var msg mailMessage
	if err := getJSON(m.apiURL+"/api/v1/message/"+id, &msg); err != nil {
		m.t.Fatalf("reading mail %s: %v", id, err)
	}
	return msg
}

func subjects(msgs []mailSummary) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Subject
	}
	return out
}

// pagerDutyEvent is an Events API v2 event, the fields PagerDuty reads.
type pagerDutyEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

// fakePagerDuty is PagerDuty's Events API v2 on loopback. It accepts an
// event that PagerDuty would accept with 202, as PagerDuty does, and rejects
// any other with 400 and a problem that fails the test at cleanup.
type fakePagerDuty struct {
	srv      *httptest.Server
	events   *eventLog[pagerDutyEvent]
	problems *eventLog[string]
}

func startFakePagerDuty(t *testing.T) *fakePagerDuty {
	t.Helper()
	pd := &fakePagerDuty{events: newEventLog[pagerDutyEvent](), problems: newEventLog[string]()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/enqueue", pd.enqueue)
	pd.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		pd.srv.Close()
		for _, p := range pd.problems.all() {
			t.Errorf("fake PagerDuty rejected an event: %s", p)
		}
	})
	return pd
}

// enqueueURL is what Alertmanager's global.pagerduty_url is set to.
func (pd *fakePagerDuty) enqueueURL() string { return pd.srv.URL + "/v2/enqueue" }

func (pd *fakePagerDuty) enqueue(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev pagerDutyEvent
	var problems []string
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		problems = append(problems, "invalid JSON: "+err.Error())
	} else {
		problems = append(problems, validatePagerDutyEvent(ev)...)
	}
	w.Header().Set("Content-Type", "application/json")
	if len(problems) > 0 {
		pd.problems.add(fmt.Sprintf("%s in %s", strings.Join(problems, "; "), body))
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{
			"status": "invalid event", "message": "Event object is invalid", "errors": problems})
		return
	}
	pd.events.add(ev)
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{
		"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// validatePagerDutyEvent applies the rules of PagerDuty's Events API v2. An
// event needs a 32-character routing key, a known action and a dedup key of
// at most 255 characters, which resolve requires. A trigger also needs a
// payload with a summary of at most 1024 characters, a source and a known
// severity.
func validatePagerDutyEvent(ev pagerDutyEvent) []string {
	var problems []string
	if len(ev.RoutingKey) != 32 {
		problems = append(problems, fmt.Sprintf("routing_key has %d characters, want 32", len(ev.RoutingKey)))
	}
	if !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, ev.EventAction) {
		problems = append(problems, fmt.Sprintf("unknown event_action %q", ev.EventAction))
	}
	if len(ev.DedupKey) > 255 {
		problems = append(problems, "dedup_key longer than 255 characters")
	}
	if ev.EventAction != "trigger" {
		if ev.DedupKey == "" {
			problems = append(problems, "missing dedup_key for "+ev.EventAction)
		}
		return problems
	}
	switch p := ev.Payload; {
	case p == nil:
		problems = append(problems, "missing payload")
	default:
		if p.Summary == "" || len(p.Summary) > 1024 {
			problems = append(problems, fmt.Sprintf("payload.summary has %d characters, want 1 to 1024", len(p.Summary)))
		}
		if p.Source == "" {
			problems = append(problems, "missing payload.source")
		}
		if !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
			problems = append(problems, fmt.Sprintf("invalid payload.severity %q", p.Severity))
		}
	}
	return problems
}

// eventsFor returns the events sent with routingKey.
func eventsFor(events []pagerDutyEvent, routingKey string) []pagerDutyEvent {
	var out []pagerDutyEvent
	for _, ev := range events {
		if ev.RoutingKey == routingKey {
			out = append(out, ev)
		}
	}
	return out
}

// waitForEvent waits for an event with routingKey and action, and returns it.
func (pd *fakePagerDuty) waitForEvent(t *testing.T, routingKey, action string) pagerDutyEvent {
	t.Helper()
	var found pagerDutyEvent
	events, ok := pd.events.waitFor(notifyTimeout, func(events []pagerDutyEvent) bool {
		for _, ev := range eventsFor(events, routingKey) {
			if ev.EventAction == action {
				found = ev
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no %s event for routing key %s within %v; events for it: %+v",
			action, routingKey, notifyTimeout, eventsFor(events, routingKey))
	}
	return found
}

// switchTarget is a loopback HTTP server whose paths respond with 200 until
// the test marks them down, and then with 503.
type switchTarget struct {
	srv  *httptest.Server
	mu   sync.Mutex
	down map[string]bool
}

func startSwitchTarget(t *testing.T) *switchTarget {
	t.Helper()
	s := &switchTarget{down: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down[r.URL.Path]
		s.mu.Unlock()
		if down {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *switchTarget) setDown(path string, down bool) {
	s.mu.Lock()
	s.down[path] = down
	s.mu.Unlock()
}

// alertingStack is apiwatch with its whole alerting chain: Alertmanagers
// behind recording proxies, mailpit and a fake PagerDuty, and a target that
// the test switches.
type alertingStack struct {
	t             *testing.T
	dir           string
	storage       string
	target        *switchTarget
	mail          *mailpit
	pagerDuty     *fakePagerDuty
	alertmanagers []*alertmanager
}

// externalURL is apiwatch's --web.external-url in the tests, the base of the
// alerts' generator URLs.
const externalURL = "http://apiwatch.test:9850/"

// newAlertingStack starts the target, mailpit and the fake PagerDuty, and
// prepares (but does not start) the given number of Alertmanagers.
func newAlertingStack(t *testing.T, alertmanagers int) *alertingStack {
	t.Helper()
	s := &alertingStack{
		t:         t,
		dir:       t.TempDir(),
		target:    startSwitchTarget(t),
		mail:      startMailpit(t),
		pagerDuty: startFakePagerDuty(t),
	}
	s.storage = filepath.Join(s.dir, "data")
	for range alertmanagers {
		s.alertmanagers = append(s.alertmanagers, newAlertmanager(t))
	}
	writeFile(t, s.dir, "alertmanager-template.yml", fmt.Sprintf(`
global:
  smtp_smarthost: %s
  smtp_from: apiwatch@alerts.test
  smtp_require_tls: false
  pagerduty_url: %s
`, s.mail.smtpAddr, s.pagerDuty.enqueueURL()))
	return s
}

// writeConfig writes an apiwatch configuration with the given companies
// block, probing every second and sending to every Alertmanager of the
// stack, and returns its path. In companies, %[1]s stands for the target's
// base URL.
func (s *alertingStack) writeConfig(name, companies string) string {
	s.t.Helper()
	var ams strings.Builder
	for _, am := range s.alertmanagers {
		fmt.Fprintf(&ams, "    - url: %s\n      timeout: 2s\n", am.url())
	}
	return writeFile(s.t, s.dir, name, fmt.Sprintf(`
global:
  interval: 1s
  timeout: 500ms
alerting:
  alertmanagers:
%s  resend_interval: %s
  routing:
    template_file: alertmanager-template.yml
    group_wait: 1s
    group_interval: 1s
    repeat_interval: 1h
`, ams.String(), resendInterval)+fmt.Sprintf(companies, s.target.srv.URL))
}

// startAlertmanagers renders the Alertmanager configuration from the apiwatch
// configuration with `apiwatch alertmanager-config` and starts every
// Alertmanager with it.
func (s *alertingStack) startAlertmanagers(config string) {
	s.t.Helper()
	out := filepath.Join(s.dir, "alertmanager.yml")
	code, _, stderr := runProcess(s.t, "alertmanager-config", "--config.file="+config, "-o", out)
	if code != 0 {
		s.t.Fatalf("apiwatch alertmanager-config exited with %d:\n%s", code, stderr)
	}
	for _, am := range s.alertmanagers {
		am.configFile = out
		am.start()
	}
}

// startDaemon starts apiwatch on config with the stack's storage.
func (s *alertingStack) startDaemon(config string) *runningDaemon {
	s.t.Helper()
	return startDaemon(s.t, config, s.storage, "--web.external-url="+externalURL)
}

// start writes the configuration, starts the Alertmanagers and apiwatch.
func (s *alertingStack) start(companies string) (*runningDaemon, string) {
	s.t.Helper()
	config := s.writeConfig("apiwatch.yml", companies)
	s.startAlertmanagers(config)
	return s.startDaemon(config), config
}

// since returns the endpoint's since time from apiwatch's status API.
func since(t *testing.T, st endpointStatus) time.Time {
	t.Helper()
	if st.Since == nil {
		t.Fatalf("%s/%s has no since time", st.Company, st.Endpoint)
	}
	v, err := time.Parse(time.RFC3339Nano, *st.Since)
	if err != nil {
		t.Fatalf("parsing since %q: %v", *st.Since, err)
	}
	return v
}

// wireTime is t as Alertmanager's API carries it: go-openapi's DateTime
// encodes milliseconds and cuts off finer digits.
func wireTime(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// metricSeries returns the values of a metric family in a /metrics body, by
// the value of one label.
func metricSeries(t *testing.T, body, name, label string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return out
}
