package alerting

import (
	"maps"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/apiwatch/apiwatch/collector"
)

var apiKey = collector.Key{Company: "acme", Endpoint: "api"}

// wantLabels is the label set of acme/api's EndpointDown alert under policy().
var wantLabels = models.LabelSet{
	"alertname": "EndpointDown",
	"company":   "acme",
	"endpoint":  "api",
	"severity":  "critical",
	"team":      "payments",
}

// TestOutageLeaseAndResend follows one outage of 15 minutes and its
// recovery, with resend_interval 1m and resolved_retention 15m, and checks
// every post.
func TestOutageLeaseAndResend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const resend = time.Minute
		am := newFakeAM(t)
		h := newHarness(t, "", nil, Options{ResendInterval: resend, ResolvedRetention: 15 * time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		start := time.Now()
		h.statuses.set(apiKey, up(start, start))
		h.start()
		synctest.Wait()

		time.Sleep(10 * time.Second)
		downAt := time.Now()
		h.transition(apiKey, down(downAt, downAt))
		// Down for 15 minutes and a half, so that the last resend and the
		// recovery do not happen at the same instant.
		for range 15*60 + 30 {
			time.Sleep(time.Second)
			h.statuses.set(apiKey, down(downAt, time.Now()))
		}
		recoveredAt := time.Now()
		h.transition(apiKey, up(recoveredAt, recoveredAt))
		time.Sleep(30 * time.Minute)
		synctest.Wait()

		sent := alertsOf(am.received())
		var firing, resolved []sentAlert
		for _, s := range sent {
			if time.Time(s.a.EndsAt).After(s.at) {
				firing = append(firing, s)
			} else {
				resolved = append(resolved, s)
			}
		}
		// Sent at the transition and then every minute until recovery.
		if len(firing) != 16 {
			t.Fatalf("got %d firing alerts, want 16 (the transition and 15 resends)", len(firing))
		}
		for i, s := range firing {
			if want := downAt.Add(time.Duration(i) * resend); !s.at.Equal(want) {
				t.Errorf("firing alert %d sent at %s, want %s", i, s.at.Sub(start), want.Sub(start))
			}
			if !equalLabels(s.a.Labels, wantLabels) {
				t.Errorf("firing alert %d labels = %v, want %v", i, s.a.Labels, wantLabels)
			}
			if got := time.Time(s.a.StartsAt); !got.Equal(downAt) {
				t.Errorf("firing alert %d startsAt = %s, want the transition %s", i, got, downAt)
			}
			lease := time.Time(s.a.EndsAt).Sub(s.at)
			if lease != 4*resend {
				t.Errorf("firing alert %d endsAt = send time + %s, want + %s", i, lease, 4*resend)
			}
			if lease < 3*resend || time.Time(s.a.EndsAt).Equal(time.Time(s.a.StartsAt)) {
				t.Errorf("firing alert %d has endsAt %s too close to its send time or startsAt", i, time.Time(s.a.EndsAt))
			}
		}
		for _, s := range resolved {
			if s.at.Before(recoveredAt) {
				t.Errorf("resolved alert sent at %s, before the recovery at %s", s.at.Sub(start), recoveredAt.Sub(start))
			}
		}
		// Sent at recovery and then every minute while the retention lasts.
		if len(resolved) != 15 {
			t.Fatalf("got %d resolved alerts, want 15 (the recovery and 14 resends)", len(resolved))
		}
		for i, s := range resolved {
			if want := recoveredAt.Add(time.Duration(i) * resend); !s.at.Equal(want) {
				t.Errorf("resolved alert %d sent at %s, want %s", i, s.at.Sub(start), want.Sub(start))
			}
			if got := time.Time(s.a.EndsAt); !got.Equal(recoveredAt) {
				t.Errorf("resolved alert %d endsAt = %s, want the recovery %s", i, got, recoveredAt)
			}
			if got := time.Time(s.a.StartsAt); !got.Equal(downAt) {
				t.Errorf("resolved alert %d startsAt = %s, want %s", i, got, downAt)
			}
			if !equalLabels(s.a.Labels, wantLabels) {
				t.Errorf("resolved alert %d labels = %v, want %v", i, s.a.Labels, wantLabels)
			}
		}
		if saved := savedAlerts(t, h.db); len(saved) != 0 {
			t.Errorf("database still holds %v after the retention", sortedKeys(saved))
		}
		if ids := h.n.alertIDs(); len(ids) != 0 {
			t.Errorf("notifier still holds %v after the retention", ids)
		}
	})
}

