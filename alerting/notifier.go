package alerting

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/storage"
)

// Defaults for Options fields left zero.
const (
	DefaultResendInterval    = time.Minute
	DefaultResolvedRetention = 15 * time.Minute
	DefaultQueueCapacity     = 10000
	DefaultMaxBatchSize      = 256

	// leaseFactor times the resend interval is how far ahead a firing
	// alert's endsAt is set. Alertmanager keeps the alert firing until then,
	// so three resends can be lost before it resolves by itself.
	leaseFactor = 4
	// reconcileInterval is how often the endpoints that have an alert are
	// compared with their state, beside the checks that transitions
	// trigger; fullReconcileInterval is how often every endpoint is. The
	// full check reads every status, 1% of the CPU at 100,000 endpoints
	// when it ran every 30 s; what it can find beyond the alerts' endpoints
	// (a down endpoint without an alert, after a crash) the check at start
	// already covers.
	reconcileInterval     = 30 * time.Second
	fullReconcileInterval = 5 * time.Minute
	// tickInterval is how often due resends and the ends of maintenance
	// windows are checked, and so the precision of both.
	tickInterval = time.Second
)

// StatusSource reads endpoint statuses; collector.Manager implements it.
// The notifier calls it without holding its own locks, but while holding
// the lock that orders reconciliations, so Status must not call back into
// the Notifier.
type StatusSource interface {
	Status(key collector.Key) (collector.Status, bool)
}

// EndpointPolicy is how alerts for one endpoint are labelled and when they
// are held back.
type EndpointPolicy struct {
	// Labels are added to every alert of the endpoint, beside alertname,
	// company, endpoint and severity.
	Labels   map[string]string
	Severity string
	// URL is the endpoint's URL with credentials redacted.
	URL         string
	RunbookURL  string
	Maintenance []Window
}

// Alertmanager is one Alertmanager to deliver to.
type Alertmanager struct {
	// URL is the base URL, such as http://127.0.0.1:9093.
	URL *url.URL
	// Name identifies the Alertmanager in metrics and logs: the URL with
	// credentials redacted. SetAlertmanagers keeps the queue of an
	// Alertmanager whose name is unchanged.
	Name    string
	Client  *http.Client
	Timeout time.Duration
}

// Options configures a Notifier.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// DB persists alerts; nil keeps them in memory only.
	DB       *storage.DB
	Statuses StatusSource
	// ExternalURL is apiwatch's own URL, the base of generator links.
	ExternalURL       *url.URL
	ResendInterval    time.Duration
	ResolvedRetention time.Duration
	QueueCapacity     int
	MaxBatchSize      int
}

// Notifier keeps the alerts and their delivery.
//
// Lock order: reconcileMu, then the StatusSource's locks (released before
// the next step), then n.mu, then a queue's lock. saveMu and writeMu are
// taken without n.mu held, and n.mu only briefly inside them.
type Notifier struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics

	// reconcileMu orders reconciliations, so that the statuses one reads
	// are never older than those an earlier one has already acted on.
	reconcileMu sync.Mutex

	mu       sync.Mutex
	alerts   map[alertID]*alert
	policies map[collector.Key]*EndpointPolicy
	// maintained lists endpoints with maintenance windows and whether each
	// was in one at the last check, to catch the end of a window.
	maintained map[collector.Key]bool
	loops      []*sendLoop

	loopsCtx context.Context
	loopsWG  sync.WaitGroup
	started  bool
	seq      uint64

	saver saver
}

// New returns a Notifier with the alerts saved in opts.DB restored.
func New(opts Options) (*Notifier, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	opts.ResendInterval = firstPositive(opts.ResendInterval, DefaultResendInterval)
	opts.ResolvedRetention = firstPositive(opts.ResolvedRetention, DefaultResolvedRetention)
	opts.QueueCapacity = firstPositive(opts.QueueCapacity, DefaultQueueCapacity)
	opts.MaxBatchSize = firstPositive(opts.MaxBatchSize, DefaultMaxBatchSize)
	n := &Notifier{
		opts:       opts,
		logger:     opts.Logger,
		alerts:     map[alertID]*alert{},
		policies:   map[collector.Key]*EndpointPolicy{},
		maintained: map[collector.Key]bool{},
		saver:      saver{dirty: map[alertID]struct{}{}},
	}
	n.metrics = newMetrics(n)
	if err := n.metrics.register(opts.Registerer); err != nil {
		return nil, err
	}
	if err := n.restore(); err != nil {
		return nil, err
	}
	return n, nil
}

// SetPolicies replaces the alerting policy of every endpoint. Alerts of
// endpoints no longer present are resolved.
func (n *Notifier) SetPolicies(policies map[collector.Key]*EndpointPolicy) {
	n.mu.Lock()
	n.policies = policies
	maintained := make(map[collector.Key]bool)
	now := time.Now()
	for key, p := range policies {
		if len(p.Maintenance) > 0 {
			maintained[key] = inMaintenance(p.Maintenance, now)
		}
	}
	n.maintained = maintained
	n.mu.Unlock()
	n.reconcileAll()
}

// HandleTransition brings the alerts of the endpoint in line with its new
// state. It is meant for collector.Options.OnTransition, and must not be
// called while the StatusSource holds a lock that Status takes.
func (n *Notifier) HandleTransition(tr collector.Transition) {
	n.reconcile([]collector.Key{tr.Key})
}

