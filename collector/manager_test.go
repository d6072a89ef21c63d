package collector

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/storage"
)

// fakeProber returns scripted results and records when each probe started.
// respond gets the probe's number for its endpoint, counted from 0, and
// may block; a zero Start and Duration are filled in from the clock.
type fakeProber struct {
	respond func(ctx context.Context, t *Target, n int) Result

	mu     sync.Mutex
	starts map[Key][]time.Time
}

func newFakeProber(respond func(ctx context.Context, t *Target, n int) Result) *fakeProber {
	return &fakeProber{respond: respond, starts: map[Key][]time.Time{}}
}

func (p *fakeProber) Probe(ctx context.Context, t *Target) Result {
	start := time.Now()
	p.mu.Lock()
	n := len(p.starts[t.Key])
	p.starts[t.Key] = append(p.starts[t.Key], start)
	p.mu.Unlock()
	r := p.respond(ctx, t, n)
	if r.Start.IsZero() {
		r.Start = start
	}
	if r.Duration == 0 {
		r.Duration = time.Since(start)
	}
	return r
}

// startsOf returns the start times of key's probes so far.
func (p *fakeProber) startsOf(key Key) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.starts[key]...)
}

// sleepResult sleeps for d, as a probe taking d would, and returns a success
// or a 503 failure.
func sleepResult(d time.Duration, ok bool) Result {
	time.Sleep(d)
	if ok {
		return Result{Success: true, StatusCode: 200}
	}
	return Result{StatusCode: 503, Reason: ReasonStatus, Message: "unexpected status code 503"}
}

// intervalEndpoint returns an endpoint as config.LoadFile would leave it.
func intervalEndpoint(name string, interval time.Duration, failureThreshold, successThreshold int) *config.Endpoint {
	u, _ := url.Parse("http://127.0.0.1:9/" + name)
	follow := true
	return &config.Endpoint{
		Name:             name,
		URL:              config.URL{URL: u},
		Interval:         config.Duration(interval),
		Timeout:          config.Duration(interval / 2),
		FailureThreshold: failureThreshold,
		SuccessThreshold: successThreshold,
		FollowRedirects:  &follow,
		MaxRedirects:     config.DefaultMaxRedirects,
		BodySizeLimit:    config.DefaultBodySizeLimit,
		Expect:           config.Expect{Status: config.StatusMatchers{{Class: 2}}},
	}
}

func singleEndpointConfig(company, name string, interval time.Duration, failureThreshold, successThreshold int) *config.Config {
	return &config.Config{Companies: []*config.Company{{
		Name:      company,
		Endpoints: []*config.Endpoint{intervalEndpoint(name, interval, failureThreshold, successThreshold)},
	}}}
}

// loadYAMLConfig writes text to a file in a temporary directory and loads
// it with config.LoadFile, the only way to get a parsed cron schedule.
func loadYAMLConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading config: %v", err)
	}
	return cfg
}

// newTestManager returns a manager with a fresh registry.
func newTestManager(t testing.TB, opts Options) (*Manager, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	m, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

// startManager runs m until the returned function is called, which cancels
// Run's context, waits for Run to return and returns its error.
func startManager(m *Manager) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

// transitionLog collects transitions from Options.OnTransition.
type transitionLog struct {
	mu  sync.Mutex
	all []Transition
}

func (l *transitionLog) add(tr Transition) {
	l.mu.Lock()
	l.all = append(l.all, tr)
	l.mu.Unlock()
}

func (l *transitionLog) list() []Transition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Transition(nil), l.all...)
}

// sleepUntil advances the fake clock of a synctest bubble to t and waits
// until every goroutine in the bubble is blocked.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t))
	synctest.Wait()
}

// checkStarts fails unless the probes of endpoint started exactly at the
// times of want.
func checkStarts(t *testing.T, endpoint string, got, want []time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d probes at %v, want %d at %v", endpoint, len(got), got, len(want), want)
		return
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s: probe %d started at %v, want %v", endpoint, i, got[i], want[i])
		}
	}
}

