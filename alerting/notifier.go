package alerting

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/storage"
)

// alertBucket is the storage bucket of alerts.
const alertBucket = "alerts"

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
	// reconcileInterval is how often every endpoint's state is compared
	// with the alerts, beside the checks that transitions trigger.
	reconcileInterval = 30 * time.Second
)

// StatusSource reads endpoint statuses; collector.Manager implements it.
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
	// credentials redacted.
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
type Notifier struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics

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

func (n *Notifier) restore() error {
	if n.opts.DB == nil {
		return nil
	}
	return n.opts.DB.ForEach(alertBucket, func(_, v []byte) error {
		a := &alert{}
		if err := json.Unmarshal(v, a); err != nil {
			n.logger.Warn("Ignoring unreadable saved alert", "err", err)
			return nil
		}
		// Send restored alerts at once, so Alertmanager gets a fresh lease.
		n.alerts[a.ID] = a
		return nil
	})
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
// state. It is meant for collector.Options.OnTransition.
func (n *Notifier) HandleTransition(tr collector.Transition) {
	n.reconcile([]collector.Key{tr.Key})
}

// reconcileAll checks every endpoint with a policy or an alert.
func (n *Notifier) reconcileAll() {
	n.mu.Lock()
	keys := make([]collector.Key, 0, len(n.policies)+len(n.alerts))
	for k := range n.policies {
		keys = append(keys, k)
	}
	for id := range n.alerts {
		if _, ok := n.policies[id.key()]; !ok {
			keys = append(keys, id.key())
		}
	}
	n.mu.Unlock()
	n.reconcile(keys)
}

// reconcile fires, keeps or resolves the alerts of each key so that they
// match the endpoint's state, saves what changed and queues it.
func (n *Notifier) reconcile(keys []collector.Key) {
	now := time.Now()
	var changed []alertID
	n.mu.Lock()
	for _, key := range keys {
		st, known := n.opts.Statuses.Status(key)
		changed = n.reconcileKey(key, st, known, now, changed)
	}
	n.mu.Unlock()
	n.commit(changed, true)
}

// reconcileKey does reconcile's work for one key. The caller holds n.mu.
func (n *Notifier) reconcileKey(key collector.Key, st collector.Status, known bool, now time.Time, changed []alertID) []alertID {
	pol := n.policies[key]
	want, wantOK := "", false
	if pol != nil && known {
		want, wantOK = alertNameFor(st.State)
	}
	for _, name := range []string{AlertEndpointDown} {
		id := alertID{Company: key.Company, Endpoint: key.Endpoint, Name: name}
		a := n.alerts[id]
		switch {
		case a != nil && a.firing() && (!wantOK || want != name):
			resolvedAt, ok := n.resolveTime(a, pol, st, known, now)
			if !ok {
				continue
			}
			a.ResolvedAt = resolvedAt
			a.nextSend = now.Add(n.opts.ResendInterval)
			n.logger.Info("Alert resolved", "alertname", name, "company", key.Company, "endpoint", key.Endpoint,
				"starts_at", a.StartsAt, "resolved_at", a.ResolvedAt)
			changed = append(changed, id)
		case wantOK && want == name && (a == nil || !a.firing()):
			if inMaintenance(pol.Maintenance, now) {
				continue
			}
			a = &alert{
				ID:           id,
				Labels:       alertLabels(name, key, pol),
				StartsAt:     fireTime(pol.Maintenance, st.Since, now),
				GeneratorURL: generatorURL(n.opts.ExternalURL, key),
				nextSend:     now.Add(n.opts.ResendInterval),
			}
			n.alerts[id] = a
			n.logger.Warn("Alert firing", "alertname", name, "company", key.Company, "endpoint", key.Endpoint,
				"starts_at", a.StartsAt, "reason", st.FailureReason, "message", st.FailureMessage)
			changed = append(changed, id)
		}
	}
	return changed
}

// resolveTime returns when a firing alert ended. An endpoint that is gone
// from the configuration resolves now. Otherwise the state must have been
// confirmed by a probe that finished after the alert started; a status
// restored from before the alert (possible after a crash) is not enough,
// and the alert keeps firing until a probe decides.
func (n *Notifier) resolveTime(a *alert, pol *EndpointPolicy, st collector.Status, known bool, now time.Time) (time.Time, bool) {
	if pol == nil || !known {
		return now, true
	}
	if st.LastCheck.Before(a.StartsAt) {
		return time.Time{}, false
	}
	if st.Since.After(a.StartsAt) {
		return st.Since, true
	}
	return now, true
}

// alertLabels returns the label set of an alert: the endpoint's labels,
// then the identifying ones, which cannot be overridden.
func alertLabels(name string, key collector.Key, pol *EndpointPolicy) map[string]string {
	labels := make(map[string]string, len(pol.Labels)+4)
	maps.Copy(labels, pol.Labels)
	labels["alertname"] = name
	labels["company"] = key.Company
	labels["endpoint"] = key.Endpoint
	labels["severity"] = pol.Severity
	return labels
}

// commit saves the changed alerts and then queues them on every
// Alertmanager, so an alert Alertmanager has seen is always on disk.
func (n *Notifier) commit(ids []alertID, transition bool) {
	if len(ids) == 0 {
		return
	}
	if err := n.save(ids); err != nil {
		n.logger.Error("Saving alerts failed; they are sent anyway", "err", err)
	}
	n.enqueue(ids, transition)
}

// save writes the current form of each alert, or deletes it if it is gone.
func (n *Notifier) save(ids []alertID) error {
	if n.opts.DB == nil {
		return nil
	}
	puts := map[string][]byte{}
	var deletes []string
	n.mu.Lock()
	for _, id := range ids {
		a, ok := n.alerts[id]
		if !ok {
			deletes = append(deletes, id.storageKey())
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			n.mu.Unlock()
			return err
		}
		puts[id.storageKey()] = b
	}
	n.mu.Unlock()
	return n.opts.DB.Batch(alertBucket, puts, deletes)
}

func (n *Notifier) enqueue(ids []alertID, transition bool) {
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

// Run resends alerts, forgets resolved ones after the retention period,
// watches maintenance windows and delivers until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	n.mu.Lock()
	n.loopsCtx = ctx
	n.started = true
	for _, l := range n.loops {
		n.startLoop(l)
	}
	n.mu.Unlock()

	// Everything restored goes out at once.
	n.reconcileAll()
	n.enqueue(n.alertIDs(), false)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastReconcile := time.Now()
	for {
		select {
		case <-ctx.Done():
			n.loopsWG.Wait()
			return
		case now := <-tick.C:
			n.resendDue(now)
			n.checkMaintenanceEnds(now)
			if now.Sub(lastReconcile) >= reconcileInterval {
				n.reconcileAll()
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

// resendDue queues the alerts whose resend time has come and forgets
// resolved alerts past retention that every Alertmanager has received.
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
// forgotten meanwhile are left out.
func (n *Notifier) render(batch []batchEntry, now time.Time) []*alertPayload {
	lease := leaseFactor * n.opts.ResendInterval
	out := make([]*alertPayload, 0, len(batch))
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range batch {
		a, ok := n.alerts[b.id]
		if !ok {
			continue
		}
		if pol := n.policies[b.id.key()]; pol != nil && a.firing() {
			if st, known := n.opts.Statuses.Status(b.id.key()); known {
				a.Annotations = annotationsFor(b.id.Name, b.id.key(), pol, st)
			}
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

func firstPositive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
