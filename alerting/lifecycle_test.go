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
