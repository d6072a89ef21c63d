package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// alertPost is one POST /api/v2/alerts that went through the recording
// proxy to Alertmanager.
type alertPost struct {
	// Arrived is when the proxy had read the whole body, and Acked when
	// Alertmanager's response, with Status, had arrived.
	Arrived time.Time
	Acked   time.Time
	Status  int
	Alerts  []postedAlert
}

// postedAlert is one alert of a POST.
type postedAlert struct {
	Name     string
	Endpoint string
	// Firing is false for a resolved alert: one whose endsAt had passed
	// when it arrived, which is how Alertmanager distinguishes the two.
	Firing bool
}

// parseAlertPost reads the body of a POST /api/v2/alerts, a JSON list of
// alerts as Alertmanager's API defines them, that arrived at arrived.
func parseAlertPost(body []byte, arrived time.Time) ([]postedAlert, error) {
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		EndsAt time.Time         `json:"endsAt"`
	}
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, fmt.Errorf("invalid alerts posted to Alertmanager: %w", err)
	}
	out := make([]postedAlert, len(alerts))
	for i, a := range alerts {
		out[i] = postedAlert{
			Name:     a.Labels["alertname"],
			Endpoint: a.Labels["endpoint"],
			Firing:   a.EndsAt.IsZero() || a.EndsAt.After(arrived),
		}
	}
	return out, nil
}

// alertResult holds the figures of one run of the alert scenario.
type alertResult struct {
	Paths   int           `json:"failing_paths"`
	Timeout time.Duration `json:"timeout_ns"`
	Bound   time.Duration `json:"bound_ns"`
	// FailAt and RecoverAt are when the target switched the paths to
	// failing and back to healthy.
	FailAt    time.Time    `json:"fail_at"`
	RecoverAt time.Time    `json:"recover_at"`
	Firing    alertLatency `json:"firing"`
	Resolved  alertLatency `json:"resolved"`
	// ActiveFiring and ActiveResolved count the failing paths' alerts in
	// Alertmanager's GET /api/v2/alerts after all alerts had fired, and
	// after all had resolved (or the wait for them ended).
	ActiveFiring   int `json:"active_after_firing"`
	ActiveResolved int `json:"active_after_resolving"`
	// Posts counts the POSTs to Alertmanager and RejectedPosts those it
	// responded to with a status other than 200. BeforeSwitch counts the alerts posted
	// before the paths failed, and Unexpected those of endpoints whose
	// path never failed. Both should be 0.
	Posts         int `json:"posts"`
	RejectedPosts int `json:"rejected_posts"`
	BeforeSwitch  int `json:"alerts_before_switch"`
	Unexpected    int `json:"unexpected_alerts"`
	// Sent, Errors and Dropped are apiwatch's
	// apiwatch_notifications_{sent,errors,dropped}_total at the end of the
	// run, summed over Alertmanagers.
	Sent    float64 `json:"notifications_sent"`
	Errors  float64 `json:"notifications_errors"`
	Dropped float64 `json:"notifications_dropped"`
}

// alertLatency describes how fast the alerts of one switch, all firing or
// all resolved, reached Alertmanager.
type alertLatency struct {
	// Arrived counts the paths whose alert Alertmanager acknowledged after
	// the switch, and Missing the others.
	Arrived int `json:"arrived"`
	Missing int `json:"missing"`
	// Total is from the switch to Alertmanager's response to the POST
	// that carried the path's alert, and OverBound counts the paths over
	// the plan's bound.
	Total     durationStats `json:"switch_to_alertmanager"`
	OverBound int           `json:"over_bound"`
	// Probe is from the switch to the path's first probe after it, at the
	// target, and Notify from that probe to Alertmanager's response.
	Probe  durationStats `json:"switch_to_probe"`
	Notify durationStats `json:"probe_to_alertmanager"`
}

// durationStats holds percentiles of a set of durations.
type durationStats struct {
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// statsOf returns the percentiles of values, durations in nanoseconds, which
// it sorts.
func statsOf(values []float64) durationStats {
	slices.Sort(values)
	return durationStats{
		P50: time.Duration(percentile(values, 50)),
		P99: time.Duration(percentile(values, 99)),
		Max: time.Duration(percentile(values, 100)),
	}
}

// measureAlertLatency finds, for each path, the first alert with the given
// firing state that Alertmanager acknowledged with 200 in a POST that
// arrived at or after switchAt, and the path's first hit at or after
// switchAt. hits holds each path's sorted hits in Unix nanoseconds.
func measureAlertLatency(
	paths []int,
	hits [][]int64,
	posts []alertPost,
	firing bool,
	switchAt time.Time,
	bound time.Duration,
) alertLatency {
	acked := firstAcks(posts, firing, switchAt)
	var l alertLatency
	var total, probe, notify []float64
	for _, p := range paths {
		_, name := endpointNames(p)
		at, ok := acked[name]
		if !ok {
			l.Missing++
			continue
		}
		l.Arrived++
		d := at.Sub(switchAt)
		total = append(total, float64(d))
		if d > bound {
			l.OverBound++
		}
		times := pathHits(hits, p)
		i := countBefore(times, switchAt.UnixNano())
		if i < len(times) && times[i] <= at.UnixNano() {
			probe = append(probe, float64(times[i]-switchAt.UnixNano()))
			notify = append(notify, float64(at.UnixNano()-times[i]))
		}
	}
	l.Total, l.Probe, l.Notify = statsOf(total), statsOf(probe), statsOf(notify)
	return l
}

// firstAcks returns, per endpoint, the earliest time Alertmanager
// acknowledged an alert of it in the given firing state, among the POSTs
// that arrived at or after since.
func firstAcks(posts []alertPost, firing bool, since time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, post := range posts {
		if post.Status != http.StatusOK || post.Arrived.Before(since) {
			continue
		}
		for _, a := range post.Alerts {
			if a.Firing != firing {
				continue
			}
			if at, ok := out[a.Endpoint]; !ok || post.Acked.Before(at) {
				out[a.Endpoint] = post.Acked
			}
		}
	}
	return out
}

// countPosts returns the number of POSTs, those Alertmanager rejected with a
// status other than 200, the alerts that arrived before failAt, and the
// alerts of endpoints that are not among the failing paths.
func countPosts(posts []alertPost, paths []int, failAt time.Time) (total, rejected, beforeSwitch, unexpected int) {
	failing := map[string]bool{}
	for _, name := range endpointNamesOf(paths) {
		failing[name] = true
	}
	for _, post := range posts {
		total++
		if post.Status != http.StatusOK {
			rejected++
		}
		for _, a := range post.Alerts {
			if post.Arrived.Before(failAt) {
				beforeSwitch++
			}
			if !failing[a.Endpoint] {
				unexpected++
			}
		}
	}
	return total, rejected, beforeSwitch, unexpected
}
