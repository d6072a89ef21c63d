package main

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// reloadResult holds the figures of one run of the reload scenario.
type reloadResult struct {
	// Startup is the time from starting apiwatch to its "Starting
	// apiwatch" log line: opening storage, loading and applying the
	// configuration. 0 when the line is missing.
	Startup time.Duration `json:"startup_ns"`
	Steps   []reloadStep  `json:"steps"`
	// ProbingCores is the CPU that apiwatch used, in cores, in the quiet
	// slices between reloads.
	ProbingCores float64 `json:"probing_cores"`
	// Unchanged covers every path but the changed endpoint's two.
	Unchanged reloadGaps      `json:"unchanged_paths"`
	Changed   changedEndpoint `json:"changed_endpoint"`
	// InReloads, InScrapes and Elsewhere are the slot deviations of the
	// unchanged paths' probes whose slots lie in a reload, in a scrape of
	// the gauge, or in neither.
	InReloads slotDeviations `json:"slot_deviation_in_reloads"`
	InScrapes slotDeviations `json:"slot_deviation_in_scrapes"`
	Elsewhere slotDeviations `json:"slot_deviation_elsewhere"`
}

// span is a time range in Unix nanoseconds, ends included.
type span struct{ From, To int64 }

// reloadGaps describes the gaps between consecutive hits of each path in a
// window with reloads. A gap's deviation is |gap - interval|.
type reloadGaps struct {
	Paths    int `json:"paths"`
	NeverHit int `json:"paths_never_hit"`
	Gaps     int `json:"gaps"`
	// AroundReloads counts the gaps that overlap the time a reload ran
	// (reloadSpans).
	AroundReloads int `json:"gaps_around_reloads"`
	// Outside counts the gaps that deviate by more than Tolerance: Short
	// ones, where two probes came too close, and Long ones, where a probe
	// came late or not at all. OutsideAroundReloads counts those that
	// overlap a reload.
	Tolerance            time.Duration `json:"tolerance_ns"`
	Outside              int           `json:"outside_tolerance"`
	OutsideAroundReloads int           `json:"outside_tolerance_around_reloads"`
	Short                int           `json:"short"`
	Long                 int           `json:"long"`
	DevP99               time.Duration `json:"deviation_p99_ns"`
	DevMax               time.Duration `json:"deviation_max_ns"`
	DevMaxAroundReloads  time.Duration `json:"deviation_max_around_reloads_ns"`
}

// gapTolerance returns how far a gap may deviate from the interval before
// it counts as a missed or repeated probe. A missed probe makes a gap of two
// intervals, a deviation of one interval. An extra probe splits a gap in
// two, one of which is at most half an interval, a deviation of at least
// half an interval. A quarter interval lies between those and the
// scheduling jitter, which is milliseconds (see the steady scenario), and
// it is at least 250ms at apiwatch's shortest interval of 1s.
func gapTolerance(interval time.Duration) time.Duration { return interval / 4 }

// measureReloadGaps computes the gaps of each entry of paths, a sorted
// list of hit times, counting only hits in [start, end). reloads must be
// sorted and must not overlap.
func measureReloadGaps(paths [][]int64, start, end int64, interval time.Duration, reloads []span) reloadGaps {
	g := reloadGaps{Paths: len(paths), Tolerance: gapTolerance(interval)}
	var devs []float64
	for _, hits := range paths {
		times := windowOf(hits, start, end)
		if len(times) == 0 {
			g.NeverHit++
			continue
		}
		for j := 1; j < len(times); j++ {
			gap := time.Duration(times[j] - times[j-1])
			dev := (gap - interval).Abs()
			devs = append(devs, float64(dev))
			around := overlapsAny(reloads, span{times[j-1], times[j]})
			if around {
				g.AroundReloads++
				g.DevMaxAroundReloads = max(g.DevMaxAroundReloads, dev)
			}
			if dev <= g.Tolerance {
				continue
			}
			g.Outside++
			if around {
				g.OutsideAroundReloads++
			}
			if gap < interval {
				g.Short++
			} else {
				g.Long++
			}
		}
	}
	slices.Sort(devs)
	g.Gaps = len(devs)
	g.DevP99 = time.Duration(percentile(devs, 99))
	g.DevMax = time.Duration(percentile(devs, 100))
	return g
}

