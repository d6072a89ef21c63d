package web

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apiwatch/apiwatch/collector"
)

func TestNiceCeiling(t *testing.T) {
	tests := []struct {
		d, want time.Duration
	}{
		{0, time.Millisecond},
		{300 * time.Microsecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{1001 * time.Microsecond, 2 * time.Millisecond},
		{3 * time.Millisecond, 5 * time.Millisecond},
		{6 * time.Millisecond, 10 * time.Millisecond},
		{250 * time.Millisecond, 500 * time.Millisecond},
		{1500 * time.Millisecond, 2 * time.Second},
		{5 * time.Second, 5 * time.Second},
		{71 * time.Minute, 5000 * time.Second},
	}
	for _, tt := range tests {
		if got := niceCeiling(tt.d); got != tt.want {
			t.Errorf("niceCeiling(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestBuildChart(t *testing.T) {
	start := time.Date(2026, 5, 6, 7, 8, 0, 0, time.UTC)
	checks := []collector.Check{
		{Time: start, Duration: 100 * time.Millisecond, Success: true},
		{Time: start.Add(time.Minute), Duration: 400 * time.Millisecond, Success: true, Degraded: true,
			Reason: collector.ReasonSlow},
		{Time: start.Add(2 * time.Minute), Duration: 500 * time.Millisecond, Reason: collector.ReasonTimeout},
	}

	c := buildChart(checks)
	// The axis tops at 500ms, so 100ms is a fifth of the 158-unit plot
	// height above its bottom at 170, and 400ms four fifths.
	if c.Line != "56.0,138.4 342.0,43.6 628.0,12.0" {
		t.Errorf("Line = %q", c.Line)
	}
	want := []chartMark{
		{Kind: "ok", Shape: "M53.0 138.4a3 3 0 1 0 6 0a3 3 0 1 0-6 0", Label: "07:08:00 UTC: 100ms, success"},
		{Kind: "degraded", Shape: "M342.0 38.6l5 9h-10z", Label: "07:09:00 UTC: 400ms, degraded (slow)"},
		{Kind: "failed", Shape: "M624.0 8.0l8 8m0-8l-8 8", Label: "07:10:00 UTC: 500ms, failed (timeout)"},
	}
	if diff := cmp.Diff(want, c.Marks); diff != "" {
		t.Errorf("Marks (-want +got):\n%s", diff)
	}
	if c.YMax != "500ms" || c.First != "07:08:00" || c.Last != "07:10:00" {
		t.Errorf("labels YMax %q First %q Last %q, want 500ms 07:08:00 07:10:00", c.YMax, c.First, c.Last)
	}

	if buildChart(nil) != nil {
		t.Errorf("buildChart(nil) is not nil")
	}
	single := buildChart(checks[:1])
	if single.Line != "342.0,12.0" {
		t.Errorf("one check: Line = %q, want the middle of the plot at its top", single.Line)
	}
}
