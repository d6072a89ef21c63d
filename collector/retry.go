package collector

import (
	"context"
	"time"
)

// retryingProber runs a probe again while it fails, as often and as far
// apart as the endpoint's retries and retry_delay set.
type retryingProber struct {
	inner Prober
}

// NewRetryingProber returns a Prober that runs inner and, while the result
// is a failure, runs it again up to the endpoint's retries times, waiting
// retry_delay before each new attempt. A degraded result is a success and
// is not retried. Each attempt runs with its own timeout, as inner applies
// it. Retries stop when ctx ends.
//
// The result is the last attempt's, Start and Duration included, with
// Retries counting the attempts after the first. So the end of the probe,
// Start plus Duration, is when the verdict was known, and latency metrics
// and max_duration measure one exchange, not the waits between attempts.
func NewRetryingProber(inner Prober) Prober {
	return &retryingProber{inner: inner}
}

func (p *retryingProber) Probe(ctx context.Context, t *Target) Result {
	res := p.inner.Probe(ctx, t)
	retries := t.Endpoint.RetryCount()
	if res.Success || retries == 0 {
		return res
	}
	delay := time.Duration(t.Endpoint.RetryDelay)
	for attempt := 1; attempt <= retries && !res.Success; attempt++ {
		if !wait(ctx, delay) {
			break
		}
		res = p.inner.Probe(ctx, t)
		res.Retries = attempt
	}
	return res
}

// wait waits for d, or until ctx ends. It reports whether the full time
// passed and ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}
