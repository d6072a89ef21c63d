package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the manager's own counters and the collector that exports
// every endpoint's status at scrape time. Reading the status at scrape time
// means a removed endpoint's series vanish with it.
type metrics struct {
	m *Manager

	lag           prometheus.Histogram
	skipped       prometheus.Counter
	inFlight      prometheus.Gauge
	probes        *prometheus.CounterVec
	probesSuccess prometheus.Counter
	probesFailure prometheus.Counter
	saveErrors    prometheus.Counter

	up, degraded, success, statusCode, redirects, ipProtocol  *prometheus.Desc
	lastCheck, lastSuccess, lastFailure, stateChange          *prometheus.Desc
	duration, phase, failures, retries, certExpiry, endpoints *prometheus.Desc
}

var endpointLabels = []string{"company", "endpoint"}

// Help texts of the per-endpoint families, shared by the registry collector
// and WriteEndpointMetrics.
const (
	helpUp          = "Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict."
	helpDegraded    = "Whether the endpoint is degraded (1), that is up but slow or with a certificate close to expiry, or not (0); absent until the first verdict."
	helpSuccess     = "Whether the last probe succeeded (1), also when it found the endpoint degraded."
	helpStatusCode  = "HTTP status code of the last probe's final response, or 0 if none arrived."
	helpRedirects   = "Redirects followed by the last probe."
	helpIPProtocol  = "IP version (4 or 6) of the last probe's connection, or 0 if none was made."
	helpLastCheck   = "When the last probe finished, in seconds since the Unix epoch."
	helpLastSuccess = "When the last successful probe finished, in seconds since the Unix epoch."
	helpLastFailure = "When the last failed probe finished, in seconds since the Unix epoch."
	helpStateChange = "When the endpoint last changed state, in seconds since the Unix epoch."
	helpDuration    = "Duration of probes, from the DNS lookup to the last body byte, including redirects."
	helpPhase       = "Duration of each phase of the last probe, summed over redirects."
	helpFailures    = "Failed probes by reason. A reason appears once it has happened."
	helpRetries     = "Attempts made after a failed first attempt of a probe."
	helpCertExpiry  = "Expiry of the certificate that expires first in the last probe's verified TLS chain, or in the chain the server sent when verification is off, in seconds since the Unix epoch."
)

func newMetrics(m *Manager) *metrics {
	probes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apiwatch_probes_total",
		Help: "Probes finished, by result.",
	}, []string{"result"})
	return &metrics{
		m: m,
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apiwatch_scheduler_lag_seconds",
			Help:    "How late probes started after their scheduled time, including the wait for a concurrency slot.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiwatch_probes_skipped_total",
			Help: "Scheduled probes skipped because the previous probe of the endpoint was still running.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_probes_in_flight",
			Help: "Probes running now.",
		}),
		probes:        probes,
		probesSuccess: probes.WithLabelValues("success"),
		probesFailure: probes.WithLabelValues("failure"),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiwatch_state_save_errors_total",
			Help: "Failed writes of endpoint statuses to the storage directory.",
		}),

		up: prometheus.NewDesc("probe_up", helpUp,
			endpointLabels, nil),
		degraded: prometheus.NewDesc("probe_degraded", helpDegraded,
			endpointLabels, nil),
		success:     prometheus.NewDesc("probe_success", helpSuccess, endpointLabels, nil),
		statusCode:  prometheus.NewDesc("probe_http_status_code", helpStatusCode, endpointLabels, nil),
		redirects:   prometheus.NewDesc("probe_http_redirects", helpRedirects, endpointLabels, nil),
		ipProtocol:  prometheus.NewDesc("probe_ip_protocol", helpIPProtocol, endpointLabels, nil),
		lastCheck:   prometheus.NewDesc("probe_last_check_timestamp_seconds", helpLastCheck, endpointLabels, nil),
		lastSuccess: prometheus.NewDesc("probe_last_success_timestamp_seconds", helpLastSuccess, endpointLabels, nil),
		lastFailure: prometheus.NewDesc("probe_last_failure_timestamp_seconds", helpLastFailure, endpointLabels, nil),
		stateChange: prometheus.NewDesc("probe_state_change_timestamp_seconds", helpStateChange, endpointLabels, nil),
		duration:    prometheus.NewDesc("probe_duration_seconds", helpDuration, endpointLabels, nil),
		phase: prometheus.NewDesc("probe_phase_duration_seconds", helpPhase,
			append(endpointLabels[:2:2], "phase"), nil),
		failures: prometheus.NewDesc("probe_failures_total", helpFailures,
			append(endpointLabels[:2:2], "reason"), nil),
		retries: prometheus.NewDesc("probe_retries_total", helpRetries, endpointLabels, nil),
		certExpiry: prometheus.NewDesc("probe_tls_cert_expiry_timestamp_seconds", helpCertExpiry,
			endpointLabels, nil),
		endpoints: prometheus.NewDesc("apiwatch_endpoints",
			"Configured endpoints by state.", []string{"state"}, nil),
	}
}

