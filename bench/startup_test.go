package main

import (
	"testing"
	"time"
)

func TestStartupBinWidth(t *testing.T) {
	tests := []struct {
		interval, want time.Duration
	}{
		{time.Minute, time.Second},
		{10 * time.Second, time.Second},
		{time.Second, 100 * time.Millisecond},
		{1500 * time.Millisecond, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := startupBinWidth(tt.interval); got != tt.want {
			t.Errorf("startupBinWidth(%v) = %v, want %v", tt.interval, got, tt.want)
		}
	}
}

func TestMeasureStartup(t *testing.T) {
	started := time.Unix(1_800_000_000, 0)
	ms := func(d int64) int64 { return started.UnixNano() + d*int64(time.Millisecond) }
	const interval = 10 * time.Second
	tests := []struct {
		name  string
		hits  [][]int64
		paths int
		ready time.Duration
		want  startupSpread
	}{
		{
			name: "spread over the interval",
			// Ten paths first hit at 0.5 s, 1.5 s, … 9.5 s, and again
			// one interval later, which does not count.
			hits: func() [][]int64 {
				out := make([][]int64, 10)
				for i := range out {
					first := ms(int64(i)*1000 + 500)
					out[i] = []int64{first, first + int64(interval)}
				}
				return out
			}(),
			paths: 10,
			ready: 200 * time.Millisecond,
			want: startupSpread{
				ReadyAfter: 200 * time.Millisecond,
				FirstP50:   4500 * time.Millisecond, FirstP99: 9500 * time.Millisecond, FirstMax: 9500 * time.Millisecond,
				BinWidth: time.Second, BinMax: 1, BinMean: 1,
			},
		},
		{
			name:  "burst after a slow start",
			hits:  [][]int64{{ms(4000)}, {ms(4100)}, {ms(4200)}, {ms(4300)}, {ms(10_500)}, {ms(13_000)}},
			paths: 6,
			ready: 4 * time.Second,
			want: startupSpread{
				ReadyAfter: 4 * time.Second,
				FirstP50:   4200 * time.Millisecond, FirstP99: 13 * time.Second, FirstMax: 13 * time.Second,
				LateFromStart: 2, LateFromReady: 0,
				BinWidth: time.Second, BinMax: 4, BinMean: 0.6,
			},
		},
		{
			name:  "late from ready too",
			hits:  [][]int64{{ms(1000)}, {ms(11_500)}},
			paths: 2,
			ready: time.Second,
			want: startupSpread{
				ReadyAfter: time.Second,
				FirstP50:   time.Second, FirstP99: 11500 * time.Millisecond, FirstMax: 11500 * time.Millisecond,
				LateFromStart: 1, LateFromReady: 1,
				BinWidth: time.Second, BinMax: 1, BinMean: 0.2,
			},
		},
		{
			name:  "paths never hit and beyond the dump",
			hits:  [][]int64{{ms(300)}, nil},
			paths: 3,
			ready: 100 * time.Millisecond,
			want: startupSpread{
				ReadyAfter: 100 * time.Millisecond,
				FirstP50:   300 * time.Millisecond, FirstP99: 300 * time.Millisecond, FirstMax: 300 * time.Millisecond,
				NeverHit: 2, BinWidth: time.Second, BinMax: 1, BinMean: 0.3,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := measureStartup(tt.hits, tt.paths, started, started.Add(tt.ready), interval)
			if got != tt.want {
				t.Errorf("measureStartup =\n%+v, want\n%+v", got, tt.want)
			}
		})
	}
}