// overlapsAny reports whether s overlaps one of spans, which are sorted and
// do not overlap each other.
func overlapsAny(spans []span, s span) bool {
	i := firstEndingAtOrAfter(spans, s.From)
	return i < len(spans) && spans[i].From <= s.To
}

// spanContaining returns the span of spans, which are sorted and do not
// overlap each other, that contains t.
func spanContaining(spans []span, t int64) (span, bool) {
	i := firstEndingAtOrAfter(spans, t)
	if i < len(spans) && spans[i].From <= t {
		return spans[i], true
	}
	return span{}, false
}

// firstEndingAtOrAfter returns the index of the first of the sorted spans
// that ends at or after t, or len(spans) if none does.
func firstEndingAtOrAfter(spans []span, t int64) int {
	i, _ := slices.BinarySearchFunc(spans, t, func(r span, t int64) int {
		if r.To < t {
			return -1
		}
		return 1
	})
	return i
}

// changedEndpoint describes the probes of the endpoint that the reloads
// change.
type changedEndpoint struct {
	OldPath int `json:"old_path"`
	NewPath int `json:"new_path"`
	// Gaps are those of its hits on either path.
	Gaps reloadGaps `json:"gaps"`
	// OldPathHitsAfterMove counts hits of the old URL after the reload
	// that moved it completed, and NewPathHitsBeforeMove hits of the new
	// URL before that reload was triggered. Both should be 0.
	OldPathHitsAfterMove  int `json:"old_path_hits_after_move"`
	NewPathHitsBeforeMove int `json:"new_path_hits_before_move"`
}

// firstProbe is the changed endpoint's first probe after a reload.
type firstProbe struct {
	Path int `json:"path"`
	// After is the time from the reload's completion to the probe's
	// arrival at the target, and SlotDeviation the arrival minus the
	// nearest slot of the endpoint's schedule.
	After         time.Duration `json:"after_ns"`
	SlotDeviation time.Duration `json:"slot_deviation_ns"`
}

// pathHit is one hit of a path.
type pathHit struct {
	at   int64
	path int
}

// analyseChanged sets each step's FirstProbe from the hits of the changed
// endpoint's old and new paths, all of them, and returns its figures over
// the window [start, end). offset is the endpoint's slot in the interval.
func analyseChanged(
	plan *reloadPlan,
	steps []reloadStep,
	oldHits, newHits []int64,
	start, end int64,
	interval, offset time.Duration,
) changedEndpoint {
	c := changedEndpoint{OldPath: plan.Changed, NewPath: plan.SparePath}
	var merged []pathHit
	for _, t := range oldHits {
		merged = append(merged, pathHit{t, plan.Changed})
	}
	for _, t := range newHits {
		merged = append(merged, pathHit{t, plan.SparePath})
	}
	slices.SortFunc(merged, func(a, b pathHit) int { return cmp.Compare(a.at, b.at) })
	times := make([]int64, len(merged))
	for i, h := range merged {
		times[i] = h.at
	}
	c.Gaps = measureReloadGaps([][]int64{times}, start, end, interval, reloadSpans(steps))

	for i := range steps {
		st := &steps[i]
		done := st.Completed.UnixNano()
		j, _ := slices.BinarySearchFunc(merged, done+1, func(h pathHit, t int64) int {
			return cmp.Compare(h.at, t)
		})
		if j < len(merged) {
			h := merged[j]
			st.FirstProbe = &firstProbe{
				Path:          h.path,
				After:         time.Duration(h.at - done),
				SlotDeviation: slotDeviation(h.at, interval, offset),
			}
		}
		if st.Moved && (i == 0 || !steps[i-1].Moved) {
			c.OldPathHitsAfterMove = len(oldHits) - countBefore(oldHits, done+1)
			c.NewPathHitsBeforeMove = countBefore(newHits, st.Triggered.UnixNano())
		}
	}
	return c
}

