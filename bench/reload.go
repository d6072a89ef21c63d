package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// reloadPlan is the list of changes and reloads in the reload scenario's
// window. Every Every, from one Every after the window opens, the harness
// changes one endpoint in apiwatch's configuration file and renames the new
// file over the old one. SIGHUP makes apiwatch reload it, except at every
// third step, which leaves the reload to the file watcher.
type reloadPlan struct {
	Every time.Duration `json:"every_ns"`
	// Changed is the index of the endpoint that every step changes, and
	// SparePath the target path its URL moves to, which no other endpoint
	// probes.
	Changed   int              `json:"changed_endpoint"`
	SparePath int              `json:"spare_path"`
	Steps     []reloadStepPlan `json:"steps"`
}

// reloadTrigger is the action that makes apiwatch reload in a step.
type reloadTrigger string

const (
	// triggerSIGHUP renames the new file into place, then sends SIGHUP.
	triggerSIGHUP reloadTrigger = "SIGHUP"
	// triggerFile only renames the new file into place, for the watcher.
	triggerFile reloadTrigger = "file"
)

// reloadStepPlan is one change of the changed endpoint and its reload.
type reloadStepPlan struct {
	// At is the time of the step from the start of the window.
	At      time.Duration `json:"at_ns"`
	Trigger reloadTrigger `json:"trigger"`
	// Timeout and Moved are the changed endpoint's settings after the
	// step: its timeout, and whether its URL is the spare path.
	Timeout time.Duration `json:"timeout_ns"`
	Moved   bool          `json:"moved"`
	// Change describes the step, such as "timeout 5s → 2.5s".
	Change string `json:"change"`
}

// minReloadSteps is the fewest steps a plan needs: a timeout change, a URL
// change and a file rewrite.
const minReloadSteps = 3

// newReloadPlan returns the plan for sc, a reload every `every`. Step 1
// halves the changed endpoint's timeout, step 2 moves its URL to the spare
// path, and later steps switch the timeout back and forth. So every reload
// applies a configuration in which exactly one endpoint differs from the
// running one.
func newReloadPlan(sc scenario, every time.Duration) (*reloadPlan, error) {
	if every < time.Second {
		return nil, fmt.Errorf("invalid -reload-every %v: must be at least 1s, which leaves room for the "+
			"watcher's 500ms debounce", every)
	}
	n := int(sc.Window/every) - 1
	if n < minReloadSteps {
		return nil, fmt.Errorf("a %v window has room for %d reloads every %v, and the reload scenario "+
			"needs at least %d (a timeout change, a URL change and a file rewrite): raise -duration "+
			"or lower -reload-every", sc.Window, max(n, 0), every, minReloadSteps)
	}
	p := &reloadPlan{Every: every, Changed: sc.Endpoints / 2, SparePath: sc.Endpoints}
	halved := max((sc.Timeout / 2).Round(time.Millisecond), time.Millisecond)
	timeout, moved := sc.Timeout, false
	for k := 1; k <= n; k++ {
		s := reloadStepPlan{At: time.Duration(k) * every, Trigger: triggerSIGHUP}
		if k%3 == 0 {
			s.Trigger = triggerFile
		}
		switch {
		case k == 2:
			moved = true
			s.Change = fmt.Sprintf("URL /t/%d → /t/%d", p.Changed, p.SparePath)
		default:
			next := halved
			if timeout == halved {
				next = sc.Timeout
			}
			s.Change = fmt.Sprintf("timeout %v → %v", timeout, next)
			timeout = next
		}
		s.Timeout, s.Moved = timeout, moved
		p.Steps = append(p.Steps, s)
	}
	return p, nil
}

// overrideAfter returns the changed endpoint's settings after step k
// (counted from 0), with url giving the URL of a target path.
func (p *reloadPlan) overrideAfter(k int, url func(int) string) *endpointOverride {
	s := p.Steps[k]
	o := &endpointOverride{Index: p.Changed, URL: url(p.Changed), Timeout: s.Timeout}
	if s.Moved {
		o.URL = url(p.SparePath)
	}
	return o
}

