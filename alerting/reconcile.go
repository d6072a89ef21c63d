package alerting

import (
	"maps"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

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

// reconcileAlerting checks the endpoints that have an alert, firing or
// resolved.
func (n *Notifier) reconcileAlerting() {
	n.mu.Lock()
	keys := make([]collector.Key, 0, len(n.alerts))
	for id := range n.alerts {
		keys = append(keys, id.key())
	}
	n.mu.Unlock()
	n.reconcile(keys)
}

// endpointStatus is a status read for reconciliation.
type endpointStatus struct {
	status collector.Status
	known  bool
}

// reconcile fires, keeps or resolves the alerts of each key so that they
// match the endpoint's state, saves what changed and queues it.
//
// Reconciliations decide one at a time under reconcileMu. Each reads the
// statuses before taking n.mu, so the StatusSource is never called with
// n.mu held, and a reconciliation that starts later also reads later
// statuses and acts after the earlier one.
func (n *Notifier) reconcile(keys []collector.Key) {
	n.reconcileMu.Lock()
	statuses := make([]endpointStatus, len(keys))
	for i, key := range keys {
		statuses[i].status, statuses[i].known = n.opts.Statuses.Status(key)
	}
	now := time.Now()
	var changed []alertID
	n.mu.Lock()
	for i, key := range keys {
		changed = n.reconcileKey(key, statuses[i], now, changed)
	}
	n.mu.Unlock()
	n.reconcileMu.Unlock()
	// Saves of concurrent reconciliations merge into one write, and the
	// saver writes each alert's latest form last.
	n.commit(changed, true)
}

// alertNames lists every alert name that alertNameFor can return.
var alertNames = []string{AlertEndpointDown, AlertEndpointDegraded}

// reconcileKey does reconcile's work for one key. The caller holds n.mu.
func (n *Notifier) reconcileKey(key collector.Key, es endpointStatus, now time.Time, changed []alertID) []alertID {
	pol := n.policies[key]
	want, wantOK := "", false
	if pol != nil && es.known {
		want, wantOK = alertNameFor(es.status.State)
	}
	for _, name := range alertNames {
		id := alertID{Company: key.Company, Endpoint: key.Endpoint, Name: name}
		a := n.alerts[id]
		switch {
		case a != nil && a.firing() && (!wantOK || want != name):
			if n.resolve(a, pol, es, now) {
				changed = append(changed, id)
			}
		case wantOK && want == name && (a == nil || !a.firing()):
			if n.fire(id, pol, es.status, now) {
				changed = append(changed, id)
			}
		}
	}
	return changed
}

// fire starts a firing alert, unless the endpoint is in a maintenance
// window. The caller holds n.mu.
func (n *Notifier) fire(id alertID, pol *EndpointPolicy, st collector.Status, now time.Time) bool {
	if inMaintenance(pol.Maintenance, now) {
		return false
	}
	since := st.Since
	if since.IsZero() || since.After(now) {
		since = now
	}
	a := &alert{
		ID:           id,
		Labels:       alertLabels(id.Name, id.key(), pol),
		StartsAt:     fireTime(pol.Maintenance, since, now),
		GeneratorURL: generatorURL(n.opts.ExternalURL, id.key()),
		nextSend:     now.Add(n.opts.ResendInterval),
	}
	n.alerts[id] = a
	reason, message := alertCause(id.Name, st)
	n.logger.Warn("Alert firing", "alertname", id.Name, "company", id.Company, "endpoint", id.Endpoint,
		"starts_at", a.StartsAt, "reason", reason, "message", message)
	return true
}

// resolve ends a firing alert if resolveTime allows it. The caller holds
// n.mu.
func (n *Notifier) resolve(a *alert, pol *EndpointPolicy, es endpointStatus, now time.Time) bool {
	resolvedAt, ok := resolveTime(a, pol, es, now)
	if !ok {
		return false
	}
	a.ResolvedAt = resolvedAt
	a.nextSend = now.Add(n.opts.ResendInterval)
	n.logger.Info("Alert resolved", "alertname", a.ID.Name, "company", a.ID.Company, "endpoint", a.ID.Endpoint,
		"starts_at", a.StartsAt, "resolved_at", a.ResolvedAt)
	return true
}

// resolveTime returns when a firing alert ended. An endpoint that is gone
// from the configuration resolves now. A configured endpoint the
// StatusSource does not know yet (the notifier may get a configuration
// before the collector) keeps its alert firing. Otherwise the state must
// have been confirmed by a probe that finished after the alert started: a
// status restored from before the alert (possible after a crash) is not
// enough, and the alert keeps firing until a probe decides.
func resolveTime(a *alert, pol *EndpointPolicy, es endpointStatus, now time.Time) (time.Time, bool) {
	switch {
	case pol == nil:
		return now, true
	case !es.known, es.status.LastCheck.Before(a.StartsAt):
		return time.Time{}, false
	case es.status.Since.After(a.StartsAt):
		return es.status.Since, true
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
	if name == AlertEndpointDegraded {
		labels["severity"] = DegradedSeverity
	}
	return labels
}

// commit saves the changed alerts and then queues them on every
// Alertmanager, so an alert Alertmanager has seen is on disk unless the
// save failed (which is logged).
func (n *Notifier) commit(ids []alertID, transition bool) {
	if len(ids) == 0 {
		return
	}
	if err := n.save(ids); err != nil {
		n.logger.Error("Saving alerts failed; they are sent anyway", "err", err)
	}
	n.enqueue(ids, transition)
}
