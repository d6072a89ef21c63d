package alerting

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's metrics. Per-Alertmanager series are created
// when an Alertmanager is configured, so counters start at 0, and deleted
// when it is removed.
type metrics struct {
	n *Notifier

	sent, errors, dropped *prometheus.CounterVec
	latency               *prometheus.HistogramVec
	queueLength, capacity *prometheus.Desc
	alerts                *prometheus.Desc
}

var amLabel = []string{"alertmanager"}

func newMetrics(n *Notifier) *metrics {
	return &metrics{
		n: n,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_notifications_sent_total",
			Help: "Alerts delivered to an Alertmanager.",
		}, amLabel),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_notifications_errors_total",
			Help: "Alerts whose delivery to an Alertmanager failed; each failed attempt counts.",
		}, amLabel),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_notifications_dropped_total",
			Help: "Alerts dropped from a full Alertmanager queue before they were delivered.",
		}, amLabel),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "apiwatch_notification_latency_seconds",
			Help:    "Duration of requests that post alerts to an Alertmanager.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, amLabel),
		queueLength: prometheus.NewDesc("apiwatch_notifications_queue_length",
			"Alerts waiting to be sent to an Alertmanager.", amLabel, nil),
		capacity: prometheus.NewDesc("apiwatch_notifications_queue_capacity",
			"Capacity of an Alertmanager's queue.", amLabel, nil),
		alerts: prometheus.NewDesc("apiwatch_alerts",
			"Alerts apiwatch holds, by state: firing, or resolved and still resent until the retention ends.",
			[]string{"state"}, nil),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.sent, m.errors, m.dropped, m.latency, m} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) addAlertmanager(l *sendLoop) {
	l.sent = m.sent.WithLabelValues(l.name)
	l.failed = m.errors.WithLabelValues(l.name)
	l.dropped = m.dropped.WithLabelValues(l.name)
	l.latency = m.latency.WithLabelValues(l.name)
}

func (m *metrics) removeAlertmanager(l *sendLoop) {
	m.sent.DeleteLabelValues(l.name)
	m.errors.DeleteLabelValues(l.name)
	m.dropped.DeleteLabelValues(l.name)
	m.latency.DeleteLabelValues(l.name)
}

// Describe sends the descriptors of the metrics read at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.queueLength
	ch <- m.capacity
	ch <- m.alerts
}

// Collect sends queue lengths and alert counts.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.n.mu.Lock()
	loops := m.n.loops
	var firing, resolved int
	for _, a := range m.n.alerts {
		if a.firing() {
			firing++
		} else {
			resolved++
		}
	}
	m.n.mu.Unlock()
	for _, l := range loops {
		ch <- prometheus.MustNewConstMetric(m.queueLength, prometheus.GaugeValue, float64(l.queue.len()), l.name)
		ch <- prometheus.MustNewConstMetric(m.capacity, prometheus.GaugeValue, float64(l.queue.capacityNow()), l.name)
	}
	ch <- prometheus.MustNewConstMetric(m.alerts, prometheus.GaugeValue, float64(firing), "firing")
	ch <- prometheus.MustNewConstMetric(m.alerts, prometheus.GaugeValue, float64(resolved), "resolved")
}
