package main

import (
	"fmt"
	"log"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reloadTables lays the reload results out in four tables: wall time and
// CPU per reload, the probes of the unchanged endpoints, those of the
// changed one, and every step.
func (r *report) reloadTables() []table {
	results := r.reloadResults()
	if len(results) == 0 {
		return nil
	}
	cost := table{
		left:  1,
		title: "Reload: time and CPU",
		header: []string{"Scenario", "Start-up", "Reloads (SIGHUP + file)", "Duration p50 / max",
			"SIGHUP to gauge p50 / max", "File rename to gauge p50 / max", "CPU s per reload p50 (range)",
			"Probing, cores", "Gauge scrape CPU p50", "Peak RSS MiB", "Other processes, cores"},
	}
	unchanged := table{
		left:  1,
		title: "Reload: probes of the unchanged endpoints",
		header: []string{"Scenario", "Interval", "Gaps (around reloads)",
			"Outside ± tolerance (around reloads)", "Short / long", "Gap deviation max (around reloads)",
			"Slot deviation p99 / max (probes, arrived after the end), slot in a reload",
			"In a gauge scrape", "Elsewhere", "Skipped"},
	}
	changed := table{
		left:  1,
		title: "Reload: probes of the changed endpoint",
		header: []string{"Scenario", "Gaps outside ± tolerance", "Old URL hits after the move",
			"New URL hits before the move", "First probe at the new URL: after reload, off slot",
			"First probes after the other reloads: max off slot"},
	}
	steps := table{
		left:  5,
		title: "Reload steps",
		header: []string{"Scenario", "Step", "At", "Trigger", "Change", "Reloads", "Kept / added / removed",
			"Duration", "Trigger to gauge", "CPU s (estimate)",
			"Changed endpoint's next probe: after reload, off slot"},
	}
	for _, m := range results {
		name := repeatedName(m, results)
		cost.rows = append(cost.rows, reloadCostRow(name, m))
		unchanged.rows = append(unchanged.rows, unchangedRow(name, m))
		changed.rows = append(changed.rows, changedRow(name, m.Reload))
		for i, st := range m.Reload.Steps {
			steps.rows = append(steps.rows, []string{name, strconv.Itoa(i + 1), seconds(st.At),
				string(st.Trigger), st.Change, strconv.Itoa(st.Reloads),
				fmt.Sprintf("%s / %s / %s", count(st.Kept), count(st.Added), count(st.Removed)),
				millis(st.LogDuration), millis(st.TriggerToGauge), fmt.Sprintf("%.3f", st.ReloadCPU),
				describeFirstProbe(st.FirstProbe)})
		}
	}
	return []table{cost, unchanged, changed, steps}
}

func reloadCostRow(name string, m measurement) []string {
	rr := m.Reload
	var durations, sighup, file, cpu, scrapeCPU []float64
	var bySignal, byFile, logged int
	for _, st := range rr.Steps {
		durations = append(durations, float64(st.LogDuration))
		cpu = append(cpu, st.ReloadCPU)
		scrapeCPU = append(scrapeCPU, float64(st.ScrapeCPU))
		logged += st.Reloads
		if st.Trigger == triggerSIGHUP {
			bySignal++
			sighup = append(sighup, float64(st.TriggerToGauge))
		} else {
			byFile++
			file = append(file, float64(st.TriggerToGauge))
		}
	}
	for _, v := range [][]float64{durations, sighup, file, cpu, scrapeCPU} {
		slices.Sort(v)
	}
	reloads := fmt.Sprintf("%d + %d", bySignal, byFile)
	if logged != len(rr.Steps) {
		reloads += fmt.Sprintf(", %d logged", logged)
	}
	cpuRange := "–"
	if len(cpu) > 0 {
		cpuRange = fmt.Sprintf("%.3f (%.3f to %.3f)", percentile(cpu, 50), cpu[0], cpu[len(cpu)-1])
	}
	return []string{name, shortDuration(rr.Startup), reloads, medianMax(durations), medianMax(sighup),
		medianMax(file), cpuRange, fmt.Sprintf("%.2f", rr.ProbingCores),
		millis(time.Duration(percentile(scrapeCPU, 50))), fmt.Sprintf("%.1f", float64(m.PeakRSS)/1024),
		fmt.Sprintf("%.2f", m.OtherCores)}
}

func unchangedRow(name string, m measurement) []string {
	rr := m.Reload
	g := rr.Unchanged
	skipped := "–"
	if m.APIWatch != nil {
		skipped = fmt.Sprintf("%.0f", m.APIWatch.Skipped)
	}
	gaps := fmt.Sprintf("%d (%d)", g.Gaps, g.AroundReloads)
	if g.NeverHit > 0 {
		gaps += fmt.Sprintf(", %d paths never hit", g.NeverHit)
	}
	return []string{name, m.Interval.String(), gaps,
		fmt.Sprintf("± %v: %d (%d)", g.Tolerance, g.Outside, g.OutsideAroundReloads),
		fmt.Sprintf("%d / %d", g.Short, g.Long),
		fmt.Sprintf("%s (%s)", millis(g.DevMax), millis(g.DevMaxAroundReloads)),
		describeSlotDeviations(rr.InReloads, true), describeSlotDeviations(rr.InScrapes, true),
		describeSlotDeviations(rr.Elsewhere, false), skipped}
}

func changedRow(name string, rr *reloadResult) []string {
	c := rr.Changed
	moved, others := "–", "–"
	var maxOff time.Duration
	seen := false
	for i, st := range rr.Steps {
		if st.Moved && (i == 0 || !rr.Steps[i-1].Moved) {
			moved = describeFirstProbe(st.FirstProbe)
			continue
		}
		if st.FirstProbe != nil {
			maxOff, seen = max(maxOff, st.FirstProbe.SlotDeviation.Abs()), true
		}
	}
	if seen {
		others = millis(maxOff)
	}
	return []string{name, fmt.Sprintf("%d of %d", c.Gaps.Outside, c.Gaps.Gaps),
		strconv.Itoa(c.OldPathHitsAfterMove), strconv.Itoa(c.NewPathHitsBeforeMove), moved, others}
}

// describeSlotDeviations formats slot deviations as "p99 / max (probes)",
// with the probes that arrived after the end of their span if withAfterEnd
// is set.
func describeSlotDeviations(d slotDeviations, withAfterEnd bool) string {
	if d.Probes == 0 {
		return "no probes"
	}
	if withAfterEnd {
		return fmt.Sprintf("%s / %s (%d, %d)", millis(d.P99), millis(d.Max), d.Probes, d.AfterEnd)
	}
	return fmt.Sprintf("%s / %s (%d)", millis(d.P99), millis(d.Max), d.Probes)
}

// describeFirstProbe returns where and when the changed endpoint's first
// probe after a reload arrived, such as "/t/10000, 3.2 s, +0.4 ms".
func describeFirstProbe(p *firstProbe) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("/t/%d, %s, %+.1f ms", p.Path, shortDuration(p.After),
		float64(p.SlotDeviation)/float64(time.Millisecond))
}

// medianMax formats the median and the maximum of sorted durations in
// nanoseconds.
func medianMax(sorted []float64) string {
	if len(sorted) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s", millis(time.Duration(percentile(sorted, 50))),
		millis(time.Duration(sorted[len(sorted)-1])))
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// shortDuration formats d in milliseconds below a second and in seconds
// from there, and 0 as missing.
func shortDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Second:
		return millis(d)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// count formats an endpoint count from apiwatch's log, -1 when it was
// missing.
func count(n int) string {
	if n < 0 {
		return "?"
	}
	return strconv.Itoa(n)
}

// logReloads prints a one-line summary of a reload run.
func logReloads(scenario string, repeat int, rr *reloadResult) {
	var durations []string
	for _, st := range rr.Steps {
		durations = append(durations, millis(st.LogDuration))
	}
	log.Printf("%s-apiwatch-%d: %d reloads (%s), %d of %d gaps of unchanged paths outside ± %v",
		scenario, repeat, len(rr.Steps), strings.Join(durations, ", "),
		rr.Unchanged.Outside, rr.Unchanged.Gaps, rr.Unchanged.Tolerance)
}