// countBefore returns how many of the sorted times are before t.
func countBefore(times []int64, t int64) int {
	i, _ := slices.BinarySearch(times, t)
	return i
}

// slotDeviation returns t minus the nearest time offset + k*interval.
func slotDeviation(t int64, interval, offset time.Duration) time.Duration {
	iv := float64(interval)
	k := math.Round(float64(t-int64(offset)) / iv)
	return time.Duration(t - int64(offset) - int64(k*iv))
}

// reloadSpans returns the time each step's reload ran: the duration it
// logged, up to its completion. For the file trigger this leaves out the
// watcher's debounce, during which apiwatch only waits.
func reloadSpans(steps []reloadStep) []span {
	out := make([]span, 0, len(steps))
	for _, st := range steps {
		done := st.Completed.UnixNano()
		out = append(out, span{done - int64(st.LogDuration), done})
	}
	return out
}

// scrapeSpans returns the time each step's scrape of the gauge ran.
func scrapeSpans(steps []reloadStep) []span {
	out := make([]span, 0, len(steps))
	for _, st := range steps {
		out = append(out, span{st.ScrapeStart.UnixNano(), st.ScrapeEnd.UnixNano()})
	}
	return out
}

// slotDeviations describes how far probes reached the target from their
// slots: |arrival - nearest slot|.
type slotDeviations struct {
	Probes int           `json:"probes"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
	// AfterEnd counts the probes that arrived after the end of the span
	// their slot lies in. If most probes due during reloads arrive after
	// the reload, probing waits for the reload rather than competing with
	// it for CPU.
	AfterEnd int `json:"arrived_after_end"`
}

// measureSlotDeviations sorts the hits in [start, end) of each entry of
// paths by where their slot lies, in reloads, in scrapes or elsewhere, and
// returns the slot deviations of each group. offsets[i] is the slot offset
// of paths[i]. reloads and scrapes must each be sorted and must not overlap.
func measureSlotDeviations(
	paths [][]int64,
	offsets []time.Duration,
	start, end int64,
	interval time.Duration,
	reloads, scrapes []span,
) (inReloads, inScrapes, elsewhere slotDeviations) {
	var groups [3][]float64
	var afterEnd [3]int
	for i, hits := range paths {
		for _, t := range windowOf(hits, start, end) {
			dev := slotDeviation(t, interval, offsets[i])
			slot := t - int64(dev)
			group := 2
			if s, ok := spanContaining(reloads, slot); ok {
				group = 0
				if t > s.To {
					afterEnd[group]++
				}
			} else if s, ok := spanContaining(scrapes, slot); ok {
				group = 1
				if t > s.To {
					afterEnd[group]++
				}
			}
			groups[group] = append(groups[group], float64(dev.Abs()))
		}
	}
	var out [3]slotDeviations
	for i, devs := range groups {
		slices.Sort(devs)
		out[i] = slotDeviations{
			Probes:   len(devs),
			P99:      time.Duration(percentile(devs, 99)),
			Max:      time.Duration(percentile(devs, 100)),
			AfterEnd: afterEnd[i],
		}
	}
	return out[0], out[1], out[2]
}

// estimateReloadCPU sets each step's ReloadCPU to its CPU minus probing's
// share over the same span, and returns the probing rate it used, in cores:
// the CPU of all quiet slices over their total length. Pooling counts the
// garbage collections that fall into some slices at their true share. It
// returns 0, and leaves ReloadCPU at the raw CPU, when no step has a quiet
// slice.
func estimateReloadCPU(steps []reloadStep) float64 {
	var cpu, wall time.Duration
	for _, st := range steps {
		cpu += st.QuietCPU
		wall += st.QuietWall
	}
	rate := 0.0
	if wall > 0 {
		rate = cpu.Seconds() / wall.Seconds()
	}
	for i := range steps {
		steps[i].ReloadCPU = steps[i].CPU.Seconds() - rate*steps[i].CPUWall.Seconds()
	}
	return rate
}
