package web_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
)

// exampleConfig is the configuration that `make run` uses.
const exampleConfig = "../examples/apiwatch.yml"

// bubbleStart is when the clock of a synctest bubble starts.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// demoRun is how long the demo manager probes, in the bubble's time. At
// its end acme/checkout is half a minute into a failing third of the demo
// API's three-minute cycle, and so is down.
const demoRun = 10*time.Minute + 30*time.Second

// demoProber answers each endpoint of examples/apiwatch.yml as the demo
// API of examples/demo-api answers it under `make run`, after the time the
// probe takes. It adds shift to the start of every result, so that the
// results of a run in a synctest bubble carry times of today.
type demoProber struct {
	t     *testing.T
	shift time.Duration
	// probes counts the probes so far, to vary latencies a little.
	probes atomic.Int64
}

func (p *demoProber) Probe(ctx context.Context, target *collector.Target) collector.Result {
	start := time.Now()
	r := p.resultFor(target.Key, start.Sub(bubbleStart))
	select {
	case <-time.After(r.Duration):
	case <-ctx.Done():
	}
	r.Start = start.Add(p.shift)
	return r
}

// resultFor returns the result of probing key at elapsed after the demo API
// started, without Start.
func (p *demoProber) resultFor(key collector.Key, elapsed time.Duration) collector.Result {
	jitter := time.Duration(p.probes.Add(1)%7) * 300 * time.Microsecond
	ok := func(code int, d time.Duration) collector.Result {
		return collector.Result{Success: true, StatusCode: code, Duration: d + jitter}
	}
	fail := func(reason collector.Reason, code int, d time.Duration, msg string) collector.Result {
		return collector.Result{Reason: reason, StatusCode: code, Duration: d + jitter, Message: msg}
	}
	switch key.String() {
	case "acme/health", "acme/status-report", "globex/homepage":
		return ok(200, 2*time.Millisecond)
	case "acme/checkout":
		// /flaky fails during the second third of every three minutes.
		if phase := elapsed % (3 * time.Minute); phase >= time.Minute && phase < 2*time.Minute {
			return fail(collector.ReasonStatus, 503, 3*time.Millisecond, "status 503, expected 2xx")
		}
		return ok(200, 3*time.Millisecond)
	case "acme/legacy-redirect":
		return ok(301, 2*time.Millisecond)
	case "acme/status-api":
		return ok(200, 4*time.Millisecond)
	case "acme/place-order":
		return ok(201, 5*time.Millisecond)
	case "acme/reports":
		r := ok(200, 1501*time.Millisecond)
		r.Degraded, r.Reason = true, collector.ReasonSlow
		r.Message = "took " + r.Duration.Round(time.Millisecond).String() + ", expected at most 1s (max_duration)"
		return r
	case "acme/cache":
		return ok(0, time.Millisecond)
	case "acme/orders-grpc":
		return ok(0, 3*time.Millisecond)
	case "globex/orders":
		return fail(collector.ReasonStatus, 500, 2*time.Millisecond, "status 500, expected 2xx")
	case "globex/search":
		return collector.Result{Reason: collector.ReasonTimeout, Duration: time.Second,
			Message: "timed out after 1s while waiting for the response headers"}
	case "globex/inventory":
		return fail(collector.ReasonJSON, 200, 3*time.Millisecond, `$.status is "degraded", expected == "ok"`)
	case "globex/billing-grpc":
		return fail(collector.ReasonStatus, 0, 3*time.Millisecond,
			"health status NOT_SERVING for demo.Billing, expected SERVING")
	}
	p.t.Errorf("demoProber has no answer for %s, which examples/apiwatch.yml configures: add one", key)
	return fail(collector.ReasonConnect, 0, time.Millisecond, "not in the demo")
}

// demoManager returns a manager that has probed the endpoints of
// examples/apiwatch.yml for demoRun with demoProber, in a synctest bubble,
// and has stopped. Its times are shifted so that the run ends between 30
// and 90 seconds before now, with cron runs on whole minutes.
func demoManager(t *testing.T) *collector.Manager {
	t.Helper()
	cfg, err := config.LoadFile(exampleConfig)
	if err != nil {
		t.Fatalf("loading %s: %v", exampleConfig, err)
	}
	shift := time.Now().UTC().Truncate(time.Minute).Sub(bubbleStart.Add(demoRun + 30*time.Second))
	var m *collector.Manager
	synctest.Test(t, func(t *testing.T) {
		m, err = collector.New(collector.Options{
			Registerer:  prometheus.NewRegistry(),
			Prober:      &demoProber{t: t, shift: shift},
			HistorySize: 100,
		})
		if err != nil {
			t.Fatalf("collector.New: %v", err)
		}
		m.ApplyConfig(cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(demoRun)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Manager.Run: %v", err)
		}
	})
	return m
}
