package collector

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"time"
)

// MetricsDetail selects the optional per-endpoint series, which make up
// most of a scrape: the probe duration histogram is 13 series per endpoint
// and the phase durations 5.
type MetricsDetail struct {
	DurationHistogram bool
	PhaseDurations    bool
}

// FullMetricsDetail exports every per-endpoint series.
var FullMetricsDetail = MetricsDetail{DurationHistogram: true, PhaseDurations: true}

// endpointFamily is one per-endpoint metric family of the text exposition.
type endpointFamily struct {
	name, help, kind string
	// write appends the family's series of one endpoint to w. The caller
	// holds e.mu.
	write func(w *seriesWriter, e *endpoint)
	// enabled reports whether the family is written at detail d.
	enabled func(d MetricsDetail) bool
}

// WriteEndpointMetrics writes every endpoint's series in the Prometheus text
// format (version 0.0.4), family by family and, within a family, sorted by
// company and endpoint. It streams: nothing is built per series, so a scrape
// of 100,000 endpoints costs little more memory than one of ten. Each family
// reads each endpoint under its lock, so a probe that finishes during the
// scrape may show in one family and not yet in an earlier one, as with
// separate collectors.
func (m *Manager) WriteEndpointMetrics(w io.Writer, d MetricsDetail) error {
	eps := m.sortedEndpoints()
	sw := &seriesWriter{w: bufio.NewWriterSize(w, 64<<10)}
	for _, f := range endpointFamilies {
		if f.enabled != nil && !f.enabled(d) {
			continue
		}
		sw.header(f.name, f.help, f.kind)
		for _, e := range eps {
			sw.prefix = e.labels
			e.mu.Lock()
			f.write(sw, e)
			e.mu.Unlock()
		}
		if sw.err != nil {
			return sw.err
		}
	}
	return sw.w.Flush()
}

// seriesWriter appends text exposition lines to a buffered writer. prefix
// is the label pairs of the endpoint being written, which every series of
// the endpoint starts with.
type seriesWriter struct {
	w      *bufio.Writer
	err    error
	prefix string // company="...",endpoint="...", escaped
	line   []byte // the line being built, reused
}

func (sw *seriesWriter) header(name, help, kind string) {
	sw.str("# HELP " + name + " " + help + "\n# TYPE " + name + " " + kind + "\n")
}

// exposedLabels returns the label pairs of k as the text format writes
// them, escaped.
func exposedLabels(k Key) string {
	b := append([]byte(nil), `company="`...)
	b = appendLabelValue(b, k.Company)
	b = append(b, `",endpoint="`...)
	b = appendLabelValue(b, k.Endpoint)
	return string(append(b, '"'))
}

func (sw *seriesWriter) str(s string) {
	if sw.err == nil {
		_, sw.err = sw.w.WriteString(s)
	}
}

// series writes name{<endpoint labels>[,extraName="extraValue"]} value.
func (sw *seriesWriter) series(name, extraName, extraValue string, v float64) {
	if sw.err != nil {
		return
	}
	b := sw.line[:0]
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, sw.prefix...)
	if extraName != "" {
		b = append(b, ',')
		b = append(b, extraName...)
		b = append(b, `="`...)
		b = appendLabelValue(b, extraValue)
		b = append(b, '"')
	}
	b = append(b, "} "...)
	b = appendValue(b, v)
	b = append(b, '\n')
	sw.line = b
	_, sw.err = sw.w.Write(b)
}

func (sw *seriesWriter) timestamp(name string, t time.Time) {
	if !t.IsZero() {
		sw.series(name, "", "", unixSeconds(t))
	}
}

