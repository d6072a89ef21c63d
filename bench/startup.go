package main

import (
	"slices"
	"time"
)

// startupSpread describes when each path was first hit after the prober's
// process started: how long the first probes took, and whether they came
// spread over the first interval or in a burst.
type startupSpread struct {
	// ReadyAfter is the time from starting the process to the harness
	// seeing it ready (runningProber.ready).
	ReadyAfter time.Duration `json:"ready_after_ns"`
	// FirstP50, FirstP99 and FirstMax are percentiles over the paths of
	// the time from starting the process to the path's first hit.
	FirstP50 time.Duration `json:"first_hit_p50_ns"`
	FirstP99 time.Duration `json:"first_hit_p99_ns"`
	FirstMax time.Duration `json:"first_hit_max_ns"`
	// LateFromStart counts the paths first hit more than one interval
	// after the process started, and LateFromReady those first hit more
	// than one interval after the prober was ready.
	LateFromStart int `json:"late_from_start"`
	LateFromReady int `json:"late_from_ready"`
	// NeverHit counts the paths with no hit before the prober stopped.
	NeverHit int `json:"never_hit"`
	// The first hits are counted in bins of BinWidth from the process
	// start. BinMax is the largest count, and BinMean the count of each bin
	// if the first hits spread evenly over one interval. A burst shows as
	// a BinMax far above BinMean.
	BinWidth time.Duration `json:"bin_width_ns"`
	BinMax   int           `json:"bin_max"`
	BinMean  float64       `json:"bin_mean"`
}

// startupBinWidth returns the bin width for the first hits: 1 s, or a tenth
// of the interval when that is shorter, so a short interval still has ten
// bins.
func startupBinWidth(interval time.Duration) time.Duration {
	return min(time.Second, interval/10)
}

// measureStartup computes the start-up figures of the first paths entries
// of hits, each sorted, in Unix nanoseconds. started is when the process
// was started and ready when the harness saw it ready.
func measureStartup(hits [][]int64, paths int, started, ready time.Time, interval time.Duration) startupSpread {
	s := startupSpread{ReadyAfter: ready.Sub(started), BinWidth: startupBinWidth(interval)}
	if paths == 0 || interval <= 0 {
		return s
	}
	s.BinMean = float64(paths) * float64(s.BinWidth) / float64(interval)

	origin, readyAt := started.UnixNano(), ready.UnixNano()
	bins := map[int64]int{}
	var firsts []float64
	for i := range paths {
		var times []int64
		if i < len(hits) {
			times = hits[i]
		}
		if len(times) == 0 {
			s.NeverHit++
			continue
		}

		first := times[0]
		delay := time.Duration(first - origin)
		firsts = append(firsts, float64(delay))
		if delay > interval {
			s.LateFromStart++
		}
		if time.Duration(first-readyAt) > interval {
			s.LateFromReady++
		}
		// A hit before the start, which a reset target never records,
		// would fall into bin 0 rather than a negative one.
		bin := max(first-origin, 0) / int64(s.BinWidth)
		bins[bin]++
		s.BinMax = max(s.BinMax, bins[bin])
	}

	slices.Sort(firsts)
	s.FirstP50 = time.Duration(percentile(firsts, 50))
	s.FirstP99 = time.Duration(percentile(firsts, 99))
	s.FirstMax = time.Duration(percentile(firsts, 100))
	return s
}