// TestOutageStableIdentity changes the failure five times during one
// outage: every post carries the same labels, and the annotations follow
// the failure.
func TestOutageStableIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()

		downAt := time.Now()
		failures := []struct {
			reason  collector.Reason
			code    int
			message string
		}{
			{collector.ReasonStatus, 500, "status 500"},
			{collector.ReasonStatus, 503, "status 503"},
			{collector.ReasonTimeout, 0, "timed out after 10s"},
			{collector.ReasonConnect, 0, "dial tcp 192.0.2.1:443: connect: connection refused"},
			{collector.ReasonStatus, 500, "status 500"},
		}
		for i, f := range failures {
			st := down(downAt, time.Now())
			st.FailureReason, st.LastStatusCode, st.FailureMessage = f.reason, f.code, f.message
			if i == 0 {
				h.transition(apiKey, st)
				continue
			}
			// Change the failure half-way between two resends; the
			// next resend carries it.
			time.Sleep(30 * time.Second)
			h.statuses.set(apiKey, st)
			time.Sleep(30 * time.Second)
		}
		synctest.Wait()

		sent := alertsOf(am.received())
		if len(sent) != len(failures) {
			t.Fatalf("got %d posts, want %d", len(sent), len(failures))
		}
		for i, f := range failures {
			a := sent[i].a
			if !equalLabels(a.Labels, wantLabels) {
				t.Errorf("post %d labels = %v, want %v", i, a.Labels, wantLabels)
			}
			if !time.Time(a.StartsAt).Equal(downAt) {
				t.Errorf("post %d startsAt = %s, want %s", i, time.Time(a.StartsAt), downAt)
			}
			want := models.LabelSet{
				"summary":     "acme/api is down",
				"url":         "https://api.example.com/health",
				"reason":      f.reason.String(),
				"error":       f.message,
				"description": "Probe of https://api.example.com/health failed (" + f.reason.String() + "): " + f.message,
				"runbook_url": "https://wiki.example.com/runbooks/api",
			}
			if f.code != 0 {
				want["status_code"] = strconv.Itoa(f.code)
			}
			if !maps.Equal(a.Annotations, want) {
				t.Errorf("post %d annotations =\n%v\nwant\n%v", i, a.Annotations, want)
			}
		}
	})
}

// wantDegradedLabels is the label set of acme/api's EndpointDegraded alert
// under policy(): the same as EndpointDown's but for the name and the
// severity, which is always warning.
var wantDegradedLabels = models.LabelSet{
	"alertname": "EndpointDegraded",
	"company":   "acme",
	"endpoint":  "api",
	"severity":  "warning",
	"team":      "payments",
}

// degradedAnnotations returns the annotations of acme/api's EndpointDegraded
// alert under policy() for a degraded reason and message.
func degradedAnnotations(reason collector.Reason, message string) models.LabelSet {
	return models.LabelSet{
		"summary":     "acme/api is degraded",
		"url":         "https://api.example.com/health",
		"reason":      reason.String(),
		"error":       message,
		"description": "Probe of https://api.example.com/health found the endpoint degraded (" + reason.String() + "): " + message,
		"status_code": "200",
		"runbook_url": "https://wiki.example.com/runbooks/api",
	}
}

// splitSent returns the alerts named name among sent, split into firing and
// resolved ones.
func splitSent(sent []sentAlert, name string) (firing, resolved []sentAlert) {
	for _, s := range sent {
		if s.a.Labels["alertname"] != name {
			continue
		}
		if time.Time(s.a.EndsAt).After(s.at) {
			firing = append(firing, s)
		} else {
			resolved = append(resolved, s)
		}
	}
	return firing, resolved
}

