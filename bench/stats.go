package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// the nearest-rank method: the smallest value such that at least p percent
// of the values are less than or equal to it. It returns 0 for no values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// scheduleAccuracy describes how evenly the target saw each path hit during
// a measurement window. A gap is the time between two consecutive hits of
// one path, and its deviation is |gap - interval|.
type scheduleAccuracy struct {
	Hits      int           `json:"hits"`
	Gaps      int           `json:"gaps"`
	DevP50    time.Duration `json:"deviation_p50_ns"`
	DevP99    time.Duration `json:"deviation_p99_ns"`
	DevMax    time.Duration `json:"deviation_max_ns"`
	NeverHit  int           `json:"paths_never_hit"`
	PathsSeen int           `json:"paths_hit"`
}

// measureSchedule computes schedule accuracy for the first paths entries of
// hits, counting only arrivals in [start, end) (Unix nanoseconds). Each
// entry of hits must be sorted.
func measureSchedule(hits [][]int64, paths int, start, end int64, interval time.Duration) scheduleAccuracy {
	var acc scheduleAccuracy
	var devs []float64
	for i := range paths {
		var times []int64
		if i < len(hits) {
			times = windowOf(hits[i], start, end)
		}
		if len(times) == 0 {
			acc.NeverHit++
			continue
		}
		acc.PathsSeen++
		acc.Hits += len(times)
		for j := 1; j < len(times); j++ {
			gap := time.Duration(times[j] - times[j-1])
			devs = append(devs, math.Abs(float64(gap-interval)))
		}
	}
	slices.Sort(devs)
	acc.Gaps = len(devs)
	acc.DevP50 = time.Duration(percentile(devs, 50))
	acc.DevP99 = time.Duration(percentile(devs, 99))
	acc.DevMax = time.Duration(percentile(devs, 100))
	return acc
}

// windowOf returns the part of the sorted times in [start, end).
func windowOf(times []int64, start, end int64) []int64 {
	lo, _ := slices.BinarySearch(times, start)
	hi, _ := slices.BinarySearch(times, end)
	return times[lo:hi]
}

// bucket is one cumulative bucket of a Prometheus histogram.
type bucket struct {
	UpperBound float64
	Count      float64
}

// bucketDelta returns end minus start bucket by bucket, for two scrapes of
// the same histogram. Both must list the same upper bounds in order, and
// a bucket missing from start counts as 0.
func bucketDelta(start, end []bucket) []bucket {
	out := make([]bucket, len(end))
	for i, b := range end {
		out[i] = b
		if i < len(start) && start[i].UpperBound == b.UpperBound {
			out[i].Count -= start[i].Count
		}
	}
	return out
}

// histogramQuantile estimates the q-quantile (0 <= q <= 1) of cumulative
// buckets sorted by upper bound, the last one +Inf, the way PromQL's
// histogram_quantile does: it finds the bucket holding the rank and
// interpolates linearly inside it, taking 0 as the lower bound of the first
// bucket. A rank in the +Inf bucket returns the largest finite bound. It
// returns NaN when there are no observations.
func histogramQuantile(q float64, buckets []bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}

	rank := q * total
	i, _ := slices.BinarySearchFunc(buckets, rank, func(b bucket, r float64) int {
		switch {
		case b.Count < r:
			return -1
		case b.Count > r:
			return 1
		}
		return 0
	})
	i = min(i, len(buckets)-1)

	if math.IsInf(buckets[i].UpperBound, +1) {
		if i == 0 {
			return math.NaN()
		}
		return buckets[i-1].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = buckets[i-1].UpperBound, buckets[i-1].Count
	}
	inBucket := buckets[i].Count - below
	if inBucket <= 0 {
		return buckets[i].UpperBound
	}
	return lower + (buckets[i].UpperBound-lower)*(rank-below)/inBucket
}
