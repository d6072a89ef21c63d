package web

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ago  time.Duration
		want string
	}{
		{"clock step ahead", -800 * time.Millisecond, "just now"},
		{"under a second", 999 * time.Millisecond, "just now"},
		{"one second", time.Second, "1 second ago"},
		{"seconds round down", 59*time.Second + 999*time.Millisecond, "59 seconds ago"},
		{"one minute", time.Minute, "1 minute ago"},
		{"minutes", 59 * time.Minute, "59 minutes ago"},
		{"one hour", time.Hour, "1 hour ago"},
		{"hours up to two days", 47 * time.Hour, "47 hours ago"},
		{"days", 50 * time.Hour, "2 days ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ago(now, now.Add(-tt.ago)); got != tt.want {
				t.Errorf("ago(%v before now) = %q, want %q", tt.ago, got, tt.want)
			}
		})
	}
}

func TestUptimePercent(t *testing.T) {
	tests := []struct {
		name              string
		successes, probes uint64
		wantPercent       string
		wantRatio         string
	}{
		{"no probes", 0, 0, "", ""},
		{"all successful", 5, 5, "100%", "1"},
		{"none successful", 0, 5, "0%", "0"},
		{"one failure in ten thousand", 9999, 10000, "99.99%", "0.9999"},
		{"one failure never reads as 100%", 99999, 100000, "99.99%", "0.99999"},
		{"a third rounds down", 1, 3, "33.33%", "0.3333333333333333"},
		{"two thirds round down", 2, 3, "66.66%", "0.6666666666666666"},
		{"trailing zero dropped", 199, 200, "99.5%", "0.995"},
		{"exact hundredths", 29, 100, "29%", "0.29"},
		{"leading zero kept", 101, 10000, "1.01%", "0.0101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := uptimePercent(tt.successes, tt.probes); got != tt.wantPercent {
				t.Errorf("uptimePercent(%d of %d) = %q, want %q", tt.successes, tt.probes, got, tt.wantPercent)
			}
			if got := uptimeRatio(tt.successes, tt.probes); got != tt.wantRatio {
				t.Errorf("uptimeRatio(%d of %d) = %q, want %q", tt.successes, tt.probes, got, tt.wantRatio)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{312 * time.Microsecond, "312µs"},
		{999499 * time.Nanosecond, "999µs"},
		{1500 * time.Microsecond, "2ms"},
		{250 * time.Millisecond, "250ms"},
		{1501*time.Millisecond + 400*time.Microsecond, "1.501s"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := latency(tt.d); got != tt.want {
			t.Errorf("latency(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDatetime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 3, 4, 13, 0, 1, 0, berlin), "2026-03-04T12:00:01Z"},
		{time.Date(2026, 3, 4, 12, 0, 1, 500_000_000, time.UTC), "2026-03-04T12:00:01.5Z"},
		// HTML allows three fractional digits, so the rest is cut.
		{time.Date(2026, 3, 4, 12, 0, 1, 123_456_789, time.UTC), "2026-03-04T12:00:01.123Z"},
	}
	for _, tt := range tests {
		if got := datetime(tt.t); got != tt.want {
			t.Errorf("datetime(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	if got, want := displayTime(time.Date(2026, 3, 4, 13, 0, 1, 900_000_000, berlin)), "2026-03-04 12:00:01 UTC"; got != want {
		t.Errorf("displayTime = %q, want %q", got, want)
	}
}