// appendValue formats v as the text format does: Go's shortest float
// representation, with +Inf, -Inf and NaN spelled out. Whole numbers, which
// most values are (counters, codes, 0 and 1), are written as integers,
// which is faster and reads the same to a parser.
func appendValue(b []byte, v float64) []byte {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendLabelValue escapes a label value as the text format requires.
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// probed reports whether the endpoint was probed since the process
// started; the series of the last probe exist only then.
func probed(e *endpoint) bool { return e.counts.probes > 0 }

// durationBucketLabels are the le label values of durationBuckets.
var durationBucketLabels = func() []string {
	out := make([]string, len(durationBuckets))
	for i, b := range durationBuckets {
		out[i] = strconv.FormatFloat(b, 'g', -1, 64)
	}
	return out
}()

// endpointFamilies are the per-endpoint families, in the order they are
// written. Their names and help texts are those of the registry collector
// in metrics.go, which serves them when the stream is not used.
var endpointFamilies = []endpointFamily{
	{name: "probe_up", help: helpUp, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if e.status.State != StateUnknown {
			w.series("probe_up", "", "", boolFloat(e.status.State.Available()))
		}
	}},
	{name: "probe_degraded", help: helpDegraded, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if e.status.State != StateUnknown {
			w.series("probe_degraded", "", "", boolFloat(e.status.State == StateDegraded))
		}
	}},
	{name: "probe_success", help: helpSuccess, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.series("probe_success", "", "", boolFloat(e.last.success))
		}
	}},
	{name: "probe_http_status_code", help: helpStatusCode, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.series("probe_http_status_code", "", "", float64(e.status.LastStatusCode))
		}
	}},
	{name: "probe_http_redirects", help: helpRedirects, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.series("probe_http_redirects", "", "", float64(e.last.redirects))
		}
	}},
	{name: "probe_ip_protocol", help: helpIPProtocol, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.series("probe_ip_protocol", "", "", float64(e.last.ipVersion))
		}
	}},
	{name: "probe_state_change_timestamp_seconds", help: helpStateChange, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		w.timestamp("probe_state_change_timestamp_seconds", e.status.Since)
	}},
	{name: "probe_last_check_timestamp_seconds", help: helpLastCheck, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		w.timestamp("probe_last_check_timestamp_seconds", e.status.LastCheck)
	}},
	{name: "probe_last_success_timestamp_seconds", help: helpLastSuccess, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		w.timestamp("probe_last_success_timestamp_seconds", e.status.LastSuccess)
	}},
	{name: "probe_last_failure_timestamp_seconds", help: helpLastFailure, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		w.timestamp("probe_last_failure_timestamp_seconds", e.status.LastFailure)
	}},
	{name: "probe_tls_cert_expiry_timestamp_seconds", help: helpCertExpiry, kind: "gauge", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.timestamp("probe_tls_cert_expiry_timestamp_seconds", e.last.tlsCertExpiry)
		}
	}},
	{name: "probe_phase_duration_seconds", help: helpPhase, kind: "gauge",
		enabled: func(d MetricsDetail) bool { return d.PhaseDurations },
		write: func(w *seriesWriter, e *endpoint) {
			if !probed(e) {
				return
			}
			for p := range NumPhases {
				w.series("probe_phase_duration_seconds", "phase", p.String(), e.last.phases[p].Seconds())
			}
		}},
	{name: "probe_duration_seconds", help: helpDuration, kind: "histogram",
		enabled: func(d MetricsDetail) bool { return d.DurationHistogram },
		write: func(w *seriesWriter, e *endpoint) {
			c := &e.counts
			if c.probes == 0 {
				return
			}
			var cumulative uint64
			for i, le := range durationBucketLabels {
				cumulative += c.durations[i]
				w.series("probe_duration_seconds_bucket", "le", le, float64(cumulative))
			}
			w.series("probe_duration_seconds_bucket", "le", "+Inf", float64(c.probes))
			w.series("probe_duration_seconds_sum", "", "", c.sum)
			w.series("probe_duration_seconds_count", "", "", float64(c.probes))
		}},
	{name: "probe_failures_total", help: helpFailures, kind: "counter", write: func(w *seriesWriter, e *endpoint) {
		for r := Reason(1); r < numReasons; r++ {
			if n := e.counts.failures[r]; n > 0 {
				w.series("probe_failures_total", "reason", r.String(), float64(n))
			}
		}
	}},
	{name: "probe_retries_total", help: helpRetries, kind: "counter", write: func(w *seriesWriter, e *endpoint) {
		if probed(e) {
			w.series("probe_retries_total", "", "", float64(e.counts.retries))
		}
	}},
}
