package collector

import (
	"context"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// scriptedProber returns the next of its results on each call, after
// sleeping for the result's Duration, and records when each call started.
type scriptedProber struct {
	results []Result
	starts  []time.Time
}

func (p *scriptedProber) Probe(ctx context.Context, _ *Target) Result {
	start := time.Now()
	p.starts = append(p.starts, start)
	r := p.results[min(len(p.starts), len(p.results))-1]
	time.Sleep(r.Duration)
	r.Start = start
	return r
}

func TestRetryingProber(t *testing.T) {
	const ms = time.Millisecond
	ok := Result{Success: true, Duration: 50 * ms}
	degraded := Result{Success: true, Degraded: true, Reason: ReasonSlow, Message: "slow", Duration: 50 * ms}
	failed := func(msg string) Result {
		return Result{Reason: ReasonConnect, Message: msg, Duration: 100 * ms}
	}
	tests := []struct {
		name     string
		settings string
		// cancelAfter ends the probe's context this long after it starts.
		cancelAfter time.Duration
		results     []Result
		// starts are the attempts' start times, from the first.
		starts  []time.Duration
		want    Result
		elapsed time.Duration
	}{
		{
			name:     "success not retried",
			settings: "retries: 2",
			results:  []Result{ok},
			starts:   []time.Duration{0},
			want:     ok,
			elapsed:  50 * ms,
		},
		{
			name:     "degraded not retried",
			settings: "retries: 2",
			results:  []Result{degraded},
			starts:   []time.Duration{0},
			want:     degraded,
			elapsed:  50 * ms,
		},
		{
			name:     "failure without retries",
			settings: "retries: 0",
			results:  []Result{failed("first")},
			starts:   []time.Duration{0},
			want:     failed("first"),
			elapsed:  100 * ms,
		},
		{
			name:     "failure then success",
			settings: "retries: 2\nretry_delay: 1s",
			results:  []Result{failed("first"), ok},
			starts:   []time.Duration{0, 1100 * ms},
			want:     Result{Success: true, Duration: 50 * ms, Retries: 1},
			elapsed:  1150 * ms,
		},
		{
			name:     "every attempt fails",
			settings: "retries: 2\nretry_delay: 1s",
			results:  []Result{failed("first"), failed("second"), failed("third")},
			starts:   []time.Duration{0, 1100 * ms, 2200 * ms},
			want:     Result{Reason: ReasonConnect, Message: "third", Duration: 100 * ms, Retries: 2},
			elapsed:  2300 * ms,
		},
		{
			name:     "default retry_delay is 1s",
			settings: "retries: 1",
			results:  []Result{failed("first"), failed("second")},
			starts:   []time.Duration{0, 1100 * ms},
			want:     Result{Reason: ReasonConnect, Message: "second", Duration: 100 * ms, Retries: 1},
			elapsed:  1200 * ms,
		},
		{
			name:        "context ends in the delay",
			settings:    "retries: 2\nretry_delay: 1s",
			cancelAfter: 500 * ms,
			results:     []Result{failed("first"), ok},
			starts:      []time.Duration{0},
			want:        failed("first"),
			elapsed:     500 * ms,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, "url: http://api.test/\ntimeout: 5s\n"+tt.settings)
			synctest.Test(t, func(t *testing.T) {
				inner := &scriptedProber{results: tt.results}
				ctx := t.Context()
				if tt.cancelAfter > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.cancelAfter)
					defer cancel()
				}
				begin := time.Now()

				res := NewRetryingProber(inner).Probe(ctx, target)

				if elapsed := time.Since(begin); elapsed != tt.elapsed {
					t.Errorf("Probe took %v, want %v", elapsed, tt.elapsed)
				}
				var starts []time.Duration
				for _, s := range inner.starts {
					starts = append(starts, s.Sub(begin))
				}
				if !slices.Equal(starts, tt.starts) {
					t.Errorf("attempts started at %v, want %v", starts, tt.starts)
				}
				// The result keeps the last attempt's start.
				want := tt.want
				want.Start = begin.Add(tt.starts[len(tt.starts)-1])
				if res != want {
					t.Errorf("result\n%+v\nwant\n%+v", res, want)
				}
			})
		})
	}
}

// TestRetryingProberRealNetwork checks a retry over the network: the
// server drops the first connection and answers the second.
func TestRetryingProberRealNetwork(t *testing.T) {
	var conns atomic.Int32
	addr := startRawServer(t, func(c net.Conn) {
		if conns.Add(1) == 1 {
			return // closes the connection without a response
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
	})
	prober := NewRetryingProber(NewHTTPProber(HTTPProberOptions{}))
	target := loadTarget(t, "url: http://"+addr+"/\nretries: 2\nretry_delay: 50ms\ntimeout: 2s")
	before := time.Now()

	res := prober.Probe(context.Background(), target)

	elapsed := time.Since(before)
	checkResult(t, res, true, ReasonNone, "")
	if res.Retries != 1 {
		t.Errorf("Retries = %d, want 1", res.Retries)
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("server accepted %d connections, want 2", got)
	}
	// Start is the second attempt's, at least 50ms after the call.
	if res.Start.Sub(before) < 50*time.Millisecond {
		t.Errorf("Start is %v after the call, want the second attempt's start, after the 50ms delay", res.Start.Sub(before))
	}
	// Duration is the last attempt's, which started after the 50ms delay.
	if res.Duration <= 0 || res.Duration > elapsed-50*time.Millisecond {
		t.Errorf("Duration = %v, want the second attempt's, below %v", res.Duration, elapsed-50*time.Millisecond)
	}
	if res.StatusCode != 200 || res.BodySize != 2 {
		t.Errorf("StatusCode, BodySize = %d, %d, want 200, 2", res.StatusCode, res.BodySize)
	}
}
