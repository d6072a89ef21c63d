package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/storage"
)

// fakeStatuses is a StatusSource whose statuses the test sets.
type fakeStatuses struct {
	mu       sync.Mutex
	statuses map[collector.Key]collector.Status
}

func newFakeStatuses() *fakeStatuses {
	return &fakeStatuses{statuses: map[collector.Key]collector.Status{}}
}

func (f *fakeStatuses) Status(key collector.Key) (collector.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.statuses[key]
	return st, ok
}

func (f *fakeStatuses) set(key collector.Key, st collector.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses[key] = st
}

// down returns the status of an endpoint that went down at since and was
// last probed at lastCheck, failing with a 500.
func down(since, lastCheck time.Time) collector.Status {
	return collector.Status{
		State: collector.StateDown, Since: since, LastCheck: lastCheck, LastFailure: lastCheck,
		LastStatusCode: 500, FailureReason: collector.ReasonStatus, FailureMessage: "status 500",
		ConsecutiveFailures: 1,
	}
}

// up returns the status of an endpoint that came back at since and was last
// probed at lastCheck.
func up(since, lastCheck time.Time) collector.Status {
	return collector.Status{
		State: collector.StateUp, Since: since, LastCheck: lastCheck, LastSuccess: lastCheck,
		LastStatusCode: 200, ConsecutiveSuccesses: 1,
	}
}

// slowMessage is the degraded message of degraded().
const slowMessage = "took 1.2s, expected at most 800ms (max_duration)"

// degraded returns the status of an endpoint that turned degraded at since,
// responding slowly, and was last probed at lastCheck.
func degraded(since, lastCheck time.Time) collector.Status {
	return collector.Status{
		State: collector.StateDegraded, Since: since, LastCheck: lastCheck, LastSuccess: lastCheck,
		LastStatusCode: 200, LastReason: collector.ReasonSlow, LastError: slowMessage,
		DegradedReason: collector.ReasonSlow, DegradedMessage: slowMessage,
		ConsecutiveSuccesses: 1, ConsecutiveDegraded: 1,
	}
}

// post is one request that a fake Alertmanager received.
type post struct {
	at     time.Time
	path   string
	header http.Header
	alerts models.PostableAlerts
}

// amBehaviour is how a fake Alertmanager answers.
type amBehaviour int

const (
	amOK amBehaviour = iota
	amFail500
	amReject400
	amRefuse
	amHang
)

// fakeAM is an http.RoundTripper that plays an Alertmanager in memory, so
// that it works inside a synctest bubble. It records every request it
// accepts with 200, and counts the others.
type fakeAM struct {
	t *testing.T

	mu        sync.Mutex
	behaviour amBehaviour
	posts     []post
	failures  int
}

func newFakeAM(t *testing.T) *fakeAM { return &fakeAM{t: t} }

func (f *fakeAM) set(b amBehaviour) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.behaviour = b
}

func (f *fakeAM) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	b := f.behaviour
	if b != amOK {
		f.failures++
	}
	f.mu.Unlock()
	switch b {
	case amFail500:
		return response(req, http.StatusInternalServerError, "internal error"), nil
	case amReject400:
		return response(req, http.StatusBadRequest, `{"code":400,"message":"startsAt must be before endsAt"}`), nil
	case amRefuse:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	case amHang:
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	var alerts models.PostableAlerts
	if err := json.Unmarshal(body, &alerts); err != nil {
		f.t.Errorf("decoding the posted alerts: %v\n%s", err, body)
	}
	if err := alerts.Validate(strfmt.Default); err != nil {
		f.t.Errorf("posted alerts are not valid Alertmanager v2 alerts: %v\n%s", err, body)
	}
	f.mu.Lock()
	f.posts = append(f.posts, post{at: time.Now(), path: req.URL.Path, header: req.Header.Clone(), alerts: alerts})
	f.mu.Unlock()
	return response(req, http.StatusOK, ""), nil
}

func response(req *http.Request, code int, body string) *http.Response {
	return &http.Response{
		StatusCode: code,
		Status:     http.StatusText(code),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
}

// received returns the accepted posts so far.
func (f *fakeAM) received() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.posts...)
}

func (f *fakeAM) failureCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

// alertmanager returns an Alertmanager that f plays, named name.
func (f *fakeAM) alertmanager(name string) Alertmanager {
	return Alertmanager{
		URL:     &url.URL{Scheme: "http", Host: name},
		Name:    "http://" + name,
		Client:  &http.Client{Transport: f},
		Timeout: 10 * time.Second,
	}
}

// sentAlert is one alert in one post.
type sentAlert struct {
	at time.Time
	a  *models.PostableAlert
}

// alertsOf flattens posts into their alerts, in order.
func alertsOf(posts []post) []sentAlert {
	var out []sentAlert
	for _, p := range posts {
		for _, a := range p.alerts {
			out = append(out, sentAlert{at: p.at, a: a})
		}
	}
	return out
}

// syncBuffer is a log destination that tests read while loops write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Notifier under test with its dependencies.
type harness struct {
	t        *testing.T
	n        *Notifier
	statuses *fakeStatuses
	reg      *prometheus.Registry
	logs     *syncBuffer
	db       *storage.DB
	dir      string
	cancel   context.CancelFunc
	done     chan struct{}
}

// newHarness returns a Notifier with a database in dir (a new temporary
// directory if dir is ""), the given statuses (new ones if nil) and opts.
func newHarness(t *testing.T, dir string, statuses *fakeStatuses, opts Options) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if statuses == nil {
		statuses = newFakeStatuses()
	}
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, statuses: statuses, reg: prometheus.NewRegistry(), logs: &syncBuffer{}, db: db, dir: dir}
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Registerer = h.reg
	opts.DB = db
	opts.Statuses = statuses
	h.n, err = New(opts)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	return h
}

// start runs the Notifier until stop.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.n.Run(ctx)
	}()
}

// stop ends Run, waits for it and closes the database. It may be called
// more than once.
func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
	if h.db != nil {
		if err := h.db.Close(); err != nil {
			h.t.Errorf("closing the database: %v", err)
		}
		h.db = nil
	}
}

// transition sets the endpoint's status and reports the change.
func (h *harness) transition(key collector.Key, st collector.Status) {
	h.statuses.set(key, st)
	h.n.HandleTransition(collector.Transition{Key: key, To: st.State, At: st.Since})
}

// savedAlerts returns the alerts in the database by storage key.
func savedAlerts(t *testing.T, db *storage.DB) map[string]alert {
	t.Helper()
	out := map[string]alert{}
	err := db.ForEach(alertBucket, func(k, v []byte) error {
		var a alert
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		out[string(k)] = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// counter returns the value of a per-Alertmanager counter.
func counter(t *testing.T, vec *prometheus.CounterVec, am string) float64 {
	t.Helper()
	return testutil.ToFloat64(vec.WithLabelValues(am))
}

// policy returns a plain policy for an endpoint.
func policy(windows ...Window) *EndpointPolicy {
	return &EndpointPolicy{
		Labels:      map[string]string{"team": "payments"},
		Severity:    "critical",
		URL:         "https://api.example.com/health",
		RunbookURL:  "https://wiki.example.com/runbooks/api",
		Maintenance: windows,
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// equalLabels reports whether two label sets are equal.
func equalLabels(a, b models.LabelSet) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