// TestDegradedThenDownThenUp follows an endpoint that turns degraded for 90
// seconds, with its degraded reason changing from slow to cert_expiry,
// then down for 90 seconds, then up, and checks every post of both alerts.
func TestDegradedThenDownThenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const resend = time.Minute
		am := newFakeAM(t)
		h := newHarness(t, "", nil, Options{ResendInterval: resend, ResolvedRetention: 15 * time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		start := time.Now()
		h.statuses.set(apiKey, up(start, start))
		h.start()
		synctest.Wait()

		time.Sleep(10 * time.Second)
		degradedAt := time.Now()
		h.transition(apiKey, degraded(degradedAt, degradedAt))
		const certMessage = `certificate "CN=api.example.com" expires in 9 days (2000-01-10T00:00:00Z), expected at least 30 days (tls_cert_min_days)`
		for i := range 90 {
			time.Sleep(time.Second)
			st := degraded(degradedAt, time.Now())
			if i >= 30 {
				// Half-way to the first resend, a probe finds the
				// certificate close to expiry instead.
				st.LastReason, st.LastError = collector.ReasonCertExpiry, certMessage
				st.DegradedReason, st.DegradedMessage = collector.ReasonCertExpiry, certMessage
			}
			h.statuses.set(apiKey, st)
		}
		downAt := time.Now()
		h.transition(apiKey, down(downAt, downAt))
		for range 90 {
			time.Sleep(time.Second)
			h.statuses.set(apiKey, down(downAt, time.Now()))
		}
		upAt := time.Now()
		h.transition(apiKey, up(upAt, upAt))
		time.Sleep(20 * time.Minute)
		synctest.Wait()

		sent := alertsOf(am.received())
		degradedFiring, degradedResolved := splitSent(sent, AlertEndpointDegraded)
		downFiring, downResolved := splitSent(sent, AlertEndpointDown)
		if n := len(degradedFiring) + len(degradedResolved) + len(downFiring) + len(downResolved); n != len(sent) {
			t.Errorf("%d of %d alerts sent are neither EndpointDegraded nor EndpointDown", len(sent)-n, len(sent))
		}

		// EndpointDegraded fires at the transition and once more, with the
		// annotations of the latest degraded probe.
		wantAnnotations := []models.LabelSet{
			degradedAnnotations(collector.ReasonSlow, slowMessage),
			degradedAnnotations(collector.ReasonCertExpiry, certMessage),
		}
		if len(degradedFiring) != len(wantAnnotations) {
			t.Fatalf("got %d firing EndpointDegraded alerts, want %d", len(degradedFiring), len(wantAnnotations))
		}
		for i, s := range degradedFiring {
			if want := degradedAt.Add(time.Duration(i) * resend); !s.at.Equal(want) {
				t.Errorf("firing EndpointDegraded %d sent at %s, want %s", i, s.at.Sub(start), want.Sub(start))
			}
			if !equalLabels(s.a.Labels, wantDegradedLabels) {
				t.Errorf("firing EndpointDegraded %d labels = %v, want %v", i, s.a.Labels, wantDegradedLabels)
			}
			if got := time.Time(s.a.StartsAt); !got.Equal(degradedAt) {
				t.Errorf("firing EndpointDegraded %d startsAt = %s, want %s", i, got, degradedAt)
			}
			if lease := time.Time(s.a.EndsAt).Sub(s.at); lease != 4*resend {
				t.Errorf("firing EndpointDegraded %d endsAt = send time + %s, want + %s", i, lease, 4*resend)
			}
			if !maps.Equal(s.a.Annotations, wantAnnotations[i]) {
				t.Errorf("firing EndpointDegraded %d annotations =\n%v\nwant\n%v", i, s.a.Annotations, wantAnnotations[i])
			}
		}

		// Turning down resolves EndpointDegraded at that moment and fires
		// EndpointDown from it.
		checkResolved(t, AlertEndpointDegraded, degradedResolved, degradedAt, downAt, 15, resend)
		if len(downFiring) != 2 {
			t.Fatalf("got %d firing EndpointDown alerts, want 2 (the transition and one resend)", len(downFiring))
		}
		for i, s := range downFiring {
			if want := downAt.Add(time.Duration(i) * resend); !s.at.Equal(want) {
				t.Errorf("firing EndpointDown %d sent at %s, want %s", i, s.at.Sub(start), want.Sub(start))
			}
			if !equalLabels(s.a.Labels, wantLabels) {
				t.Errorf("firing EndpointDown %d labels = %v, want %v", i, s.a.Labels, wantLabels)
			}
			if got := time.Time(s.a.StartsAt); !got.Equal(downAt) {
				t.Errorf("firing EndpointDown %d startsAt = %s, want %s", i, got, downAt)
			}
			if got := s.a.Annotations["reason"]; got != "status" {
				t.Errorf("firing EndpointDown %d reason annotation = %q, want status", i, got)
			}
		}
		checkResolved(t, AlertEndpointDown, downResolved, downAt, upAt, 15, resend)
	})
}

