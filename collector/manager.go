// Package collector schedules and runs the probes, judges each endpoint UP or
// DOWN, keeps its status across reloads and restarts, and exports it as
// Prometheus metrics.
package collector

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/storage"
)

// Prober runs one check of a target. Probe must return once ctx ends.
type Prober interface {
	Probe(ctx context.Context, t *Target) Result
}

// Defaults of Options.SaveInterval and Options.FullSaveInterval.
const (
	DefaultSaveInterval     = 10 * time.Second
	DefaultFullSaveInterval = 5 * time.Minute
)

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
	// SaveInterval is how often urgent status changes are written to DB: all
	// but another healthy probe of an endpoint that stays up. A state
	// transition is written at once. FullSaveInterval is how often every
	// change is written; the default is 5 minutes.
	SaveInterval     time.Duration
	FullSaveInterval time.Duration
	// OnTransition, if set, is called after every state change, outside any
	// lock and from the probe's goroutine.
	OnTransition func(Transition)
	// StreamEndpointMetrics leaves the per-endpoint series out of the
	// Registerer, for a caller that writes them with WriteEndpointMetrics,
	// which is far cheaper for many endpoints.
	StreamEndpointMetrics bool
}

// Manager owns the endpoints: it applies configurations, schedules probes,
// records their results and serves statuses.
type Manager struct {
	opts    Options
	logger  *slog.Logger
	sched   *scheduler
	metrics *metrics
	sem     chan struct{}
	// jobs hands probes to idle workers; it is unbuffered, so a send only
	// succeeds when a worker waits.
	jobs     chan probeJob
	flushNow chan struct{}
	wg       sync.WaitGroup
	started  atomic.Bool

	mu        sync.RWMutex
	endpoints map[Key]*endpoint
	// restored holds the statuses read from DB until the first ApplyConfig
	// hands them to their endpoints.
	restored map[Key]Status
	// pendingDeletes are keys of removed endpoints whose saved status the
	// next save deletes.
	pendingDeletes map[Key]struct{}
	loaded         bool
	// sorted caches the endpoints sorted by key, for scrapes and status
	// listings, and is nil until one needs it. ApplyConfig clears it when it
	// adds or removes an endpoint. A slice stored here never changes, so
	// readers use it after releasing mu.
	sorted []*endpoint
}