// The timing of a reload step.
const (
	// signalDelay separates the rename from the SIGHUP. The watcher
	// receives the rename's event within it and waits 500ms
	// (config.DefaultReloadDebounce) for more events. A SIGHUP during that wait reloads at once and
	// cancels the wait (docs/reload.md), so a SIGHUP step gives one reload,
	// which the step checks in the log.
	signalDelay = 100 * time.Millisecond
	// reloadWait bounds the wait for a reload to be logged.
	reloadWait = 2 * time.Minute
	// logPollInterval is how often the harness reads apiwatch's log while
	// it waits for a reload. The log has millisecond timestamps, so
	// finer polling would not sharpen any figure.
	logPollInterval = 5 * time.Millisecond
)

// settleTime is how long after a reload is logged the CPU reading of the
// step ends, so that it includes garbage collection right after the reload.
func (p *reloadPlan) settleTime() time.Duration { return min(time.Second, p.Every/5) }

// quietTime is the length of the slice before the next step in which the
// harness measures the CPU of probing alone.
func (p *reloadPlan) quietTime() time.Duration { return min(1500*time.Millisecond, p.Every/4) }

// reloadStep is the record of one step.
type reloadStep struct {
	reloadStepPlan
	// Renamed is when the new file was renamed into place, and Triggered
	// when the reload was asked for: the SIGHUP, or the rename for the
	// file trigger.
	Renamed   time.Time `json:"renamed"`
	Triggered time.Time `json:"triggered"`
	// Logged is the time of apiwatch's "Configuration reloaded" line, to
	// the millisecond, and LogDuration its duration field: loading,
	// validating and applying the configuration.
	Logged      time.Time     `json:"logged"`
	LogDuration time.Duration `json:"log_duration_ns"`
	// Completed is the value of
	// apiwatch_config_last_reload_success_timestamp_seconds scraped after
	// the reload, which apiwatch sets when the reload succeeds, and
	// TriggerToGauge is Completed minus Triggered.
	Completed      time.Time     `json:"completed"`
	TriggerToGauge time.Duration `json:"trigger_to_gauge_ns"`
	// Reloads counts the "Configuration reloaded" lines from the trigger
	// to the next step: 1 unless the watcher reloaded a second time.
	Reloads int `json:"reloads"`
	// Added, Kept and Removed come from apiwatch's "Endpoints applied"
	// line for the reload.
	Added   int `json:"added"`
	Kept    int `json:"kept"`
	Removed int `json:"removed"`
	// CPU is apiwatch's CPU time from just before the rename until
	// settleTime after the reload was logged, CPUWall that span, and
	// ReloadCPU the CPU minus what probing costs over the span, at the
	// rate of the quiet slices.
	CPU       time.Duration `json:"cpu_ns"`
	CPUWall   time.Duration `json:"cpu_wall_ns"`
	ReloadCPU float64       `json:"reload_cpu_seconds"`
	// QuietCPU is apiwatch's CPU time in the quiet slice of length
	// QuietWall before the next step, 0 when the step overran it.
	QuietCPU  time.Duration `json:"quiet_cpu_ns"`
	QuietWall time.Duration `json:"quiet_wall_ns"`
	// ScrapeStart and ScrapeEnd bound the scrape that read the gauge, and
	// ScrapeCPU is apiwatch's CPU for it.
	ScrapeStart time.Time     `json:"scrape_start"`
	ScrapeEnd   time.Time     `json:"scrape_end"`
	ScrapeCPU   time.Duration `json:"scrape_cpu_ns"`
	// FirstProbe is the changed endpoint's first probe that reached the
	// target after Completed, nil if none did before apiwatch stopped.
	FirstProbe *firstProbe `json:"first_probe,omitempty"`
}

