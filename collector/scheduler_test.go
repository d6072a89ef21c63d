package collector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/robfig/cron/v3"
)

func TestSchedulerSkipsTickWhileProbeRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 20 * time.Second
		key := Key{"acme", "api"}
		// The first probe hangs for 50 s, two and a half intervals.
		prober := newFakeProber(func(_ context.Context, _ *Target, n int) Result {
			if n == 0 {
				return sleepResult(50*time.Second, true)
			}
			return sleepResult(time.Second, true)
		})
		m, reg := newTestManager(t, Options{Prober: prober})
		start := time.Now()
		m.ApplyConfig(singleEndpointConfig("acme", "api", interval, 1, 1))
		first := newIntervalSchedule(key, interval).next(start)
		if first.Sub(start) > interval {
			t.Fatalf("first probe due %v after the start, want within %v", first.Sub(start), interval)
		}
		stop := startManager(m)
		sleepUntil(first.Add(90 * time.Second))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		want := []time.Time{first, first.Add(3 * interval), first.Add(4 * interval)}
		checkStarts(t, "acme/api", prober.startsOf(key), want)
		if got := testutil.ToFloat64(m.metrics.skipped); got != 2 {
			t.Errorf("apiwatch_probes_skipped_total = %v, want 2", got)
		}
		// Every probe that ran started on time.
		lag := `
# HELP apiwatch_scheduler_lag_seconds How late probes started after their scheduled time, including the wait for a concurrency slot.
# TYPE apiwatch_scheduler_lag_seconds histogram
apiwatch_scheduler_lag_seconds_bucket{le="0.001"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.005"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.01"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.025"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.05"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.1"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.25"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.5"} 3
apiwatch_scheduler_lag_seconds_bucket{le="1"} 3
apiwatch_scheduler_lag_seconds_bucket{le="2.5"} 3
apiwatch_scheduler_lag_seconds_bucket{le="5"} 3
apiwatch_scheduler_lag_seconds_bucket{le="+Inf"} 3
apiwatch_scheduler_lag_seconds_sum 0
apiwatch_scheduler_lag_seconds_count 3
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(lag), "apiwatch_scheduler_lag_seconds"); err != nil {
			t.Error(err)
		}
	})
}

// cronEndpointsYAML returns a config of n endpoints of company acme, all on
// the cron schedule spec in zone (none if empty).
func cronEndpointsYAML(n int, spec, zone string) string {
	var b strings.Builder
	b.WriteString("companies:\n  - name: acme\n    endpoints:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - name: ep%d\n        url: http://127.0.0.1:9/\n        schedule: %q\n", i, spec)
		if zone != "" {
			fmt.Fprintf(&b, "        time_zone: %s\n", zone)
		}
	}
	return b.String()
}

func TestSchedulerConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			endpoints = 10
			limit     = 3
			took      = 5 * time.Second
		)
		var (
			mu                  sync.Mutex
			inFlight, maxFlight int
			starts              []time.Duration
		)
		// All endpoints are due at the same minute; each probe takes 5 s.
		cfg := loadYAMLConfig(t, cronEndpointsYAML(endpoints, "* * * * *", ""))
		due := time.Now().Truncate(time.Minute).Add(time.Minute)
		prober := newFakeProber(func(context.Context, *Target, int) Result {
			mu.Lock()
			inFlight++
			maxFlight = max(maxFlight, inFlight)
			starts = append(starts, time.Since(due))
			mu.Unlock()
			r := sleepResult(took, true)
			mu.Lock()
			inFlight--
			mu.Unlock()
			return r
		})
		m, reg := newTestManager(t, Options{Prober: prober, Concurrency: limit})
		m.ApplyConfig(cfg)
		stop := startManager(m)

		sleepUntil(due)
		if got := testutil.ToFloat64(m.metrics.inFlight); got != limit {
			t.Errorf("apiwatch_probes_in_flight at the due time = %v, want %d", got, limit)
		}
		sleepUntil(due.Add(30 * time.Second))
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		if maxFlight != limit {
			t.Errorf("at most %d probes ran at once, want %d", maxFlight, limit)
		}
		slices.Sort(starts)
		want := []time.Duration{0, 0, 0, 5 * time.Second, 5 * time.Second, 5 * time.Second,
			10 * time.Second, 10 * time.Second, 10 * time.Second, 15 * time.Second}
		if !slices.Equal(starts, want) {
			t.Errorf("probes started %v after the due time, want %v", starts, want)
		}
		// The lag includes the wait for a slot: 3 at 0 s, 3 at 5 s, 3 at
		// 10 s and 1 at 15 s.
		lag := `
