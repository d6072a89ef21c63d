package alerting

import (
	"sync"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

// TestSaveKeepsLatestForm flips one endpoint between down and up from
// several goroutines at once; afterwards the database must hold the alert
// in the form the notifier holds, however the saves interleaved. The
// interleaving is up to the scheduler, so unordered saves fail only some
// runs of this test.
func TestSaveKeepsLatestForm(t *testing.T) {
	h := newHarness(t, "", nil, Options{})
	h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				now := time.Now()
				st := down(now, now)
				if (g+i)%2 == 1 {
					st = up(now, now)
				}
				h.transition(apiKey, st)
			}
		})
	}
	wg.Wait()

	h.n.mu.Lock()
	want := h.n.alerts[alertID{"acme", "api", AlertEndpointDown}]
	h.n.mu.Unlock()
	saved := savedAlerts(t, h.db)
	got, ok := saved[alertID{"acme", "api", AlertEndpointDown}.storageKey()]
	switch {
	case want == nil && ok:
		t.Errorf("database holds %+v, notifier holds nothing", got)
	case want != nil && !ok:
		t.Errorf("database holds nothing, notifier holds %+v", *want)
	case want != nil && (!got.StartsAt.Equal(want.StartsAt) || !got.ResolvedAt.Equal(want.ResolvedAt)):
		t.Errorf("database holds startsAt %s resolvedAt %s, notifier holds %s and %s",
			got.StartsAt, got.ResolvedAt, want.StartsAt, want.ResolvedAt)
	}
}