// reloadRun carries out a reload plan on a running apiwatch.
type reloadRun struct {
	e     *env
	rp    *runningProber
	sc    scenario
	logs  *logFollower
	steps []reloadStep
}

// run carries out every step and returns at the end of the window, which
// starts at start. It reads apiwatch's log from where it ends at the call.
func (r *reloadRun) run(ctx context.Context, start time.Time) error {
	var err error
	if r.logs, err = followLog(r.rp.logPath); err != nil {
		return err
	}
	defer r.logs.close()
	plan := r.sc.Reload
	for k, s := range plan.Steps {
		next := start.Add(r.sc.Window)
		if k+1 < len(plan.Steps) {
			next = start.Add(plan.Steps[k+1].At)
		}
		st, err := r.step(ctx, k, start.Add(s.At), next)
		if err != nil {
			return fmt.Errorf("reload step %d (%s by %s): %w", k+1, s.Change, s.Trigger, err)
		}
		if late := time.Since(next); late > r.sc.Reload.Every/10 {
			log.Printf("warning: reload step %d ran %v past the time of the next step, which starts late "+
				"and leaves no quiet slice: raise -reload-every", k+1, late.Round(time.Millisecond))
		}
		r.steps = append(r.steps, st)
	}
	return sleepUntil(ctx, start.Add(r.sc.Window))
}

// step carries out step k at `at` and returns at next, the time of the
// following step.
func (r *reloadRun) step(ctx context.Context, k int, at, next time.Time) (reloadStep, error) {
	st := reloadStep{reloadStepPlan: r.sc.Reload.Steps[k]}
	if err := sleepUntil(ctx, at); err != nil {
		return st, err
	}
	config := apiwatchConfig(r.sc, r.e.target.url, r.sc.Reload.overrideAfter(k, r.e.target.url),
		r.e.alertmanagerURL)
	pid := r.rp.pid()
	cpuStart, err := readProc(pid)
	if err != nil {
		return st, err
	}
	cpuStartAt := time.Now()
	if st.Renamed, err = writeFileAtomic(r.rp.configFile, config); err != nil {
		return st, err
	}
	st.Triggered = st.Renamed
	if st.Trigger == triggerSIGHUP {
		if err := sleep(ctx, signalDelay); err != nil {
			return st, err
		}
		st.Triggered = time.Now()
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return st, fmt.Errorf("sending SIGHUP to apiwatch (pid %d): %w", pid, err)
		}
	}

	ev, err := r.logs.waitReload(ctx, st.Triggered, time.Now().Add(reloadWait))
	if err != nil {
		return st, err
	}
	st.Logged, st.LogDuration, st.Reloads = ev.logged, ev.duration, 1
	st.Added, st.Kept, st.Removed = ev.added, ev.kept, ev.removed

	if err := sleepUntil(ctx, ev.seen.Add(r.sc.Reload.settleTime())); err != nil {
		return st, err
	}
	cpuEnd, err := readProc(pid)
	if err != nil {
		return st, err
	}
	st.CPU, st.CPUWall = cpuEnd.CPU-cpuStart.CPU, time.Since(cpuStartAt)

	if err := r.readGauge(&st); err != nil {
		return st, err
	}
	if err := r.measureQuiet(ctx, &st, next); err != nil {
		return st, err
	}
	extra, err := r.logs.countReloads()
	st.Reloads += extra
	return st, err
}