// slotsBetween returns the run times of s in (from, to].
func slotsBetween(s schedule, from, to time.Time) []time.Time {
	var out []time.Time
	for next := s.next(from); !next.After(to); next = s.next(next) {
		out = append(out, next)
	}
	return out
}

func TestManagerDownAtThirdFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		const took = 100 * time.Millisecond
		key := Key{"acme", "api"}
		// The first probe succeeds, every later one fails.
		prober := newFakeProber(func(_ context.Context, _ *Target, n int) Result {
			return sleepResult(took, n == 0)
		})
		var transitions transitionLog
		m, _ := newTestManager(t, Options{Prober: prober, OnTransition: transitions.add})
		m.ApplyConfig(singleEndpointConfig("acme", "api", interval, 3, 2))
		first := newIntervalSchedule(key, interval).next(time.Now())
		stop := startManager(m)

		// Just before the third failed probe ends the endpoint is still up.
		thirdFailure := first.Add(3 * interval)
		sleepUntil(thirdFailure.Add(took - time.Millisecond))
		if st, _, _ := m.Endpoint(key); st.State != StateUp || st.ConsecutiveFailures != 2 {
			t.Fatalf("before the third failure ended: %s with %d failures, want up with 2", st.State, st.ConsecutiveFailures)
		}
		sleepUntil(thirdFailure.Add(took))
		st, _, _ := m.Endpoint(key)
		if st.State != StateDown {
			t.Fatalf("after the third failure: %s, want down", st.State)
		}
		firstFailureEnd := first.Add(interval + took)
		if got := st.Since.Sub(firstFailureEnd); got != 2*interval {
			t.Errorf("down %v after the first failure ended, want %v", got, 2*interval)
		}

		want := []struct {
			from, to State
			at       time.Time
		}{
			{StateUnknown, StateUp, first.Add(took)},
			{StateUp, StateDown, thirdFailure.Add(took)},
		}
		got := transitions.list()
		if len(got) != len(want) {
			t.Fatalf("%d transitions %v, want %d", len(got), got, len(want))
		}
		for i, w := range want {
			if got[i].From != w.from || got[i].To != w.to || !got[i].At.Equal(w.at) {
				t.Errorf("transition %d: %s->%s at %v, want %s->%s at %v",
					i, got[i].From, got[i].To, got[i].At, w.from, w.to, w.at)
			}
		}

		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		wantStarts := []time.Time{first, first.Add(interval), first.Add(2 * interval), thirdFailure}
		checkStarts(t, "acme/api", prober.startsOf(key), wantStarts)
	})
}

func TestManagerShutdownCancelsProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		key := Key{"acme", "api"}
		db, err := storage.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		var cancelled, finished bool
		// The first probe succeeds; the second blocks until its context
		// ends, then takes another second to clean up.
		prober := newFakeProber(func(ctx context.Context, _ *Target, n int) Result {
			if n == 0 {
				return sleepResult(time.Second, true)
			}
			<-ctx.Done()
			cancelled = true
			time.Sleep(time.Second)
			finished = true
			return Result{Reason: ReasonTimeout, Message: "probe cancelled"}
		})
		var transitions transitionLog
		m, reg := newTestManager(t, Options{Prober: prober, DB: db, SaveInterval: time.Hour, OnTransition: transitions.add})
		m.ApplyConfig(singleEndpointConfig("acme", "api", interval, 1, 1))
		first := newIntervalSchedule(key, interval).next(time.Now())
		stop := startManager(m)

		sleepUntil(first.Add(interval + 5*time.Second))
		if got := testutil.ToFloat64(m.metrics.inFlight); got != 1 {
			t.Fatalf("probes in flight = %v, want 1", got)
		}
		stopped := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if !cancelled || !finished {
			t.Fatalf("Run returned before the probe ended: cancelled %t, finished %t", cancelled, finished)
		}
		if waited := time.Since(stopped); waited != time.Second {
			t.Errorf("Run returned %v after the cancel, want 1s", waited)
		}

		st, _, _ := m.Endpoint(key)
		if st.State != StateUp || st.ConsecutiveFailures != 0 || !st.LastFailure.IsZero() {
			t.Errorf("after shutdown: %s with %d failures, last failure %v; want up with none",
				st.State, st.ConsecutiveFailures, st.LastFailure)
		}
		if n := len(transitions.list()); n != 1 {
			t.Errorf("%d transitions, want only the first up", n)
		}
		if got := testutil.ToFloat64(m.metrics.probesFailure); got != 0 {
			t.Errorf("apiwatch_probes_total{result=\"failure\"} = %v, want 0", got)
		}
		if n, err := testutil.GatherAndCount(reg, "probe_failures_total"); err != nil || n != 0 {
			t.Errorf("probe_failures_total has %d series (err %v), want none", n, err)
		}
		if got := testutil.ToFloat64(m.metrics.inFlight); got != 0 {
			t.Errorf("probes in flight after Run = %v, want 0", got)
		}

		saved := readSavedStatuses(t, db)
		if s, ok := saved[key]; !ok || s.State != StateUp || !s.Since.Equal(st.Since) {
			t.Errorf("saved status %+v (found %t), want up since %v", s, ok, st.Since)
		}
	})
}

func TestManagerReloadKeepsSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		makeConfig := func() *config.Config {
			return &config.Config{Companies: []*config.Company{{
				Name: "acme",
				Endpoints: []*config.Endpoint{
					intervalEndpoint("api", interval, 1, 1),
					intervalEndpoint("web", interval, 1, 1),
					intervalEndpoint("db", interval, 1, 1),
				},
			}}}
		}
		prober := newFakeProber(func(context.Context, *Target, int) Result { return sleepResult(time.Second, true) })
		m, _ := newTestManager(t, Options{Prober: prober})
		start := time.Now()
		m.ApplyConfig(makeConfig())
		stop := startManager(m)

		nextRuns := func() map[Key]time.Time {
			m.sched.mu.Lock()
			defer m.sched.mu.Unlock()
			out := map[Key]time.Time{}
			for k, e := range m.endpoints {
				out[k] = e.next
			}
			return out
		}
		// Reload every 7 s, which is never a multiple of the interval, so
		// reloads fall at every phase of the slots.
		for i := range 20 {
			sleepUntil(start.Add(time.Duration(i+1) * 7 * time.Second))
			before := nextRuns()
			m.ApplyConfig(makeConfig())
			after := nextRuns()
			for k, next := range before {
				if !after[k].Equal(next) {
					t.Errorf("reload %d: %s next run moved from %v to %v", i, k, next, after[k])
				}
			}
		}
		end := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		for _, name := range []string{"api", "web", "db"} {
			key := Key{"acme", name}
			want := slotsBetween(newIntervalSchedule(key, interval), start, end)
			checkStarts(t, key.String(), prober.startsOf(key), want)
		}
	})
}

func TestManagerReloadChangedInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		key := Key{"acme", "api"}
		prober := newFakeProber(func(context.Context, *Target, int) Result { return sleepResult(time.Second, true) })
		m, _ := newTestManager(t, Options{Prober: prober})
		start := time.Now()
		m.ApplyConfig(singleEndpointConfig("acme", "api", 20*time.Second, 1, 1))
		stop := startManager(m)

		// At 75 s the old schedule's next slot (86.6 s) differs from the
		// new one's (76.6 s).
		reload := start.Add(75 * time.Second)
		sleepUntil(reload)
		m.ApplyConfig(singleEndpointConfig("acme", "api", 30*time.Second, 1, 1))
		end := reload.Add(3 * time.Minute)
		sleepUntil(end)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		want := append(slotsBetween(newIntervalSchedule(key, 20*time.Second), start, reload),
			slotsBetween(newIntervalSchedule(key, 30*time.Second), reload, end)...)
		checkStarts(t, "acme/api", prober.startsOf(key), want)
	})
}

func TestManagerReloadRemovesEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		removed, remaining := Key{"acme", "gone"}, Key{"acme", "kept"}
		// Every probe of acme/gone takes 10 s and fails.
		prober := newFakeProber(func(_ context.Context, t *Target, _ int) Result {
			if t.Key == removed {
				return sleepResult(10*time.Second, false)
			}
			return sleepResult(time.Second, true)
		})
		var transitions transitionLog
		m, _ := newTestManager(t, Options{Prober: prober, OnTransition: transitions.add})
		both := &config.Config{Companies: []*config.Company{{Name: "acme", Endpoints: []*config.Endpoint{
			intervalEndpoint("gone", interval, 1, 1), intervalEndpoint("kept", interval, 1, 1),
		}}}}
		m.ApplyConfig(both)
		first := newIntervalSchedule(removed, interval).next(time.Now())
		stop := startManager(m)

		// Remove acme/gone while its first probe runs.
		sleepUntil(first.Add(5 * time.Second))
		if n := len(prober.startsOf(removed)); n != 1 {
			t.Fatalf("%d probes of acme/gone before the reload, want 1", n)
		}
		m.ApplyConfig(singleEndpointConfig("acme", "kept", interval, 1, 1))
		end := first.Add(5 * time.Minute)
		sleepUntil(end)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		if n := len(prober.startsOf(removed)); n != 1 {
			t.Errorf("%d probes of acme/gone, want 1 (none after the reload)", n)
		}
		for _, tr := range transitions.list() {
			if tr.Key == removed {
				t.Errorf("transition %s->%s of acme/gone after its removal", tr.From, tr.To)
			}
		}
		if _, _, err := m.Endpoint(removed); err != ErrNotFound {
			t.Errorf("Endpoint(acme/gone) error = %v, want ErrNotFound", err)
		}
		if got := testutil.ToFloat64(m.metrics.probesFailure); got != 0 {
			t.Errorf("apiwatch_probes_total{result=\"failure\"} = %v, want 0: the discarded result was counted", got)
		}
		if len(prober.startsOf(remaining)) == 0 {
			t.Errorf("acme/kept was never probed")
		}
	})
}

func TestManagerReloadAddsEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = time.Minute
		added := Key{"acme", "new"}
		prober := newFakeProber(func(context.Context, *Target, int) Result { return sleepResult(time.Second, true) })
		m, _ := newTestManager(t, Options{Prober: prober})
		m.ApplyConfig(singleEndpointConfig("acme", "api", interval, 1, 1))
		stop := startManager(m)

		sleepUntil(time.Now().Add(90 * time.Second))
		reload := time.Now()
		m.ApplyConfig(&config.Config{Companies: []*config.Company{{Name: "acme", Endpoints: []*config.Endpoint{
			intervalEndpoint("api", interval, 1, 1), intervalEndpoint("new", interval, 1, 1),
		}}}})
		sleepUntil(reload.Add(interval))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := []time.Time{newIntervalSchedule(added, interval).next(reload)}
		checkStarts(t, "acme/new", prober.startsOf(added), want)
	})
}

func TestNewRejectsMissingProber(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatalf("New without a prober succeeded")
	}
}

func TestManagerConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, err := storage.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		makeConfig := func(endpoints int) *config.Config {
			c := &config.Company{Name: "acme"}
			for i := range endpoints {
				c.Endpoints = append(c.Endpoints, intervalEndpoint(fmt.Sprintf("ep%02d", i), time.Second, 2, 2))
			}
			return &config.Config{Companies: []*config.Company{c}}
		}
		// Probes take up to 1.5 s, so some outlast their slot, and every
		// third one fails.
		prober := newFakeProber(func(_ context.Context, t *Target, n int) Result {
			return sleepResult(time.Duration(len(t.Key.Endpoint)*n%15)*100*time.Millisecond, n%3 != 0)
		})
		m, reg := newTestManager(t, Options{Prober: prober, DB: db, Concurrency: 8, SaveInterval: 2 * time.Second})
		m.ApplyConfig(makeConfig(40))
		stop := startManager(m)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			// Reload with 20 and 40 endpoints in turn.
			for i := 0; ctx.Err() == nil; i++ {
				m.ApplyConfig(makeConfig(20 + 20*(i%2)))
				time.Sleep(3 * time.Second)
			}
		})
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := reg.Gather(); err != nil {
					t.Errorf("Gather: %v", err)
				}
				m.Statuses("acme")
				time.Sleep(500 * time.Millisecond)
			}
		})
		// Stop after the reload at 54 s, which removed ep20 to ep39.
		time.Sleep(55 * time.Second)
		cancel()
		wg.Wait()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		// After the final save, the database holds the status of every
		// configured endpoint that has been probed, as it is in memory, and
		// nothing of removed ones.
		saved := readSavedStatuses(t, db)
		statuses := m.Statuses("")
		if len(statuses) != 20 {
			t.Fatalf("%d endpoints configured at the end, want 20", len(statuses))
		}
		configured := map[Key]bool{}
		for _, st := range statuses {
			configured[st.Key] = true
			s, ok := saved[st.Key]
			if !ok {
				if st.State != StateUnknown || !st.LastCheck.IsZero() {
					t.Errorf("%s is %s, last checked %v, but not saved", st.Key, st.State, st.LastCheck)
				}
				continue
			}
			checkSameStatus(t, s, st.Status)
		}
		for key := range saved {
			if !configured[key] {
				t.Errorf("status of removed %s still saved", key)
			}
		}
	})
}

func TestManagerRunTwice(t *testing.T) {
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := m.Run(ctx); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("second Run error = %v, want a called more than once error", err)
	}
}

// TestStatusesFollowReloads checks that Statuses, which reads a sorted list
// kept between calls, returns every endpoint a reload adds and none it
// removes, and that a company filter matches the whole name only.
func TestStatusesFollowReloads(t *testing.T) {
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil)})
	company := func(name string, endpoints ...string) *config.Company {
		c := &config.Company{Name: name}
		for _, e := range endpoints {
			c.Endpoints = append(c.Endpoints, intervalEndpoint(e, time.Minute, 1, 1))
		}
		return c
	}
	keys := func(company string) []string {
		var out []string
		for _, s := range m.Statuses(company) {
			out = append(out, s.Company+"/"+s.Endpoint)
		}
		return out
	}
	steps := []struct {
		name      string
		companies []*config.Company
		all, acme []string
	}{
		{
			name:      "first load",
			companies: []*config.Company{company("acme-eu", "orders"), company("acme", "b", "a"), company("ac", "x")},
			all:       []string{"ac/x", "acme/a", "acme/b", "acme-eu/orders"},
			acme:      []string{"acme/a", "acme/b"},
		},
		{
			name:      "endpoint added",
			companies: []*config.Company{company("acme-eu", "orders"), company("acme", "b", "a", "c"), company("ac", "x")},
			all:       []string{"ac/x", "acme/a", "acme/b", "acme/c", "acme-eu/orders"},
			acme:      []string{"acme/a", "acme/b", "acme/c"},
		},
		{
			name:      "company removed",
			companies: []*config.Company{company("acme-eu", "orders"), company("ac", "x")},
			all:       []string{"ac/x", "acme-eu/orders"},
		},
	}
	for _, s := range steps {
		m.ApplyConfig(&config.Config{Companies: s.companies})
		if got := keys(""); !slices.Equal(got, s.all) {
			t.Errorf("%s: Statuses(\"\") = %v, want %v", s.name, got, s.all)
		}
		if got := keys("acme"); !slices.Equal(got, s.acme) {
			t.Errorf("%s: Statuses(\"acme\") = %v, want %v", s.name, got, s.acme)
		}
	}
}
