package main

import (
	"fmt"
	"strconv"
	"time"
)

// alertTables lays the alert results out in two tables: the latency of the
// firing and the resolved alerts, and what went over the wire.
func (r *report) alertTables() []table {
	results := r.alertResults()
	if len(results) == 0 {
		return nil
	}
	latency := table{
		left:  2,
		title: "Alert latency: from the target's switch to Alertmanager's response to the POST",
		header: []string{"Scenario", "Alerts", "Interval / timeout", "At Alertmanager", "Bound",
			"Switch to Alertmanager p50 / p99 / max", "Over the bound",
			"Switch to probe p50 / p99 / max", "Probe to Alertmanager p50 / p99 / max",
			"Listed by GET /api/v2/alerts"},
	}
	delivery := table{
		left:  1,
		title: "Alert delivery",
		header: []string{"Scenario", "POSTs (rejected)", "Alerts before the switch",
			"Alerts of healthy endpoints", "Notifications sent / errors / dropped", "Peak RSS MiB"},
	}
	for _, m := range results {
		name := repeatedName(m, results)
		a := m.Alert
		setting := fmt.Sprintf("%v / %v", m.Interval, a.Timeout)
		latency.rows = append(latency.rows,
			alertLatencyRow(name, "firing", setting, a.Paths, a.Bound, a.Firing, a.ActiveFiring),
			alertLatencyRow(name, "resolved", setting, a.Paths, a.Bound, a.Resolved, a.ActiveResolved))
		delivery.rows = append(delivery.rows, []string{name,
			fmt.Sprintf("%d (%d)", a.Posts, a.RejectedPosts), strconv.Itoa(a.BeforeSwitch),
			strconv.Itoa(a.Unexpected), fmt.Sprintf("%.0f / %.0f / %.0f", a.Sent, a.Errors, a.Dropped),
			fmt.Sprintf("%.1f", float64(m.PeakRSS)/1024)})
	}
	return []table{latency, delivery}
}

func alertLatencyRow(name, kind, setting string, paths int, bound time.Duration, l alertLatency, listed int) []string {
	return []string{name, kind, setting, fmt.Sprintf("%d of %d", l.Arrived, paths), shortDuration(bound),
		describeStats(l.Total), strconv.Itoa(l.OverBound), describeStats(l.Probe), describeStats(l.Notify),
		fmt.Sprintf("%d of %d", listed, paths)}
}

// describeStats formats percentiles as "p50 / p99 / max", or "–" for the
// zero value, which statsOf returns for no values.
func describeStats(s durationStats) string {
	if s == (durationStats{}) {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s", shortDuration(s.P50), shortDuration(s.P99), shortDuration(s.Max))
}