// result computes the figures of the run from the target's hits, taken
// after apiwatch stopped, for the window from start to end.
func (r *reloadRun) result(hits [][]int64, start, end time.Time) (*reloadResult, error) {
	plan := r.sc.Reload
	res := &reloadResult{Steps: r.steps}
	var err error
	if res.Startup, err = startupTime(r.rp.logPath, r.rp.started); err != nil {
		return nil, err
	}
	res.ProbingCores = estimateReloadCPU(res.Steps)

	unchanged := make([][]int64, 0, r.sc.Endpoints)
	offsets := make([]time.Duration, 0, r.sc.Endpoints)
	for i := range r.sc.Endpoints {
		if i != plan.Changed {
			company, endpoint := endpointNames(i)
			unchanged = append(unchanged, pathHits(hits, i))
			offsets = append(offsets, phaseOffset(company, endpoint, r.sc.Interval))
		}
	}
	from, to := start.UnixNano(), end.UnixNano()
	reloads := reloadSpans(res.Steps)
	res.Unchanged = measureReloadGaps(unchanged, from, to, r.sc.Interval, reloads)
	res.InReloads, res.InScrapes, res.Elsewhere = measureSlotDeviations(unchanged, offsets, from, to,
		r.sc.Interval, reloads, scrapeSpans(res.Steps))
	company, endpoint := endpointNames(plan.Changed)
	oldHits, newHits := pathHits(hits, plan.Changed), pathHits(hits, plan.SparePath)
	res.Changed = analyseChanged(plan, res.Steps, oldHits, newHits, from, to, r.sc.Interval,
		phaseOffset(company, endpoint, r.sc.Interval))
	return res, nil
}

// pathHits returns the hits of path i, or none if the target has no such
// path.
func pathHits(hits [][]int64, i int) []int64 {
	if i < len(hits) {
		return hits[i]
	}
	return nil
}

// readGauge scrapes apiwatch for the time its last reload succeeded.
func (r *reloadRun) readGauge(st *reloadStep) error {
	before, err := readProc(r.rp.pid())
	if err != nil {
		return err
	}
	st.ScrapeStart = time.Now()
	s, err := scrapeMetrics(r.e.client, r.rp.metricsURL)
	if err != nil {
		return err
	}
	st.ScrapeEnd = time.Now()
	after, err := readProc(r.rp.pid())
	if err != nil {
		return err
	}
	st.ScrapeCPU = after.CPU - before.CPU
	if s.ReloadTime == 0 {
		return fmt.Errorf("apiwatch's /metrics lacks apiwatch_config_last_reload_success_timestamp_seconds")
	}
	st.Completed = unixSeconds(s.ReloadTime)
	st.TriggerToGauge = st.Completed.Sub(st.Triggered)
	return nil
}

// measureQuiet reads apiwatch's CPU over the quiet slice that ends at next,
// unless the step has already run into it, and returns at next.
func (r *reloadRun) measureQuiet(ctx context.Context, st *reloadStep, next time.Time) error {
	from := next.Add(-r.sc.Reload.quietTime())
	if time.Now().After(from) {
		return sleepUntil(ctx, next)
	}
	if err := sleepUntil(ctx, from); err != nil {
		return err
	}
	q0, err := readProc(r.rp.pid())
	if err != nil {
		return err
	}
	q0At := time.Now()
	if err := sleepUntil(ctx, next); err != nil {
		return err
	}
	q1, err := readProc(r.rp.pid())
	if err != nil {
		return err
	}
	st.QuietCPU, st.QuietWall = q1.CPU-q0.CPU, time.Since(q0At)
	return nil
}

// unixSeconds converts a Prometheus timestamp gauge to a time. A float64
// near 1.8e9 keeps about a quarter of a microsecond.
func unixSeconds(v float64) time.Time {
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9)))
}

// writeFileAtomic writes data to a temporary file in the directory of path
// and renames it over path, as editors and configuration tools do, so that
// apiwatch never reads half a file. It returns the time just before the
// rename.
func writeFileAtomic(path string, data []byte) (time.Time, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return time.Time{}, err
	}
	at := time.Now()
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return time.Time{}, err
	}
	return at, nil
}

// sleepUntil waits until t or until ctx ends. A time in the past returns at
// once.
func sleepUntil(ctx context.Context, t time.Time) error {
	return sleep(ctx, time.Until(t))
}
