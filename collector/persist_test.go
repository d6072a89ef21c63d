package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/apiwatch/apiwatch/storage"
)

// readSavedStatuses returns the statuses stored in db.
func readSavedStatuses(t *testing.T, db *storage.DB) map[Key]Status {
	t.Helper()
	out := map[Key]Status{}
	err := db.ForEach(statusBucket, func(k, v []byte) error {
		key, ok := parseStorageKey(string(k))
		if !ok {
			return fmt.Errorf("invalid key %q", k)
		}
		var s Status
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		out[key] = s
		return nil
	})
	if err != nil {
		t.Fatalf("reading saved statuses: %v", err)
	}
	return out
}

// checkSameStatus fails unless got and want are equal, times compared with
// Equal.
func checkSameStatus(t *testing.T, got, want Status) {
	t.Helper()
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"Since", got.Since, want.Since},
		{"LastCheck", got.LastCheck, want.LastCheck},
		{"LastSuccess", got.LastSuccess, want.LastSuccess},
		{"LastFailure", got.LastFailure, want.LastFailure},
	}
	for _, f := range times {
		if !f.got.Equal(f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	got.Since, got.LastCheck, got.LastSuccess, got.LastFailure = want.Since, want.LastCheck, want.LastSuccess, want.LastFailure
	if got != want {
		t.Errorf("status = %+v, want %+v", got, want)
	}
}

// logRecorder is a slog.Handler that keeps records for inspection.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}

// warnings returns the warnings logged, each as its message followed by its
// attributes as key=value.
func (h *logRecorder) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Level != slog.LevelWarn {
			continue
		}
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		out = append(out, b.String())
	}
	return out
}

// restartMetrics are the series a restored status exports before its first
// probe.
var restartMetrics = []string{
	"probe_up",
	"probe_state_change_timestamp_seconds",
	"probe_last_check_timestamp_seconds",
	"probe_last_success_timestamp_seconds",
	"probe_last_failure_timestamp_seconds",
	"apiwatch_endpoints",
}

func TestManagerRestartKeepsDownStatus(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer server.Close()
	cfg := loadYAMLConfig(t, fmt.Sprintf(`
companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/health
        interval: 1s
        failure_threshold: 1
`, server.URL))
	key := Key{"acme", "api"}
	dir := t.TempDir()

	// First run: wait for the endpoint to go down, then shut down cleanly.
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	down := make(chan Transition, 1)
	m1, reg1 := newTestManager(t, Options{
		Prober:       NewHTTPProber(HTTPProberOptions{}),
		DB:           db,
		SaveInterval: time.Hour,
		OnTransition: func(tr Transition) { down <- tr },
	})
	m1.ApplyConfig(cfg)
	stop := startManager(m1)
	select {
	case tr := <-down:
		if tr.To != StateDown || tr.Result.StatusCode != 503 || tr.Result.Reason != ReasonStatus {
			t.Fatalf("transition to %s after %d %s, want down after 503 status", tr.To, tr.Result.StatusCode, tr.Result.Reason)
		}
	case <-time.After(5 * time.Second):
		stop()
		t.Fatalf("acme/api did not go down within 5s")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	before, _, _ := m1.Endpoint(key)
	beforeMetrics, err := testutil.GatherAndFormat(reg1, expfmt.TypeTextPlain, restartMetrics...)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Second run on the same directory, before any probe.
	db, err = storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m2, reg2 := newTestManager(t, Options{Prober: NewHTTPProber(HTTPProberOptions{}), DB: db})
	m2.ApplyConfig(cfg)
	after, checks, err := m2.Endpoint(key)
	if err != nil {
		t.Fatal(err)
	}
	if after.State != StateDown || after.ConsecutiveFailures < 1 || after.LastStatusCode != 503 {
		t.Errorf("restored %s with %d failures and status %d, want down after 503s",
			after.State, after.ConsecutiveFailures, after.LastStatusCode)
	}
	checkSameStatus(t, after.Status, before.Status)
	if len(checks) != 0 {
		t.Errorf("restored endpoint has %d checks in its history, want none before a probe", len(checks))
	}
	if err := testutil.GatherAndCompare(reg2, bytes.NewReader(beforeMetrics), restartMetrics...); err != nil {
		t.Errorf("metrics after the restart differ from before it:\n%v", err)
	}
	upDown := `
# HELP probe_up Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict.
# TYPE probe_up gauge
probe_up{company="acme",endpoint="api"} 0
`
	if err := testutil.GatherAndCompare(reg2, strings.NewReader(upDown), "probe_up"); err != nil {
		t.Errorf("probe_up after the restart:\n%v", err)
	}
	if n, err := testutil.GatherAndCount(reg2, "probe_success", "probe_duration_seconds"); err != nil || n != 0 {
		t.Errorf("last-probe series before a probe: %d (err %v), want none", n, err)
	}
}

func TestManagerTransitionSavedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		key := Key{"acme", "api"}
		dir := t.TempDir()
		db, err := storage.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		prober := newFakeProber(func(_ context.Context, _ *Target, n int) Result {
			return sleepResult(100*time.Millisecond, n == 0)
		})
		m, _ := newTestManager(t, Options{Prober: prober, DB: db, SaveInterval: time.Hour})
		m.ApplyConfig(singleEndpointConfig("acme", "api", interval, 2, 1))
		first := newIntervalSchedule(key, interval).next(time.Now())
		stop := startManager(m)
		defer stop()

		// Up at the first probe, a failure that is no transition, and down at
		// the third probe.
		sleepUntil(first.Add(interval + time.Second))
		if saved := readSavedStatuses(t, db); saved[key].State != StateUp || saved[key].ConsecutiveFailures != 0 {
			t.Fatalf("saved after the first failure: %+v, want the up status without the failure", saved[key])
		}
		sleepUntil(first.Add(2*interval + time.Second))
		live, _, _ := m.Endpoint(key)

		// Copy the file as a crash would leave it, while Run still holds it.
		image, err := os.ReadFile(filepath.Join(dir, storage.FileName))
		if err != nil {
			t.Fatal(err)
		}
		crashDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(crashDir, storage.FileName), image, 0o600); err != nil {
			t.Fatal(err)
		}
		crashDB, err := storage.Open(crashDir)
		if err != nil {
			t.Fatalf("opening the crash image: %v", err)
		}
		defer crashDB.Close()
		m2, _ := newTestManager(t, Options{Prober: prober, DB: crashDB})
		m2.ApplyConfig(singleEndpointConfig("acme", "api", interval, 2, 1))
		restored, _, _ := m2.Endpoint(key)
		if restored.State != StateDown {
			t.Fatalf("restored from the crash image: %s, want down", restored.State)
		}
		checkSameStatus(t, restored.Status, live.Status)
	})
}

