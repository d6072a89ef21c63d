package alerting

import (
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

var webKey = collector.Key{Company: "acme", Endpoint: "web"}

// fireAndStop runs a notifier on dir until acme/api fires, stops it, and
// returns when the alert started.
func fireAndStop(t *testing.T, dir string) time.Time {
	t.Helper()
	am := newFakeAM(t)
	h := newHarness(t, dir, nil, Options{ResendInterval: time.Minute})
	h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
	h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
	h.start()
	synctest.Wait()
	downAt := time.Now()
	h.transition(apiKey, down(downAt, downAt))
	synctest.Wait()
	if n := len(am.received()); n != 1 {
		t.Fatalf("first run delivered %d posts, want 1", n)
	}
	h.stop()
	return downAt
}

// TestRestartRestoresAlerts runs a second notifier on the database of a
// first one and checks what it does with the saved alert, by the status
// that the collector restored.
func TestRestartRestoresAlerts(t *testing.T) {
	for _, tc := range []struct {
		name string
		// status returns the restored status of acme/api, or false if
		// the collector does not know the endpoint.
		status func(downAt, now time.Time) (collector.Status, bool)
		// configured is false when the new configuration lacks acme/api.
		configured bool
		// resolvedAt returns the endsAt of the resolved alert, or false if
		// the alert must keep firing.
		resolvedAt func(downAt, now time.Time) (time.Time, bool)
	}{
		{
			name:       "still down keeps firing",
			status:     func(downAt, now time.Time) (collector.Status, bool) { return down(downAt, now), true },
			configured: true,
			resolvedAt: func(_, _ time.Time) (time.Time, bool) { return time.Time{}, false },
		},
		{
			name: "stale up status keeps firing",
			status: func(downAt, _ time.Time) (collector.Status, bool) {
				return up(downAt.Add(-time.Hour), downAt.Add(-time.Second)), true
			},
			configured: true,
			resolvedAt: func(_, _ time.Time) (time.Time, bool) { return time.Time{}, false },
		},
		{
			name:       "unknown to the collector keeps firing",
			status:     func(_, _ time.Time) (collector.Status, bool) { return collector.Status{}, false },
			configured: true,
			resolvedAt: func(_, _ time.Time) (time.Time, bool) { return time.Time{}, false },
		},
		{
			name: "recovered while stopped resolves at the recovery",
			status: func(downAt, now time.Time) (collector.Status, bool) {
				return up(downAt.Add(time.Minute), now), true
			},
			configured: true,
			resolvedAt: func(downAt, _ time.Time) (time.Time, bool) { return downAt.Add(time.Minute), true },
		},
		{
			name:       "removed endpoint resolves at once",
			status:     func(downAt, now time.Time) (collector.Status, bool) { return down(downAt, now), true },
			configured: false,
			resolvedAt: func(_, now time.Time) (time.Time, bool) { return now, true },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				downAt := fireAndStop(t, dir)
				time.Sleep(5 * time.Minute)

				now := time.Now()
				statuses := newFakeStatuses()
				if st, ok := tc.status(downAt, now); ok {
					statuses.set(apiKey, st)
				}
				statuses.set(webKey, up(now, now))
				am := newFakeAM(t)
				h := newHarness(t, dir, statuses, Options{ResendInterval: time.Minute})
				policies := map[collector.Key]*EndpointPolicy{webKey: policy()}
				if tc.configured {
					policies[apiKey] = policy()
				}
				// The daemon's order: the notifier gets the configuration,
				// and only then starts.
				h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
				h.n.SetPolicies(policies)
				h.start()
				synctest.Wait()

				sent := alertsOf(am.received())
				if len(sent) != 1 {
					t.Fatalf("restart delivered %d alerts, want 1 at once", len(sent))
				}
				s := sent[0]
				if !s.at.Equal(now) {
					t.Errorf("restored alert sent %s after the start, want at once", s.at.Sub(now))
				}
				if got := time.Time(s.a.StartsAt); !got.Equal(downAt) {
					t.Errorf("startsAt = %s, want the original %s", got, downAt)
				}
				if !equalLabels(s.a.Labels, wantLabels) {
					t.Errorf("labels = %v, want %v", s.a.Labels, wantLabels)
				}
				endsAt := time.Time(s.a.EndsAt)
				want, resolved := tc.resolvedAt(downAt, now)
				switch {
				case resolved && !endsAt.Equal(want):
					t.Errorf("endsAt = %s, want resolved at %s", endsAt, want)
				case !resolved && endsAt.Sub(s.at) != 4*time.Minute:
					t.Errorf("endsAt = %s, want firing with a lease of 4m from %s", endsAt, s.at)
				}
			})
		})
	}
}

// TestRestartStaleStatusWaitsForProbe restores a firing alert with an up
// status older than the alert: it keeps firing through reconciliations
// until a probe confirms the recovery.
func TestRestartStaleStatusWaitsForProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		downAt := fireAndStop(t, dir)
		time.Sleep(time.Minute)

		statuses := newFakeStatuses()
		stale := up(downAt.Add(-time.Hour), downAt.Add(-time.Second))
		statuses.set(apiKey, stale)
		am := newFakeAM(t)
		h := newHarness(t, dir, statuses, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		// Several periodic reconciliations pass.
		time.Sleep(2*time.Minute + 5*time.Second)
		synctest.Wait()
		for _, s := range alertsOf(am.received()) {
			if !time.Time(s.a.EndsAt).After(s.at) {
				t.Fatalf("alert resolved at %s on a status older than the alert", time.Time(s.a.EndsAt))
			}
		}

		// The first probe after the restart succeeds; the endpoint's
		// state did not change, so the collector reports no transition.
		probedAt := time.Now()
		stale.LastCheck = probedAt
		statuses.set(apiKey, stale)
		time.Sleep(reconcileInterval)
		synctest.Wait()
		sent := alertsOf(am.received())
		last := sent[len(sent)-1]
		if got := time.Time(last.a.EndsAt); !got.Equal(last.at) || last.at.Sub(probedAt) > reconcileInterval {
			t.Errorf("last alert sent %s after the probe with endsAt %s, want resolved within %s at the send time",
				last.at.Sub(probedAt), got, reconcileInterval)
		}
	})
}

