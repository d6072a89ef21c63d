package alerting

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/client_golang/prometheus"
)

// Retry timing of a failing Alertmanager: the wait doubles from
// minBackoff up to maxBackoff, or up to half the resend interval if that
// is shorter, so alerts reach an Alertmanager that comes back within one
// resend interval.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// drainTimeout bounds the last attempt to deliver the queues when the
// notifier stops. Every alert is saved and sent again at the next start,
// and a firing alert's lease outlasts a short restart, so the drain only
// spares Alertmanager a late resolve on a deliberate stop. It is short
// because a hanging Alertmanager must not hold up shutdown.
const drainTimeout = 2 * time.Second

// alertPayload is an alert rendered for one send.
type alertPayload struct {
	id    alertID
	alert *models.PostableAlert
}

// sendLoop delivers the queue of one Alertmanager. Each Alertmanager has its
// own loop, so one that hangs or refuses delays no other.
type sendLoop struct {
	// name is the redacted URL that labels the loop's metrics; it stays
	// fixed while the rest of the Alertmanager's settings may be reloaded.
	name  string
	dest  atomic.Pointer[destination]
	queue *queue
	n     *Notifier

	sent, failed, dropped prometheus.Counter
	latency               prometheus.Observer

	cancel context.CancelFunc
	done   chan struct{}
}

// destination is an Alertmanager and the client that reaches it.
type destination struct {
	am     Alertmanager
	client *client
}

func (n *Notifier) newSendLoop(am Alertmanager) *sendLoop {
	l := &sendLoop{
		name:  am.Name,
		queue: newQueue(n.opts.QueueCapacity),
		n:     n,
		done:  make(chan struct{}),
	}
	l.setAlertmanager(am)
	n.metrics.addAlertmanager(l)
	return l
}

func (l *sendLoop) setAlertmanager(am Alertmanager) {
	l.dest.Store(&destination{am: am, client: newClient(am.URL, am.Client, am.Timeout)})
}

// push queues an alert and counts an entry dropped to make room.
func (l *sendLoop) push(id alertID, transition bool, seq uint64) {
	dropped, ok := l.queue.push(id, transition, seq)
	if ok {
		l.dropped.Inc()
		l.n.logger.Warn("Alertmanager queue full, dropped the oldest pending alert",
			"alertmanager", l.name, "capacity", l.queue.capacityNow(),
			"company", dropped.Company, "endpoint", dropped.Endpoint, "alertname", dropped.Name)
	}
}

// run delivers the queue until ctx ends. If the notifier is stopping
// (stopping has ended too, rather than the loop being removed), it drains
// the queue once before it returns.
func (l *sendLoop) run(ctx, stopping context.Context) {
	defer close(l.done)
	defer func() {
		if stopping.Err() != nil {
			l.drain()
		}
	}()
	backoff := minBackoff
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.queue.ready:
		}
		for {
			batch := l.queue.peek(l.n.maxBatchSize())
			if len(batch) == 0 {
				break
			}
			err := l.send(ctx, batch)
			if err == nil {
				if lastErr != "" {
					l.n.logger.Info("Alertmanager reachable again", "alertmanager", l.name)
					lastErr = ""
				}
				backoff = minBackoff
				continue
			}
			if ctx.Err() != nil {
				return
			}
			// Log a failure when it differs from the previous one, so a long
			// outage does not flood the log.
			if msg := err.Error(); msg != lastErr {
				l.n.logger.Error("Sending alerts to Alertmanager failed; retrying", "alertmanager", l.name,
					"alerts", len(batch), "err", err)
				lastErr = msg
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, l.n.maxBackoff())
		}
	}
}

// drain makes one attempt to deliver each batch still queued, within
// drainTimeout, and stops at the first failure.
func (l *sendLoop) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for ctx.Err() == nil {
		batch := l.queue.peek(l.n.maxBatchSize())
		if len(batch) == 0 {
			return
		}
		if err := l.send(ctx, batch); err != nil {
			l.n.logger.Warn("Alerts left undelivered at shutdown; they are sent again at the next start",
				"alertmanager", l.name, "queued", l.queue.len(), "err", err)
			return
		}
	}
}

// send posts one batch. On success, or on a rejection that retrying cannot
// fix, it removes the batch from the queue; a rejected alert goes out again
// with its next resend. A retryable error leaves the batch queued.
func (l *sendLoop) send(ctx context.Context, batch []batchEntry) error {
	payload := l.n.render(batch, time.Now())
	if len(payload) == 0 {
		l.queue.ack(batch)
		return nil
	}
	alerts := make(models.PostableAlerts, len(payload))
	for i, p := range payload {
		alerts[i] = p.alert
	}
	start := time.Now()
	err := l.dest.Load().client.post(ctx, alerts)
	l.latency.Observe(time.Since(start).Seconds())
	if err == nil {
		l.sent.Add(float64(len(alerts)))
		l.queue.ack(batch)
		return nil
	}
	l.failed.Add(float64(len(alerts)))
	var se *sendError
	if errors.As(err, &se) && !se.retryable {
		l.n.logger.Error("Alertmanager rejected alerts; they will be sent again at their next resend",
			"alertmanager", l.name, "alerts", len(alerts), "status", se.status, "response", se.body)
		l.queue.ack(batch)
		return nil
	}
	return err
}

// startLoop runs l under the notifier's context. The caller holds n.mu.
func (n *Notifier) startLoop(l *sendLoop) {
	ctx, cancel := context.WithCancel(n.loopsCtx)
	l.cancel = cancel
	n.loopsWG.Add(1)
	go func() {
		defer n.loopsWG.Done()
		l.run(ctx, n.loopsCtx)
	}()
}

// SetAlertmanagers replaces the set of Alertmanagers. An Alertmanager is
// identified by its Name, the redacted URL: one whose name is unchanged
// keeps its loop, queue and metrics, and takes the new client settings
// (such as a changed password). A new Alertmanager gets every current alert
// at once.
func (n *Notifier) SetAlertmanagers(ams []Alertmanager) {
	n.mu.Lock()
	old := map[string]*sendLoop{}
	for _, l := range n.loops {
		old[l.name] = l
	}
	kept := map[string]bool{}
	for _, am := range ams {
		if _, ok := old[am.Name]; ok {
			kept[am.Name] = true
		}
	}
	// Remove the series of the loops that go before the new loops create
	// theirs, so no new series is deleted by a name it shares.
	for name, l := range old {
		if !kept[name] {
			if l.cancel != nil {
				l.cancel()
			}
			n.metrics.removeAlertmanager(l)
		}
	}

	var loops, added []*sendLoop
	for _, am := range ams {
		if l, ok := old[am.Name]; ok {
			l.setAlertmanager(am)
			loops = append(loops, l)
			continue
		}
		l := n.newSendLoop(am)
		loops = append(loops, l)
		added = append(added, l)
		if n.started {
			n.startLoop(l)
		}
	}
	n.loops = loops

	ids := make([]alertID, 0, len(n.alerts))
	for id := range n.alerts {
		ids = append(ids, id)
	}
	n.seq++
	seq := n.seq
	n.mu.Unlock()

	for _, l := range added {
		for _, id := range ids {
			l.push(id, false, seq)
		}
	}
}
