// Package collector schedules and runs the probes, judges each endpoint UP or
// DOWN, keeps its status across reloads and restarts, and exports it as
// Prometheus metrics.
package collector

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/storage"
)

// Prober runs one check of a target.
type Prober interface {
	Probe(ctx context.Context, t *Target) Result
}

// statusBucket is the storage bucket of endpoint statuses.
const statusBucket = "endpoint_status"

// Options configures a Manager.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Prober     Prober
	// DB persists statuses; nil keeps them in memory only.
	DB *storage.DB
	// Concurrency bounds the probes running at once; 0 means no bound.
	Concurrency int
	// HistorySize is how many recent checks each endpoint keeps in memory.
	HistorySize int
	// SaveInterval is how often changed statuses are written to DB. A state
	// transition is written at once.
	SaveInterval time.Duration
	// OnTransition, if set, is called after every state change, outside any
	// lock and from the probe's goroutine.
	OnTransition func(Transition)
}

// Manager owns the endpoints: it applies configurations, schedules probes,
// records their results and serves statuses.
type Manager struct {
	opts     Options
	logger   *slog.Logger
	sched    *scheduler
	metrics  *metrics
	sem      chan struct{}
	flushNow chan struct{}
	wg       sync.WaitGroup

	mu        sync.RWMutex
	endpoints map[Key]*endpoint
	restored  map[Key]Status
	deleted   []Key
	loaded    bool
}

// New returns a Manager and restores the statuses saved in opts.DB.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.SaveInterval == 0 {
		opts.SaveInterval = 10 * time.Second
	}
	m := &Manager{
		opts:      opts,
		logger:    opts.Logger,
		sched:     newScheduler(),
		flushNow:  make(chan struct{}, 1),
		endpoints: map[Key]*endpoint{},
		restored:  map[Key]Status{},
	}
	if opts.Concurrency > 0 {
		m.sem = make(chan struct{}, opts.Concurrency)
	}
	m.metrics = newMetrics(m)
	if err := m.metrics.register(opts.Registerer); err != nil {
		return nil, err
	}
	if err := m.restore(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manager) restore() error {
	if m.opts.DB == nil {
		return nil
	}
	return m.opts.DB.ForEach(statusBucket, func(k, v []byte) error {
		key, ok := parseStorageKey(string(k))
		if !ok {
			return nil
		}
		var s Status
		if err := json.Unmarshal(v, &s); err != nil {
			m.logger.Warn("Ignoring unreadable saved status", "company", key.Company, "endpoint", key.Endpoint, "err", err)
			return nil
		}
		m.restored[key] = s
		return nil
	})
}

// ApplyConfig makes the manager probe exactly the endpoints of cfg. An
// endpoint that was already configured keeps its status, counters and
// schedule slot; a changed schedule takes effect from its next slot.
// Endpoints no longer configured stop being probed and their series vanish.
func (m *Manager) ApplyConfig(cfg *config.Config) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[Key]bool, len(m.endpoints))
	for _, c := range cfg.Companies {
		for _, ec := range c.Endpoints {
			key := Key{Company: c.Name, Endpoint: ec.Name}
			seen[key] = true
			t := &Target{Key: key, Company: c, Endpoint: ec}
			if e, ok := m.endpoints[key]; ok {
				e.target.Store(t)
				if s := scheduleFor(key, ec); !s.equal(e.sched) {
					m.sched.replace(e, s, now)
				}
				continue
			}
			e := newEndpoint(t, m.opts.HistorySize)
			if s, ok := m.restored[key]; ok {
				e.status = s
				delete(m.restored, key)
			}
			m.endpoints[key] = e
			m.sched.add(e, now)
		}
	}
	for key, e := range m.endpoints {
		if !seen[key] {
			e.removed.Store(true)
			m.sched.remove(e)
			delete(m.endpoints, key)
			m.deleted = append(m.deleted, key)
		}
	}
	// Saved statuses of endpoints the first configuration does not name are
	// dropped; the endpoint starts afresh if it comes back later.
	for key := range m.restored {
		m.deleted = append(m.deleted, key)
		delete(m.restored, key)
	}
	m.loaded = true
}

// Run probes endpoints on their schedules until ctx ends. Then it cancels
// the probes in flight, waits for them and saves every status.
func (m *Manager) Run(ctx context.Context) error {
	saveDone := make(chan struct{})
	saveCtx, stopSave := context.WithCancel(context.Background())
	go func() {
		defer close(saveDone)
		m.saveLoop(saveCtx)
	}()
	m.sched.run(ctx, func(e *endpoint, scheduled time.Time) { m.dispatch(ctx, e, scheduled) })
	m.wg.Wait()
	stopSave()
	<-saveDone
	return m.save()
}

// dispatch starts a probe of e, unless the previous one is still running.
func (m *Manager) dispatch(ctx context.Context, e *endpoint, scheduled time.Time) {
	if !e.running.CompareAndSwap(false, true) {
		m.metrics.skipped.Inc()
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer e.running.Store(false)
		if m.sem != nil {
			select {
			case m.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-m.sem }()
		}
		m.probe(ctx, e, scheduled)
	}()
}

