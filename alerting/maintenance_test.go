package alerting

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/apiwatch/apiwatch/collector"
)

func mustCron(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowActiveAt(t *testing.T) {
	fixed := Window{Start: at("2026-12-05T02:00:00Z"), End: at("2026-12-05T04:00:00Z")}
	// 02:00 to 03:00 every Sunday in Berlin, which is UTC+1 in December and
	// UTC+2 in July.
	berlin := Window{Schedule: mustCron(t, "CRON_TZ=Europe/Berlin 0 2 * * 0"), Duration: time.Hour}
	// Every 10 minutes for 15 minutes: the windows overlap.
	overlapping := Window{Schedule: mustCron(t, "*/10 * * * *"), Duration: 15 * time.Minute}
	for _, tc := range []struct {
		name string
		w    Window
		t    string
		want bool
	}{
		{"fixed before", fixed, "2026-12-05T01:59:59Z", false},
		{"fixed at start", fixed, "2026-12-05T02:00:00Z", true},
		{"fixed inside", fixed, "2026-12-05T03:00:00+01:00", true},
		{"fixed just before end", fixed, "2026-12-05T03:59:59.999Z", true},
		{"fixed at end", fixed, "2026-12-05T04:00:00Z", false},
		{"cron before", berlin, "2026-12-06T00:59:59Z", false},
		{"cron at start", berlin, "2026-12-06T01:00:00Z", true},
		{"cron inside in local time", berlin, "2026-12-06T02:30:00+01:00", true},
		{"cron at end", berlin, "2026-12-06T02:00:00Z", false},
		{"cron wrong day", berlin, "2026-12-05T01:30:00Z", false},
		{"cron summer time", berlin, "2026-07-05T00:30:00Z", true},
		{"cron summer time after", berlin, "2026-07-05T01:00:00Z", false},
		{"overlapping between starts", overlapping, "2026-12-05T02:14:00Z", true},
		{"overlapping at a start", overlapping, "2026-12-05T02:20:00Z", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.activeAt(at(tc.t)); got != tc.want {
				t.Errorf("activeAt(%s) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

func TestWindowLastEnd(t *testing.T) {
	fixed := Window{Start: at("2026-12-05T02:00:00Z"), End: at("2026-12-05T04:00:00Z")}
	daily := Window{Schedule: mustCron(t, "CRON_TZ=Europe/Berlin 0 2 * * *"), Duration: time.Hour}
	everyMinute := Window{Schedule: mustCron(t, "* * * * *"), Duration: 10 * time.Second}
	for _, tc := range []struct {
		name     string
		w        Window
		from, to string
		want     string // "" for none
	}{
		{"fixed inside range", fixed, "2026-12-05T01:00:00Z", "2026-12-05T05:00:00Z", "2026-12-05T04:00:00Z"},
		{"fixed ends at to", fixed, "2026-12-05T03:00:00Z", "2026-12-05T04:00:00Z", "2026-12-05T04:00:00Z"},
		{"fixed ends at from", fixed, "2026-12-05T04:00:00Z", "2026-12-05T05:00:00Z", ""},
		{"fixed not ended", fixed, "2026-12-05T03:00:00Z", "2026-12-05T03:30:00Z", ""},
		{"daily latest of three", daily, "2026-12-04T00:00:00Z", "2026-12-06T12:00:00Z", "2026-12-06T02:00:00Z"},
		{"daily outage starts inside", daily, "2026-12-05T01:30:00Z", "2026-12-05T02:00:00Z", "2026-12-05T02:00:00Z"},
		{"daily none ended", daily, "2026-12-05T02:30:00Z", "2026-12-06T01:59:59Z", ""},
		{"frequent windows, long outage", everyMinute, "2026-01-01T00:00:00Z", "2026-12-05T12:00:30Z", "2026-12-05T12:00:10Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.w.lastEnd(at(tc.from), at(tc.to))
			switch {
			case tc.want == "" && ok:
				t.Errorf("lastEnd = %s, want none", got)
			case tc.want != "" && (!ok || !got.Equal(at(tc.want))):
				t.Errorf("lastEnd = %s, %v, want %s", got, ok, tc.want)
			}
		})
	}
}

func TestFireTime(t *testing.T) {
	windows := []Window{
		{Start: at("2026-12-05T02:00:00Z"), End: at("2026-12-05T04:00:00Z")},
		{Start: at("2026-12-05T03:00:00Z"), End: at("2026-12-05T05:00:00Z")},
	}
	for _, tc := range []struct {
		name, since, now, want string
	}{
		{"no window in the outage", "2026-12-05T06:00:00Z", "2026-12-05T07:00:00Z", "2026-12-05T06:00:00Z"},
		{"latest of overlapping windows", "2026-12-05T02:30:00Z", "2026-12-05T05:00:01Z", "2026-12-05T05:00:00Z"},
		{"window ended before the outage", "2026-12-05T05:00:00Z", "2026-12-05T05:10:00Z", "2026-12-05T05:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fireTime(windows, at(tc.since), at(tc.now)); !got.Equal(at(tc.want)) {
				t.Errorf("fireTime = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestMaintenanceHoldsAlerts runs outages against a fixed window from 1h
// to 2h after the start, and a daily cron window, in simulated time.
func TestMaintenanceHoldsAlerts(t *testing.T) {
	for _, tc := range []struct {
		name string
		// downAfter and upAfter are offsets from the start; upAfter 0
		// means the endpoint stays down.
		downAfter, upAfter time.Duration
		cron               bool
		// fireAfter is when the alert must fire, 0 for never, and
		// startsAfter its startsAt.
		fireAfter, startsAfter time.Duration
	}{
		{name: "down inside, still down at the end", downAfter: 90 * time.Minute,
			fireAfter: 2 * time.Hour, startsAfter: 2 * time.Hour},
		{name: "down before, still down at the end", downAfter: 30 * time.Minute,
			fireAfter: 30 * time.Minute, startsAfter: 30 * time.Minute},
		{name: "down inside, recovered before the end", downAfter: 70 * time.Minute, upAfter: 100 * time.Minute},
		{name: "cron window, down inside", downAfter: 90 * time.Minute, cron: true,
			fireAfter: 2 * time.Hour, startsAfter: 2 * time.Hour},
		{name: "cron window, recovered before the end", downAfter: 70 * time.Minute, upAfter: 100 * time.Minute,
			cron: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				w := Window{Start: start.Add(time.Hour), End: start.Add(2 * time.Hour)}
				if tc.cron {
					// The bubble's clock starts at midnight UTC.
					w = Window{Schedule: mustCron(t, "CRON_TZ=Asia/Kolkata 30 6 * * *"), Duration: time.Hour}
				}
				am := newFakeAM(t)
				h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
				h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
				h.statuses.set(apiKey, up(start, start))
				h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy(w)})
				h.start()
				synctest.Wait()

				time.Sleep(tc.downAfter)
				downAt := time.Now()
				h.transition(apiKey, down(downAt, downAt))
				if tc.upAfter > 0 {
					time.Sleep(tc.upAfter - tc.downAfter)
					h.transition(apiKey, up(time.Now(), time.Now()))
				}
				time.Sleep(3*time.Hour - time.Since(start))
				synctest.Wait()

				sent := alertsOf(am.received())
				if tc.fireAfter == 0 {
					if len(sent) != 0 {
						t.Fatalf("got %d alerts, want none", len(sent))
					}
					return
				}
				if len(sent) == 0 {
					t.Fatalf("no alert fired")
				}
				if got := sent[0].at.Sub(start); got < tc.fireAfter || got > tc.fireAfter+tickInterval {
					t.Errorf("fired %s after the start, want at %s", got, tc.fireAfter)
				}
				if got := time.Time(sent[0].a.StartsAt).Sub(start); got != tc.startsAfter {
					t.Errorf("startsAt is %s after the start, want %s", got, tc.startsAfter)
				}
			})
		})
	}
}

// TestMaintenanceStartKeepsFiringAlert checks the chosen behaviour for a
// window that starts during an outage: the firing alert is neither
// resolved nor silenced, because the outage began outside the window.
func TestMaintenanceStartKeepsFiringAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := Window{Start: start.Add(10 * time.Minute), End: start.Add(20 * time.Minute)}
		am := newFakeAM(t)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy(w)})
		h.start()
		synctest.Wait()
		h.transition(apiKey, down(start, start))
		time.Sleep(25*time.Minute + 30*time.Second)
		synctest.Wait()

		sent := alertsOf(am.received())
		if len(sent) != 26 {
			t.Errorf("got %d posts, want 26: one a minute through the window", len(sent))
		}
		for _, s := range sent {
			if !time.Time(s.a.EndsAt).After(s.at) || !time.Time(s.a.StartsAt).Equal(start) {
				t.Errorf("post at %s: startsAt %s, endsAt %s, want firing since the start",
					s.at.Sub(start), time.Time(s.a.StartsAt), time.Time(s.a.EndsAt))
			}
		}
	})
}