func TestManagerRestoreSkipsCorruptRecords(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := Status{State: StateDown, Since: probeEpoch, LastFailure: probeEpoch, ConsecutiveFailures: 4}
	goodJSON, _ := json.Marshal(good)
	err = db.Write(statusBucket, map[string][]byte{
		storageKey(Key{"acme", "good"}):     goodJSON,
		storageKey(Key{"acme", "garbled"}):  []byte("{not json"),
		storageKey(Key{"acme", "badstate"}): []byte(`{"state":"sideways"}`),
		"no-separator":                      goodJSON,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	logs := &logRecorder{}
	m, err := New(Options{Prober: newFakeProber(nil), DB: db, Logger: slog.New(logs)})
	if err != nil {
		t.Fatalf("New with corrupt records: %v", err)
	}
	cfg := singleEndpointConfig("acme", "good", time.Minute, 1, 1)
	for _, name := range []string{"garbled", "badstate"} {
		cfg.Companies[0].Endpoints = append(cfg.Companies[0].Endpoints, intervalEndpoint(name, time.Minute, 1, 1))
	}
	m.ApplyConfig(cfg)

	st, _, _ := m.Endpoint(Key{"acme", "good"})
	checkSameStatus(t, st.Status, good)
	for _, name := range []string{"garbled", "badstate"} {
		if st, _, _ := m.Endpoint(Key{"acme", name}); st.State != StateUnknown {
			t.Errorf("acme/%s restored as %s from a corrupt record, want unknown", name, st.State)
		}
	}

	warnings := logs.warnings()
	wantPrefixes := []string{
		`Ignoring saved status with an invalid key key="no-separator"`,
		"Ignoring unreadable saved status company=acme endpoint=badstate err=",
		"Ignoring unreadable saved status company=acme endpoint=garbled err=",
	}
	if len(warnings) != len(wantPrefixes) {
		t.Fatalf("warnings %q, want %d", warnings, len(wantPrefixes))
	}
	for _, want := range wantPrefixes {
		found := false
		for _, w := range warnings {
			found = found || strings.HasPrefix(w, want)
		}
		if !found {
			t.Errorf("no warning starting with %q in %q", want, warnings)
		}
	}
}

func TestManagerSaveDeletesRemovedEndpoints(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	down := Status{State: StateDown, Since: probeEpoch, ConsecutiveFailures: 3}
	downJSON, _ := json.Marshal(down)
	err = db.Write(statusBucket, map[string][]byte{
		storageKey(Key{"acme", "api"}):    downJSON,
		storageKey(Key{"acme", "old"}):    downJSON,
		storageKey(Key{"acme", "back"}):   downJSON,
		storageKey(Key{"globex", "shop"}): downJSON,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil), DB: db})
	cfg := singleEndpointConfig("acme", "api", time.Minute, 1, 1)
	cfg.Companies[0].Endpoints = append(cfg.Companies[0].Endpoints, intervalEndpoint("back", time.Minute, 1, 1))
	m.ApplyConfig(cfg)
	// back goes away and returns before the next save: it starts afresh.
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 1, 1))
	m.ApplyConfig(cfg)
	if st, _, _ := m.Endpoint(Key{"acme", "back"}); st.State != StateUnknown {
		t.Errorf("acme/back after removal and return: %s, want unknown", st.State)
	}
	if err := m.save(); err != nil {
		t.Fatalf("save: %v", err)
	}

	saved := readSavedStatuses(t, db)
	if len(saved) != 2 {
		t.Errorf("saved statuses for %d endpoints, want 2: %v", len(saved), saved)
	}
	checkSameStatus(t, saved[Key{"acme", "api"}], down)
	if s, ok := saved[Key{"acme", "back"}]; !ok || s.State != StateUnknown {
		t.Errorf("saved acme/back = %+v (found %t), want a fresh unknown status", s, ok)
	}
}