// checkResolved checks the resolved posts of one alert: count of them,
// the first at resolvedAt and one every resend after, each with startsAt
// and endsAt the alert's start and end.
func checkResolved(t *testing.T, name string, resolved []sentAlert, startsAt, resolvedAt time.Time, count int, resend time.Duration) {
	t.Helper()
	if len(resolved) != count {
		t.Fatalf("got %d resolved %s alerts, want %d", len(resolved), name, count)
	}
	for i, s := range resolved {
		if want := resolvedAt.Add(time.Duration(i) * resend); !s.at.Equal(want) {
			t.Errorf("resolved %s %d sent at %s, want %s", name, i, s.at, want)
		}
		if got := time.Time(s.a.StartsAt); !got.Equal(startsAt) {
			t.Errorf("resolved %s %d startsAt = %s, want %s", name, i, got, startsAt)
		}
		if got := time.Time(s.a.EndsAt); !got.Equal(resolvedAt) {
			t.Errorf("resolved %s %d endsAt = %s, want %s", name, i, got, resolvedAt)
		}
	}
}

// TestDegradedRecovers checks that an endpoint that turns up again from
// degraded resolves EndpointDegraded at the recovery, and that one that
// turns degraded from down resolves EndpointDown and fires
// EndpointDegraded at once.
func TestDegradedRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute, ResolvedRetention: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()

		downAt := time.Now()
		h.transition(apiKey, down(downAt, downAt))
		time.Sleep(30 * time.Second)
		degradedAt := time.Now()
		h.transition(apiKey, degraded(degradedAt, degradedAt))
		time.Sleep(30 * time.Second)
		upAt := time.Now()
		h.transition(apiKey, up(upAt, upAt))
		synctest.Wait()

		type event struct {
			name     string
			at       time.Time
			startsAt time.Time
			resolved bool
		}
		want := []event{
			{AlertEndpointDown, downAt, downAt, false},
			{AlertEndpointDown, degradedAt, downAt, true},
			{AlertEndpointDegraded, degradedAt, degradedAt, false},
			{AlertEndpointDegraded, upAt, degradedAt, true},
		}
		sent := alertsOf(am.received())
		if len(sent) != len(want) {
			t.Fatalf("got %d alerts, want %d", len(sent), len(want))
		}
		// The two alerts of the transition to degraded share a post, in
		// either order.
		if sent[1].a.Labels["alertname"] == AlertEndpointDegraded {
			sent[1], sent[2] = sent[2], sent[1]
		}
		for i, w := range want {
			s := sent[i]
			got := event{
				name:     s.a.Labels["alertname"],
				at:       s.at,
				startsAt: time.Time(s.a.StartsAt),
				resolved: !time.Time(s.a.EndsAt).After(s.at),
			}
			if got.name != w.name || !got.at.Equal(w.at) || !got.startsAt.Equal(w.startsAt) || got.resolved != w.resolved {
				t.Errorf("alert %d = %+v, want %+v", i, got, w)
			}
			if got.resolved && !time.Time(s.a.EndsAt).Equal(w.at) {
				t.Errorf("alert %d endsAt = %s, want %s", i, time.Time(s.a.EndsAt), w.at)
			}
		}
	})
}