func (ms *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{ms.lag, ms.skipped, ms.inFlight, ms.probes, ms.saveErrors, ms} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Describe sends the descriptors of the per-endpoint metrics.
func (ms *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ms.up, ms.degraded, ms.success, ms.statusCode, ms.redirects,
		ms.ipProtocol, ms.lastCheck, ms.lastSuccess, ms.lastFailure, ms.stateChange, ms.duration, ms.phase,
		ms.failures, ms.retries, ms.certExpiry, ms.endpoints} {
		ch <- d
	}
}

// Collect sends every endpoint's metrics, read from a copy of its status,
// so that a slow scrape never holds up recording a probe result.
func (ms *metrics) Collect(ch chan<- prometheus.Metric) {
	ms.m.mu.RLock()
	eps := make([]*endpoint, 0, len(ms.m.endpoints))
	for _, e := range ms.m.endpoints {
		eps = append(eps, e)
	}
	ms.m.mu.RUnlock()

	var counts [len(stateNames)]int
	for _, e := range eps {
		snap := e.snapshot()
		if int(snap.status.State) < len(counts) {
			counts[snap.status.State]++
		}
		if !ms.m.opts.StreamEndpointMetrics {
			ms.collectEndpoint(ch, e.key, &snap)
		}
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(ms.endpoints, prometheus.GaugeValue, float64(n), State(s).String())
	}
}

// collectEndpoint sends the series of one endpoint.
func (ms *metrics) collectEndpoint(ch chan<- prometheus.Metric, key Key, snap *endpointSnapshot) {
	c, ep := key.Company, key.Endpoint
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, c, ep)
	}
	timestamp := func(d *prometheus.Desc, t time.Time) {
		if !t.IsZero() {
			gauge(d, unixSeconds(t))
		}
	}

	s := &snap.status
	if s.State != StateUnknown {
		gauge(ms.up, boolFloat(s.State.Available()))
		gauge(ms.degraded, boolFloat(s.State == StateDegraded))
	}
	timestamp(ms.stateChange, s.Since)
	timestamp(ms.lastCheck, s.LastCheck)
	timestamp(ms.lastSuccess, s.LastSuccess)
	timestamp(ms.lastFailure, s.LastFailure)

	counts := &snap.counts
	if counts.probes == 0 {
		// Not probed since the process started: a restored status has the
		// timestamps above, but the last probe's details are gone.
		return
	}

	last := &snap.last
	gauge(ms.success, boolFloat(last.success))
	gauge(ms.statusCode, float64(s.LastStatusCode))
	gauge(ms.redirects, float64(last.redirects))
	gauge(ms.ipProtocol, float64(last.ipVersion))
	timestamp(ms.certExpiry, last.tlsCertExpiry)
	for p := range NumPhases {
		ch <- prometheus.MustNewConstMetric(ms.phase, prometheus.GaugeValue, last.phases[p].Seconds(), c, ep, p.String())
	}

	buckets := make(map[float64]uint64, len(durationBuckets))
	var cumulative uint64
	for i, b := range durationBuckets {
		cumulative += counts.durations[i]
		buckets[b] = cumulative
	}
	ch <- prometheus.MustNewConstHistogram(ms.duration, counts.probes, counts.sum, buckets, c, ep)

	for r := Reason(1); r < numReasons; r++ {
		if n := counts.failures[r]; n > 0 {
			ch <- prometheus.MustNewConstMetric(ms.failures, prometheus.CounterValue, float64(n), c, ep, r.String())
		}
	}
	ch <- prometheus.MustNewConstMetric(ms.retries, prometheus.CounterValue, float64(counts.retries), c, ep)
}

// unixSeconds returns t in seconds since the Unix epoch. Adding the fraction
// to the whole seconds keeps the value exact enough to print as
// 1772366415.123, where dividing UnixNano by 1e9 rounds twice and prints
// 1.7723664151230001e+09.
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