func TestManagerSaveRetriesFailedWrite(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	api, old := Key{"acme", "api"}, Key{"acme", "old"}
	oldJSON, _ := json.Marshal(Status{State: StateDown, Since: probeEpoch})
	if err := db.Write(statusBucket, map[string][]byte{storageKey(old): oldJSON}, nil); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil), DB: db})
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 1, 1))
	m.endpoints[api].record(syntheticResult(0, false))

	// Writing to a closed database fails; the change and the deletion of
	// acme/old stay pending.
	db.Close()
	if err := m.save(); err == nil {
		t.Fatalf("save to a closed database succeeded")
	}
	if got := testutil.ToFloat64(m.metrics.saveErrors); got != 1 {
		t.Errorf("apiwatch_state_save_errors_total = %v, want 1", got)
	}

	db, err = storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m.opts.DB = db
	if err := m.save(); err != nil {
		t.Fatalf("save after reopening: %v", err)
	}
	saved := readSavedStatuses(t, db)
	if s := saved[api]; s.State != StateDown {
		t.Errorf("saved acme/api %+v, want down", s)
	}
	if s, ok := saved[old]; ok {
		t.Errorf("acme/old still saved as %+v, want it deleted", s)
	}
}

func TestManagerSaveWritesOnlyChanges(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil), DB: db})
	cfg := singleEndpointConfig("acme", "api", time.Minute, 1, 1)
	cfg.Companies[0].Endpoints = append(cfg.Companies[0].Endpoints, intervalEndpoint("web", time.Minute, 1, 1))
	m.ApplyConfig(cfg)
	api, web := Key{"acme", "api"}, Key{"acme", "web"}
	m.endpoints[api].record(syntheticResult(0, false))
	m.endpoints[web].record(syntheticResult(0, false))
	if err := m.save(); err != nil {
		t.Fatalf("first save: %v", err)
	}

	// Overwrite both records behind the manager's back; only the endpoint
	// probed since then may be written again.
	marker := []byte(`{"state":"up","consecutive_successes":99}`)
	if err := db.Write(statusBucket, map[string][]byte{storageKey(api): marker, storageKey(web): marker}, nil); err != nil {
		t.Fatal(err)
	}
	m.endpoints[api].record(syntheticResult(1, false))
	if err := m.save(); err != nil {
		t.Fatalf("second save: %v", err)
	}
	saved := readSavedStatuses(t, db)
	if s := saved[api]; s.State != StateDown || s.ConsecutiveFailures != 2 {
		t.Errorf("acme/api saved as %s with %d failures, want down with 2", s.State, s.ConsecutiveFailures)
	}
	if s := saved[web]; s.ConsecutiveSuccesses != 99 {
		t.Errorf("unchanged acme/web was written again: %+v", s)
	}
}

func TestManagerSavesRoutineChangesLess(t *testing.T) {
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil), DB: db})
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 1, 1))
	api := Key{"acme", "api"}
	e := m.endpoints[api]
	e.record(syntheticResult(0, true)) // unknown to up: urgent
	if err := m.saveChanges(false); err != nil {
		t.Fatal(err)
	}
	first := readSavedStatuses(t, db)[api]
	if first.State != StateUp {
		t.Fatalf("saved %+v, want up", first)
	}

	// Another healthy probe while up only moves the timestamps: the urgent
	// save skips it, the full one writes it.
	e.record(syntheticResult(1, true))
	if err := m.saveChanges(false); err != nil {
		t.Fatal(err)
	}
	if got := readSavedStatuses(t, db)[api]; !got.LastCheck.Equal(first.LastCheck) {
		t.Errorf("urgent save wrote a routine change: last check %v, want %v", got.LastCheck, first.LastCheck)
	}
	if err := m.saveChanges(true); err != nil {
		t.Fatal(err)
	}
	routine := readSavedStatuses(t, db)[api]
	if !routine.LastCheck.After(first.LastCheck) {
		t.Errorf("full save did not write the routine change: last check %v", routine.LastCheck)
	}

	// A failure is urgent.
	e.record(syntheticResult(2, false))
	if err := m.saveChanges(false); err != nil {
		t.Fatal(err)
	}
	if got := readSavedStatuses(t, db)[api]; got.ConsecutiveFailures != 1 {
		t.Errorf("urgent save skipped a failure: %+v", got)
	}
}