# HELP apiwatch_scheduler_lag_seconds How late probes started after their scheduled time, including the wait for a concurrency slot.
# TYPE apiwatch_scheduler_lag_seconds histogram
apiwatch_scheduler_lag_seconds_bucket{le="0.001"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.005"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.01"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.025"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.05"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.1"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.25"} 3
apiwatch_scheduler_lag_seconds_bucket{le="0.5"} 3
apiwatch_scheduler_lag_seconds_bucket{le="1"} 3
apiwatch_scheduler_lag_seconds_bucket{le="2.5"} 3
apiwatch_scheduler_lag_seconds_bucket{le="5"} 6
apiwatch_scheduler_lag_seconds_bucket{le="+Inf"} 10
apiwatch_scheduler_lag_seconds_sum 60
apiwatch_scheduler_lag_seconds_count 10
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(lag), "apiwatch_scheduler_lag_seconds"); err != nil {
			t.Error(err)
		}
	})
}

func TestSchedulerCronAcrossDST(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	every := func(from time.Time, step time.Duration, n int) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = from.Add(time.Duration(i) * step)
		}
		return out
	}
	// In 2000, Europe/Berlin moved from CET to CEST at 01:00 UTC on 26 March
	// and back at 01:00 UTC on 29 October.
	tests := []struct {
		name     string
		spec     string
		from, to time.Time
		want     []time.Time
	}{
		{
			// 01:45 CET to 03:20 CEST: the clock skips 02:00-02:59.
			name: "every 5 minutes into summer time", spec: "*/5 * * * *",
			from: utc("2000-03-26T00:40:00Z"), to: utc("2000-03-26T01:20:00Z"),
			want: every(utc("2000-03-26T00:45:00Z"), 5*time.Minute, 8),
		},
		{
			// 02:45 CEST to 02:20 CET: the clock repeats 02:00-02:59.
			name: "every 5 minutes out of summer time", spec: "*/5 * * * *",
			from: utc("2000-10-29T00:40:00Z"), to: utc("2000-10-29T01:20:00Z"),
			want: every(utc("2000-10-29T00:45:00Z"), 5*time.Minute, 8),
		},
		{
			// 02:00 CEST, 02:00 CET, 03:00 CET.
			name: "hourly out of summer time", spec: "0 * * * *",
			from: utc("2000-10-28T23:30:00Z"), to: utc("2000-10-29T02:30:00Z"),
			want: every(utc("2000-10-29T00:00:00Z"), time.Hour, 3),
		},
		{
			name: "daily in local time", spec: "30 9 * * *",
			from: utc("2000-03-25T00:00:00Z"), to: utc("2000-03-27T23:00:00Z"),
			want: []time.Time{utc("2000-03-25T08:30:00Z"), utc("2000-03-26T07:30:00Z"), utc("2000-03-27T07:30:00Z")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := loadYAMLConfig(t, cronEndpointsYAML(1, tt.spec, "Europe/Berlin"))
				prober := newFakeProber(func(context.Context, *Target, int) Result { return sleepResult(time.Second, true) })
				m, _ := newTestManager(t, Options{Prober: prober})
				time.Sleep(time.Until(tt.from))
				m.ApplyConfig(cfg)
				stop := startManager(m)
				sleepUntil(tt.to)
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
				checkStarts(t, "acme/ep0", prober.startsOf(Key{"acme", "ep0"}), tt.want)
			})
		})
	}
}