func (m *Manager) probe(ctx context.Context, e *endpoint, scheduled time.Time) {
	m.metrics.lag.Observe(time.Since(scheduled).Seconds())
	m.metrics.inFlight.Inc()
	t := e.target.Load()
	r := m.opts.Prober.Probe(ctx, t)
	m.metrics.inFlight.Dec()
	if ctx.Err() != nil || e.removed.Load() {
		// Cancelled by shutdown or dropped by a reload: the result says
		// nothing about the endpoint.
		return
	}
	if r.Success {
		m.metrics.probesSuccess.Inc()
	} else {
		m.metrics.probesFailure.Inc()
	}
	tr, changed := e.record(r)
	if m.logger.Enabled(ctx, slog.LevelDebug) {
		m.logger.Debug("Probe finished", "company", t.Company.Name, "endpoint", t.Endpoint.Name,
			"success", r.Success, "reason", r.Reason, "status_code", r.StatusCode,
			"duration", r.Duration, "message", r.Message)
	}
	if !changed {
		return
	}
	level := slog.LevelInfo
	if tr.To == StateDown {
		level = slog.LevelWarn
	}
	m.logger.Log(ctx, level, "Endpoint state changed", "company", t.Company.Name, "endpoint", t.Endpoint.Name,
		"from", tr.From, "to", tr.To, "reason", r.Reason, "status_code", r.StatusCode, "message", r.Message)
	select {
	case m.flushNow <- struct{}{}:
	default:
	}
	if m.opts.OnTransition != nil {
		m.opts.OnTransition(tr)
	}
}

// saveLoop writes changed statuses every SaveInterval, and at once after a
// transition.
func (m *Manager) saveLoop(ctx context.Context) {
	ticker := time.NewTicker(m.opts.SaveInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-m.flushNow:
		}
		if err := m.save(); err != nil {
			m.logger.Error("Saving endpoint statuses failed", "err", err)
		}
	}
}

// save writes the statuses changed since the last save and forgets removed
// endpoints. A failed write leaves them marked for the next attempt.
func (m *Manager) save() error {
	if m.opts.DB == nil {
		return nil
	}
	m.mu.Lock()
	deleted := m.deleted
	m.deleted = nil
	var changed []*endpoint
	for _, e := range m.endpoints {
		e.mu.Lock()
		if e.dirty {
			changed = append(changed, e)
		}
		e.mu.Unlock()
	}
	m.mu.Unlock()

	puts := make(map[string][]byte, len(changed))
	for _, e := range changed {
		e.mu.Lock()
		s := e.status
		e.dirty = false
		e.mu.Unlock()
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		puts[storageKey(e.key)] = b
	}
	dels := make([]string, len(deleted))
	for i, k := range deleted {
		dels[i] = storageKey(k)
	}
	if len(puts) == 0 && len(dels) == 0 {
		return nil
	}
	err := m.opts.DB.Write(statusBucket, puts, dels)
	if err != nil {
		m.metrics.saveErrors.Inc()
		m.mu.Lock()
		m.deleted = append(m.deleted, deleted...)
		m.mu.Unlock()
		for _, e := range changed {
			e.mu.Lock()
			e.dirty = true
			e.mu.Unlock()
		}
	}
	return err
}

func storageKey(k Key) string { return k.Company + "\x00" + k.Endpoint }

func parseStorageKey(s string) (Key, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return Key{Company: s[:i], Endpoint: s[i+1:]}, true
		}
	}
	return Key{}, false
}

// Ready reports whether a configuration has been applied.
func (m *Manager) Ready() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.loaded
}

// EndpointStatus is an endpoint's identity, configuration summary and status.
type EndpointStatus struct {
	Key
	Target *Target
	Status
}

// ErrNotFound is returned for an endpoint that is not configured.
var ErrNotFound = errors.New("endpoint not found")

// Statuses returns the status of every endpoint, or of one company's if
// company is not empty, sorted by company and endpoint.
func (m *Manager) Statuses(company string) []EndpointStatus {
	m.mu.RLock()
	out := make([]EndpointStatus, 0, len(m.endpoints))
	for key, e := range m.endpoints {
		if company != "" && key.Company != company {
			continue
		}
		e.mu.Lock()
		out = append(out, EndpointStatus{Key: key, Target: e.target.Load(), Status: e.status})
		e.mu.Unlock()
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Company != out[j].Company {
			return out[i].Company < out[j].Company
		}
		return out[i].Endpoint < out[j].Endpoint
	})
	return out
}

// Endpoint returns one endpoint's status and its recent checks, oldest
// first.
func (m *Manager) Endpoint(key Key) (EndpointStatus, []Check, error) {
	m.mu.RLock()
	e, ok := m.endpoints[key]
	m.mu.RUnlock()
	if !ok {
		return EndpointStatus{}, nil, ErrNotFound
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return EndpointStatus{Key: key, Target: e.target.Load(), Status: e.status}, e.history.checks(), nil
}