// Run resends alerts, deletes resolved ones after the retention period,
// watches maintenance windows and delivers until ctx ends. When ctx ends,
// each Alertmanager's queue gets one last, short attempt (see drainTimeout)
// before Run returns.
func (n *Notifier) Run(ctx context.Context) {
	// Everything restored goes out at once. It is queued before the loops
	// start, so that it goes out in their first batches and not twice.
	n.reconcileAll()
	n.enqueue(n.alertIDs(), false)

	n.mu.Lock()
	n.loopsCtx = ctx
	n.started = true
	for _, l := range n.loops {
		n.startLoop(l)
	}
	n.mu.Unlock()

	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	lastReconcile, lastFull := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			n.loopsWG.Wait()
			return
		case now := <-tick.C:
			n.resendDue(now)
			n.checkMaintenanceEnds(now)
			switch {
			case now.Sub(lastFull) >= fullReconcileInterval:
				n.reconcileAll()
				lastReconcile, lastFull = now, now
			case now.Sub(lastReconcile) >= reconcileInterval:
				n.reconcileAlerting()
				lastReconcile = now
			}
		}
	}
}

func (n *Notifier) alertIDs() []alertID {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]alertID, 0, len(n.alerts))
	for id := range n.alerts {
		ids = append(ids, id)
	}
	return ids
}

// enqueue puts the alerts on every Alertmanager's queue. transition marks
// a change of state rather than a periodic resend.
func (n *Notifier) enqueue(ids []alertID, transition bool) {
	if len(ids) == 0 {
		return
	}
	n.mu.Lock()
	loops := n.loops
	n.seq++
	seq := n.seq
	n.mu.Unlock()
	for _, l := range loops {
		for _, id := range ids {
			l.push(id, transition, seq)
		}
	}
}

// resendDue queues the alerts whose resend time has come and deletes
// resolved alerts past retention that no Alertmanager's queue still holds.
// It visits every alert once per tickInterval: BenchmarkResendDue measured
// about 0.14 ms for ten thousand alerts on a 2-core AMD EPYC, so a queue
// ordered by due time is not worth its complexity at that scale.
func (n *Notifier) resendDue(now time.Time) {
	var due, forgotten []alertID
	n.mu.Lock()
	for id, a := range n.alerts {
		if !a.firing() && now.Sub(a.ResolvedAt) >= n.opts.ResolvedRetention && !n.queuedLocked(id) {
			delete(n.alerts, id)
			forgotten = append(forgotten, id)
			continue
		}
		if !now.Before(a.nextSend) {
			a.nextSend = now.Add(n.opts.ResendInterval)
			due = append(due, id)
		}
	}
	n.mu.Unlock()
	if len(forgotten) > 0 {
		if err := n.save(forgotten); err != nil {
			n.logger.Error("Deleting expired alerts failed", "err", err)
		}
	}
	n.enqueue(due, false)
}

func (n *Notifier) queuedLocked(id alertID) bool {
	for _, l := range n.loops {
		if l.queue.contains(id) {
			return true
		}
	}
	return false
}

// checkMaintenanceEnds reconciles the endpoints whose maintenance window
// ended since the last check, so a down endpoint fires when its window ends.
func (n *Notifier) checkMaintenanceEnds(now time.Time) {
	var ended []collector.Key
	n.mu.Lock()
	for key, was := range n.maintained {
		is := inMaintenance(n.policies[key].Maintenance, now)
		if was && !is {
			ended = append(ended, key)
		}
		n.maintained[key] = is
	}
	n.mu.Unlock()
	if len(ended) > 0 {
		n.reconcile(ended)
	}
}

// render builds the payload for a batch at send time, refreshing the
// annotations of firing alerts from the endpoint's latest status. Alerts
// forgotten meanwhile are left out. The statuses are read before n.mu is
// taken, so a slow StatusSource never holds up reconciliation.
func (n *Notifier) render(batch []batchEntry, now time.Time) []*alertPayload {
	statuses := make(map[collector.Key]collector.Status, len(batch))
	for _, b := range batch {
		if st, known := n.opts.Statuses.Status(b.id.key()); known {
			statuses[b.id.key()] = st
		}
	}
	out := make([]*alertPayload, 0, len(batch))
	n.mu.Lock()
	defer n.mu.Unlock()
	lease := leaseFactor * n.opts.ResendInterval
	for _, b := range batch {
		a, ok := n.alerts[b.id]
		if !ok {
			continue
		}
		pol := n.policies[b.id.key()]
		if st, known := statuses[b.id.key()]; known && pol != nil && a.firing() {
			a.Annotations = annotationsFor(b.id.Name, b.id.key(), pol, st)
		}
		out = append(out, &alertPayload{id: b.id, alert: a.postable(now, lease)})
	}
	return out
}

func (n *Notifier) maxBatchSize() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.opts.MaxBatchSize
}

// maxBackoff returns the longest wait between two attempts to deliver to
// a failing Alertmanager.
func (n *Notifier) maxBackoff() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return max(minBackoff, min(maxBackoff, n.opts.ResendInterval/2))
}

func firstPositive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
