package alerting

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkResendDue measures one pass of resendDue over 10,000 firing
// alerts of which none is due, the common case between resends.
func BenchmarkResendDue(b *testing.B) {
	n, err := New(Options{Statuses: newFakeStatuses()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 10000 {
		id := alertID{Company: "acme", Endpoint: fmt.Sprintf("api-%05d", i), Name: AlertEndpointDown}
		n.alerts[id] = &alert{ID: id, StartsAt: now, nextSend: now.Add(time.Hour)}
	}
	for b.Loop() {
		n.resendDue(now)
	}
}
