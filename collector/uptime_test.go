package collector

import (
	"testing"
	"time"
)

func TestEndpointStatusCountsProbes(t *testing.T) {
	target := loadTarget(t, "url: https://api.acme.example/\nfailure_threshold: 2")
	e := newEndpoint(target, 10)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	results := []Result{
		{Start: start, Success: true},
		{Start: start.Add(time.Minute), Success: true, Degraded: true, Reason: ReasonSlow},
		{Start: start.Add(2 * time.Minute), Reason: ReasonStatus},
		{Start: start.Add(3 * time.Minute), Reason: ReasonTimeout},
		// A failure without a reason still counts as a probe that failed.
		{Start: start.Add(4 * time.Minute)},
	}
	for _, r := range results {
		if _, _, ok := e.record(r); !ok {
			t.Fatalf("record(%+v) reported the endpoint removed", r)
		}
	}
	e.mu.Lock()
	got := e.endpointStatus()
	e.mu.Unlock()
	if got.Probes != 5 {
		t.Errorf("Probes = %d, want 5", got.Probes)
	}
	if got.SuccessfulProbes != 2 {
		t.Errorf("SuccessfulProbes = %d, want 2 (one healthy, one degraded)", got.SuccessfulProbes)
	}
	if got.State != StateDown {
		t.Errorf("State = %v, want down", got.State)
	}
}