// TestRestartDownWithoutSavedAlert covers a crash between saving the
// endpoint's status and saving its alert: the alert fires with startsAt at
// the status's Since, not at the restart.
func TestRestartDownWithoutSavedAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		downAt := time.Now()
		time.Sleep(3 * time.Minute)
		statuses := newFakeStatuses()
		statuses.set(apiKey, down(downAt, downAt.Add(time.Second)))
		am := newFakeAM(t)
		h := newHarness(t, "", statuses, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()

		sent := alertsOf(am.received())
		if len(sent) != 1 {
			t.Fatalf("got %d alerts, want 1", len(sent))
		}
		if got := time.Time(sent[0].a.StartsAt); !got.Equal(downAt) {
			t.Errorf("startsAt = %s, want the status's Since %s", got, downAt)
		}
		saved := savedAlerts(t, h.db)
		if a, ok := saved[alertID{"acme", "api", AlertEndpointDown}.storageKey()]; !ok || !a.StartsAt.Equal(downAt) {
			t.Errorf("saved alerts = %v, want acme/api firing since %s", saved, downAt)
		}
	})
}

// TestRestartRestoresDegradedAlert runs a second notifier on the database
// of a first one that fired EndpointDegraded, with the status the
// collector restored, and checks what it sends at once.
func TestRestartRestoresDegradedAlert(t *testing.T) {
	type sent struct {
		name     string
		startsAt time.Time
		// endsAt is the resolve time, or zero for a firing alert.
		endsAt time.Time
	}
	for _, tc := range []struct {
		name   string
		status func(degradedAt, now time.Time) collector.Status
		want   func(degradedAt, now time.Time) []sent
	}{
		{
			name:   "still degraded keeps firing",
			status: func(degradedAt, now time.Time) collector.Status { return degraded(degradedAt, now) },
			want: func(degradedAt, _ time.Time) []sent {
				return []sent{{name: AlertEndpointDegraded, startsAt: degradedAt}}
			},
		},
		{
			name: "down while stopped resolves and fires down",
			status: func(degradedAt, now time.Time) collector.Status {
				return down(degradedAt.Add(time.Minute), now)
			},
			want: func(degradedAt, _ time.Time) []sent {
				downAt := degradedAt.Add(time.Minute)
				return []sent{
					{name: AlertEndpointDegraded, startsAt: degradedAt, endsAt: downAt},
					{name: AlertEndpointDown, startsAt: downAt},
				}
			},
		},
		{
			name: "recovered while stopped resolves at the recovery",
			status: func(degradedAt, now time.Time) collector.Status {
				return up(degradedAt.Add(time.Minute), now)
			},
			want: func(degradedAt, _ time.Time) []sent {
				return []sent{{name: AlertEndpointDegraded, startsAt: degradedAt, endsAt: degradedAt.Add(time.Minute)}}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				first := newFakeAM(t)
				h := newHarness(t, dir, nil, Options{ResendInterval: time.Minute})
				h.n.SetAlertmanagers([]Alertmanager{first.alertmanager("am1")})
				h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
				h.start()
				synctest.Wait()
				degradedAt := time.Now()
				h.transition(apiKey, degraded(degradedAt, degradedAt))
				synctest.Wait()
				h.stop()
				time.Sleep(5 * time.Minute)

				now := time.Now()
				statuses := newFakeStatuses()
				statuses.set(apiKey, tc.status(degradedAt, now))
				am := newFakeAM(t)
				h = newHarness(t, dir, statuses, Options{ResendInterval: time.Minute})
				h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
				h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
				h.start()
				synctest.Wait()

				var got []sent
				for _, s := range alertsOf(am.received()) {
					if !s.at.Equal(now) {
						t.Errorf("%s sent %s after the start, want at once", s.a.Labels["alertname"], s.at.Sub(now))
					}
					g := sent{name: s.a.Labels["alertname"], startsAt: time.Time(s.a.StartsAt)}
					if endsAt := time.Time(s.a.EndsAt); !endsAt.After(s.at) {
						g.endsAt = endsAt
					} else if lease := endsAt.Sub(s.at); lease != 4*time.Minute {
						t.Errorf("%s firing with a lease of %s, want 4m", g.name, lease)
					}
					if g.name == AlertEndpointDegraded && !equalLabels(s.a.Labels, wantDegradedLabels) {
						t.Errorf("EndpointDegraded labels = %v, want %v", s.a.Labels, wantDegradedLabels)
					}
					got = append(got, g)
				}
				sort.Slice(got, func(i, j int) bool { return got[i].name < got[j].name })
				want := tc.want(degradedAt, now)
				if len(got) != len(want) {
					t.Fatalf("restart sent %+v, want %+v", got, want)
				}
				for i := range want {
					if got[i].name != want[i].name || !got[i].startsAt.Equal(want[i].startsAt) || !got[i].endsAt.Equal(want[i].endsAt) {
						t.Errorf("alert %d = %+v, want %+v", i, got[i], want[i])
					}
				}
			})
		})
	}
}