func TestSchedulerNeverFiringCron(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The config rejects such a schedule; the scheduler must still not
		// spin if one reaches it. There is no 30 February, so robfig/cron
		// returns the zero time.
		never, err := cron.ParseStandard("0 0 30 2 *")
		if err != nil {
			t.Fatal(err)
		}
		midnight := time.Now()
		s := newScheduler()
		var log dispatchLog
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.run(ctx, log.dispatch)
		}()
		s.add(&endpoint{key: Key{"acme", "never"}, heapIndex: -1,
			sched: cronSchedule{spec: "0 0 30 2 *", sched: never}}, time.Now())
		s.add(&endpoint{key: Key{"acme", "often"}, heapIndex: -1,
			sched: fixedSchedule{midnight.Add(20 * time.Second), 20 * time.Second}}, time.Now())
		sleepUntil(midnight.Add(time.Minute + time.Second))
		cancel()
		<-done

		want := []string{
			"often scheduled 00:00:20 ran 00:00:20",
			"often scheduled 00:00:40 ran 00:00:40",
			"often scheduled 00:01:00 ran 00:01:00",
		}
		if got := log.list(); !slices.Equal(got, want) {
			t.Errorf("dispatched:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// dispatchLog records what a scheduler dispatches and when.
type dispatchLog struct {
	mu     sync.Mutex
	events []string
}

func (l *dispatchLog) dispatch(e *endpoint, scheduled time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("%s scheduled %s ran %s",
		e.key.Endpoint, scheduled.UTC().Format(time.TimeOnly), time.Now().UTC().Format(time.TimeOnly)))
}

func (l *dispatchLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// fixedSchedule runs every interval from a fixed start, for tests that need
// run times independent of key hashes.
type fixedSchedule struct {
	start    time.Time
	interval time.Duration
}

func (s fixedSchedule) next(t time.Time) time.Time {
	if t.Before(s.start) {
		return s.start
	}
	return s.start.Add((t.Sub(s.start)/s.interval + 1) * s.interval)
}

func (s fixedSchedule) equal(o schedule) bool { return o == schedule(s) }

func TestSchedulerWakesForEarlierRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble starts at midnight UTC.
		midnight := time.Now()
		at := func(d time.Duration) time.Time { return midnight.Add(d) }
		newEP := func(name string, s schedule) *endpoint {
			return &endpoint{key: Key{"acme", name}, sched: s, heapIndex: -1}
		}
		s := newScheduler()
		var log dispatchLog
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.run(ctx, log.dispatch)
		}()

		hourly := newEP("hourly", fixedSchedule{at(time.Hour), time.Hour})
		s.add(hourly, time.Now())
		sleepUntil(at(time.Minute))
		// Added after run set its timer for 01:00, due at 00:02.
		soon := newEP("soon", fixedSchedule{at(2 * time.Minute), 10 * time.Minute})
		s.add(soon, time.Now())
		sleepUntil(at(3 * time.Minute))
		// Moved earlier, from 00:12 to 00:05.
		s.update(soon, fixedSchedule{at(5 * time.Minute), 10 * time.Minute}, time.Now())
		sleepUntil(at(6 * time.Minute))
		// Removed while at the head of the queue, due at 00:15.
		s.remove(soon)
		sleepUntil(at(61 * time.Minute))
		cancel()
		<-done

		want := []string{
			"soon scheduled 00:02:00 ran 00:02:00",
			"soon scheduled 00:05:00 ran 00:05:00",
			"hourly scheduled 01:00:00 ran 01:00:00",
		}
		if got := log.list(); !slices.Equal(got, want) {
			t.Errorf("dispatched\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestSchedulerUpdateKeepsUnchangedSlot(t *testing.T) {
	key := Key{"acme", "api"}
	e := newEndpoint(&Target{Key: key, Endpoint: intervalEndpoint("api", time.Minute, 1, 1)}, 0)
	s := newScheduler()
	now := time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	s.add(e, now)
	next := e.next
	if s.update(e, newIntervalSchedule(key, time.Minute), now.Add(30*time.Second)) {
		t.Errorf("update with an equal schedule reported a change")
	}
	if !e.next.Equal(next) {
		t.Errorf("next run moved from %v to %v", next, e.next)
	}
	later := now.Add(30 * time.Second)
	if !s.update(e, newIntervalSchedule(key, 2*time.Minute), later) {
		t.Errorf("update with another interval reported no change")
	}
	if want := newIntervalSchedule(key, 2*time.Minute).next(later); !e.next.Equal(want) {
		t.Errorf("next run after the change %v, want %v", e.next, want)
	}
}