// New returns a Manager and restores the statuses saved in opts.DB. A saved
// status that cannot be read is logged and skipped.
func New(opts Options) (*Manager, error) {
	if opts.Prober == nil {
		return nil, errors.New("collector: Options.Prober is nil")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = DefaultSaveInterval
	}
	if opts.FullSaveInterval <= 0 {
		opts.FullSaveInterval = DefaultFullSaveInterval
	}
	m := &Manager{
		opts:           opts,
		logger:         opts.Logger,
		sched:          newScheduler(),
		flushNow:       make(chan struct{}, 1),
		jobs:           make(chan probeJob),
		endpoints:      map[Key]*endpoint{},
		restored:       map[Key]Status{},
		pendingDeletes: map[Key]struct{}{},
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

// ApplyConfig makes the manager probe exactly the endpoints of cfg. An
// endpoint that was already configured keeps its status, counters and next
// run time. A changed schedule takes effect from its first slot after now.
// Endpoints no longer configured stop being probed, a result of theirs still
// in flight is discarded, and their series and saved status go away.
//
// The first call hands the restored statuses to their endpoints. Saved
// statuses of endpoints it does not name are deleted, so an endpoint that
// comes back in a later configuration starts as unknown.
func (m *Manager) ApplyConfig(cfg *config.Config) Changes {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var ch Changes
	seen := make(map[Key]bool, len(m.endpoints))
	for _, c := range cfg.Companies {
		for _, ec := range c.Endpoints {
			key := Key{Company: c.Name, Endpoint: ec.Name}
			seen[key] = true
			if m.applyEndpoint(&Target{Key: key, Company: c, Endpoint: ec}, now) {
				ch.Added++
			} else {
				ch.Kept++
			}
		}
	}
	for key, e := range m.endpoints {
		if !seen[key] {
			e.markRemoved()
			m.sched.remove(e)
			delete(m.endpoints, key)
			m.pendingDeletes[key] = struct{}{}
			ch.Removed++
		}
	}
	for key := range m.restored {
		m.pendingDeletes[key] = struct{}{}
		delete(m.restored, key)
	}
	if ch.Added > 0 || ch.Removed > 0 {
		m.sorted = nil
	}
	m.loaded = true
	return ch
}

// Changes counts what ApplyConfig did to the endpoints.
type Changes struct {
	// Added endpoints were not configured before; Kept ones were, and keep
	// their status and schedule slot; Removed ones are gone.
	Added, Kept, Removed int
}

// applyEndpoint updates or adds the endpoint of t and reports whether it
// was added. The caller holds m.mu.
func (m *Manager) applyEndpoint(t *Target, now time.Time) bool {
	if e, ok := m.endpoints[t.Key]; ok {
		e.target.Store(t)
		m.sched.update(e, scheduleFor(t.Key, t.Endpoint), now)
		return false
	}
	e := newEndpoint(t, m.opts.HistorySize)
	if s, ok := m.restored[t.Key]; ok {
		e.status = s
		delete(m.restored, t.Key)
	}
	if _, ok := m.pendingDeletes[t.Key]; ok {
		// Removed and added back before the deletion was saved: overwrite
		// the old saved status with the fresh one instead.
		delete(m.pendingDeletes, t.Key)
		e.markChanged()
	}
	m.endpoints[t.Key] = e
	m.sched.add(e, now)
	return true
}

// Run probes endpoints on their schedules until ctx ends. Then it cancels
// the probes in flight, discards their results, waits for them and saves
// every changed status. It returns the error of that last save, or an error
// at once if Run was called before.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("collector: Manager.Run called more than once")
	}
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

// dispatch starts a probe of e, unless the previous one is still running,
// in which case it counts a skipped probe.
func (m *Manager) dispatch(ctx context.Context, e *endpoint, scheduled time.Time) {
	if !e.running.CompareAndSwap(false, true) {
		m.metrics.skipped.Inc()
		return
	}
	m.wg.Add(1)
	j := probeJob{e: e, scheduled: scheduled}
	select {
	case m.jobs <- j:
		// An idle worker took it.
	default:
		go m.worker(ctx, j)
	}
}

// probeJob is a probe waiting for a worker.
type probeJob struct {
	e         *endpoint
	scheduled time.Time
}

// workerIdle is how long a worker waits for another probe before it ends.
const workerIdle = time.Minute

// worker runs j, then whatever probes dispatch hands it, until none came for
// workerIdle. Reusing goroutines keeps the stacks they grew in TLS and HTTP
// code, which a goroutine per probe would grow again each time: about 7% of
// the CPU of a probe on loopback. The number of workers follows the number
// of probes running at once.
func (m *Manager) worker(ctx context.Context, j probeJob) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		m.run(ctx, j)
		idle.Reset(workerIdle)
		select {
		case j = <-m.jobs:
		case <-idle.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// run probes j's endpoint within the concurrency limit.
func (m *Manager) run(ctx context.Context, j probeJob) {
	defer m.wg.Done()
	defer j.e.running.Store(false)
	if m.sem != nil {
		select {
		case m.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-m.sem }()
	}
	m.probe(ctx, j.e, j.scheduled)
}

// probe runs one probe of e and records its result.
func (m *Manager) probe(ctx context.Context, e *endpoint, scheduled time.Time) {
	// The lag includes the wait for a concurrency slot.
	m.metrics.lag.Observe(time.Since(scheduled).Seconds())
	m.metrics.inFlight.Inc()
	t := e.target.Load()
	r := m.opts.Prober.Probe(ctx, t)
	m.metrics.inFlight.Dec()

	if ctx.Err() != nil {
		// Cancelled by shutdown, so the result is no measurement of the
		// endpoint.
		return
	}
	tr, changed, ok := e.record(r)
	if !ok {
		return // removed by a reload while the probe ran
	}

	if r.Success {
		m.metrics.probesSuccess.Inc()
	} else {
		m.metrics.probesFailure.Inc()
	}
	if m.logger.Enabled(ctx, slog.LevelDebug) {
		m.logger.Debug("Probe finished", "company", e.key.Company, "endpoint", e.key.Endpoint,
			"success", r.Success, "degraded", r.Degraded, "reason", r.Reason, "status_code", r.StatusCode,
			"duration", r.Duration, "retries", r.Retries, "message", r.Message)
	}
	if !changed {
		return
	}

	level := slog.LevelInfo
	if tr.To == StateDown {
		level = slog.LevelWarn
	}
	m.logger.Log(ctx, level, "Endpoint state changed", "company", e.key.Company, "endpoint", e.key.Endpoint,
		"from", tr.From, "to", tr.To, "reason", r.Reason, "status_code", r.StatusCode, "message", r.Message)
	select {
	case m.flushNow <- struct{}{}:
	default:
	}
	if m.opts.OnTransition != nil {
		m.opts.OnTransition(tr)
	}
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
	// Probes counts the probes recorded since the process started, or since
	// a reload added the endpoint, and SuccessfulProbes those of them that
	// succeeded, degraded ones included. Unlike Status, neither is saved.
	Probes, SuccessfulProbes uint64
}

// ErrNotFound is returned for an endpoint that is not configured.
var ErrNotFound = errors.New("endpoint not found")

// Statuses returns the status of every endpoint, or of one company's if
// company is not empty, sorted by company and endpoint.
func (m *Manager) Statuses(company string) []EndpointStatus {
	eps := m.sortedEndpoints()
	if company != "" {
		// The company's endpoints are a run of the sorted slice.
		first, _ := slices.BinarySearchFunc(eps, company, func(e *endpoint, c string) int {
			return strings.Compare(e.key.Company, c)
		})
		n := 0
		for first+n < len(eps) && eps[first+n].key.Company == company {
			n++
		}
		eps = eps[first : first+n]
	}
	out := make([]EndpointStatus, 0, len(eps))
	for _, e := range eps {
		e.mu.Lock()
		out = append(out, e.endpointStatus())
		e.mu.Unlock()
	}
	return out
}

// sortedEndpoints returns every endpoint, sorted by key. The caller must not
// change the slice.
func (m *Manager) sortedEndpoints() []*endpoint {
	m.mu.RLock()
	eps := m.sorted
	m.mu.RUnlock()
	if eps != nil {
		return eps
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sorted == nil {
		eps = make([]*endpoint, 0, len(m.endpoints))
		for _, e := range m.endpoints {
			eps = append(eps, e)
		}
		slices.SortFunc(eps, compareEndpoints)
		m.sorted = eps
	}
	return m.sorted
}

// compareEndpoints orders endpoints by company, then endpoint name.
func compareEndpoints(a, b *endpoint) int {
	if c := strings.Compare(a.key.Company, b.key.Company); c != 0 {
		return c
	}
	return strings.Compare(a.key.Endpoint, b.key.Endpoint)
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
	return e.endpointStatus(), e.history.checks(), nil
}

// endpointStatus returns the endpoint's status. The caller holds e.mu.
func (e *endpoint) endpointStatus() EndpointStatus {
	return EndpointStatus{
		Key:              e.key,
		Target:           e.target.Load(),
		Status:           e.status,
		Probes:           e.counts.probes,
		SuccessfulProbes: e.counts.successes,
	}
}

// Status returns one endpoint's status, and false if it is not configured.
func (m *Manager) Status(key Key) (Status, bool) {
	m.mu.RLock()
	e, ok := m.endpoints[key]
	m.mu.RUnlock()
	if !ok {
		return Status{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status, true
}
