package main

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"empty is zero", nil, 50, 0},
		{"single value", []float64{7}, 99, 7},
		{"median of ten", ten, 50, 5},
		{"p99 of ten is the max", ten, 99, 10},
		{"p90 of ten", ten, 90, 9},
		{"p91 of ten rounds up", ten, 91, 10},
		{"p100 is the max", ten, 100, 10},
		{"tiny p is the min", ten, 0.1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.values, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.values, tt.p, got, tt.want)
			}
		})
	}
}

func TestMeasureSchedule(t *testing.T) {
	const s = int64(time.Second)
	const ms = int64(time.Millisecond)
	hits := [][]int64{
		// Path 0: on time, then 2 ms late, then 1 ms early.
		{10 * s, 11 * s, 12*s + 2*ms, 13*s + ms},
		// Path 1: one hit before the window, one in it, one at its end
		// (excluded), so no gap inside the window.
		{9 * s, 10*s + 500*ms, 20 * s},
		// Path 2: never hit.
		nil,
		// Path 3: a missed tick makes a gap of two intervals.
		{15 * s, 17 * s},
	}
	got := measureSchedule(hits, 5, 10*s, 20*s, time.Second)
	want := scheduleAccuracy{
		Hits:      7,
		Gaps:      4,
		DevP50:    time.Millisecond,
		DevP99:    time.Second,
		DevMax:    time.Second,
		NeverHit:  2, // path 2, and path 4 beyond the hit list
		PathsSeen: 3,
	}
	if got != want {
		t.Errorf("measureSchedule =\n%+v, want\n%+v", got, want)
	}
}

func TestMeasureScheduleDeviations(t *testing.T) {
	const s = int64(time.Second)
	// 100 gaps on one path: 98 exact, one 3 ms late, one 40 ms late.
	var times []int64
	at := int64(0)
	for i := range 101 {
		times = append(times, at)
		switch i {
		case 50:
			at += s + 3*int64(time.Millisecond)
		case 70:
			at += s + 40*int64(time.Millisecond)
		default:
			at += s
		}
	}
	got := measureSchedule([][]int64{times}, 1, 0, at+s, time.Second)
	if got.Gaps != 100 {
		t.Fatalf("Gaps = %d, want 100", got.Gaps)
	}
	if got.DevP50 != 0 {
		t.Errorf("DevP50 = %v, want 0", got.DevP50)
	}
	if got.DevP99 != 3*time.Millisecond {
		t.Errorf("DevP99 = %v, want 3ms", got.DevP99)
	}
	if got.DevMax != 40*time.Millisecond {
		t.Errorf("DevMax = %v, want 40ms", got.DevMax)
	}
}

func TestWindowOf(t *testing.T) {
	times := []int64{1, 3, 5, 7}
	tests := []struct {
		name       string
		start, end int64
		want       []int64
	}{
		{"start inclusive end exclusive", 3, 7, []int64{3, 5}},
		{"all", 0, 100, []int64{1, 3, 5, 7}},
		{"none", 8, 10, []int64{}},
		{"between hits", 4, 5, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := windowOf(times, tt.start, tt.end); !slices.Equal(got, tt.want) {
				t.Errorf("windowOf(%d, %d) = %v, want %v", tt.start, tt.end, got, tt.want)
			}
		})
	}
}

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(+1)
	tests := []struct {
		name    string
		q       float64
		buckets []bucket
		want    float64
	}{
		{"interpolates in the first bucket from zero", 0.5,
			[]bucket{{1, 10}, {2, 10}, {inf, 10}}, 0.5},
		{"interpolates inside a bucket", 0.75,
			[]bucket{{1, 50}, {3, 100}, {inf, 100}}, 2},
		{"rank on a bucket boundary takes that bucket's bound", 0.5,
			[]bucket{{1, 50}, {3, 100}, {inf, 100}}, 1},
		{"rank in the +Inf bucket returns the largest finite bound", 0.99,
			[]bucket{{0.1, 90}, {0.5, 95}, {inf, 100}}, 0.5},
		{"p99 of lag-like buckets", 0.99,
			[]bucket{{0.001, 900}, {0.005, 990}, {0.01, 1000}, {inf, 1000}}, 0.005},
		{"no observations", 0.99,
			[]bucket{{1, 0}, {inf, 0}}, math.NaN()},
		{"no buckets", 0.5, nil, math.NaN()},
		{"only +Inf", 0.5, []bucket{{inf, 4}}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := histogramQuantile(tt.q, tt.buckets)
			if math.IsNaN(tt.want) {
				if !math.IsNaN(got) {
					t.Errorf("histogramQuantile = %v, want NaN", got)
				}
				return
			}
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("histogramQuantile = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBucketDelta(t *testing.T) {
	inf := math.Inf(+1)
	start := []bucket{{0.1, 5}, {1, 8}, {inf, 9}}
	end := []bucket{{0.1, 15}, {1, 28}, {inf, 30}}
	want := []bucket{{0.1, 10}, {1, 20}, {inf, 21}}
	if got := bucketDelta(start, end); !reflect.DeepEqual(got, want) {
		t.Errorf("bucketDelta = %v, want %v", got, want)
	}
	if got := bucketDelta(nil, end); !reflect.DeepEqual(got, end) {
		t.Errorf("bucketDelta from no buckets = %v, want %v", got, end)
	}
}
