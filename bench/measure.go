package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// measurement holds the figures of one prober in one repeat of a scenario.
type measurement struct {
	Scenario string `json:"scenario"`
	// Repeat counts the measurements of this scenario and prober from 1.
	Repeat    int           `json:"repeat"`
	Prober    string        `json:"prober"`
	Endpoints int           `json:"endpoints"`
	Interval  time.Duration `json:"interval_ns"`
	Window    time.Duration `json:"window_ns"` // as measured, slightly over the scenario's

	ScheduledRate float64 `json:"scheduled_probes_per_second"`
	// AchievedRate counts the requests the target received in the window.
	AchievedRate float64 `json:"achieved_probes_per_second"`

	// CPU is the prober's CPU time in the window, and CPUPer1k that time in
	// seconds per 1,000 requests the target received. FloorRatio divides
	// CPUPer1k by the floor's in the same scenario, and is 0 for the floor.
	CPU        time.Duration `json:"cpu_ns"`
	CPUPer1k   float64       `json:"cpu_seconds_per_1000_probes"`
	FloorRatio float64       `json:"cpu_ratio_to_floor,omitempty"`
	// TargetCPU and TargetCPUPer1k are the target server's cost, for scale.
	TargetCPU      time.Duration `json:"target_cpu_ns"`
	TargetCPUPer1k float64       `json:"target_cpu_seconds_per_1000_probes"`
	// OtherCores is the CPU, in cores, that processes other than the prober,
	// the target and the harness used during the window: the noise from
	// whatever else the machine was doing.
	OtherCores float64 `json:"other_processes_cores"`

	// PeakRSS is VmHWM at the end of the window and BaselineRSS the VmHWM of
	// the same prober with no endpoints, both in KiB. KiBPerEndpoint is
	// their difference divided by the endpoint count.
	PeakRSS        int64   `json:"peak_rss_kib"`
	BaselineRSS    int64   `json:"baseline_peak_rss_kib"`
	KiBPerEndpoint float64 `json:"kib_per_endpoint"`
	// PeakRSSUnscraped is VmHWM at the start of the window, before the
	// first /metrics scrape, for probers that serve metrics. It is kept
	// apart because a scrape builds every series in memory at once and
	// can set the peak.
	PeakRSSUnscraped        int64   `json:"peak_rss_before_first_scrape_kib,omitempty"`
	KiBPerEndpointUnscraped float64 `json:"kib_per_endpoint_before_first_scrape,omitempty"`

	Schedule scheduleAccuracy `json:"schedule"`
	// Startup describes the first hit of every path after the prober's
	// process started.
	Startup  startupSpread `json:"startup"`
	APIWatch *selfReport   `json:"apiwatch,omitempty"`
	// Reload holds the reload scenario's own figures. Its CPU and memory
	// figures above include the reloads and the scrapes between them.
	Reload *reloadResult `json:"reload,omitempty"`
	// Alert holds the alert scenario's own figures.
	Alert *alertResult `json:"alert,omitempty"`
}

// selfReport holds the figures apiwatch exports about itself on /metrics.
type selfReport struct {
	// LagP99 is the 99th percentile of apiwatch_scheduler_lag_seconds over
	// the window, estimated from the buckets; nil when nothing was observed.
	LagP99  *float64 `json:"scheduler_lag_p99_seconds"`
	Probes  float64  `json:"probes"`
	Skipped float64  `json:"skipped"`
	// The scrape after the window: time, size and apiwatch's CPU for it.
	ScrapeTime      time.Duration `json:"scrape_ns"`
	ScrapeBytes     int64         `json:"scrape_bytes"`
	ScrapeGzipBytes int64         `json:"scrape_gzip_bytes"`
	ScrapeSeries    int           `json:"scrape_series"`
	ScrapeCPU       time.Duration `json:"scrape_cpu_ns"`
	// The notification counters at the scrape after the window, totals
	// since apiwatch started.
	NotificationsSent    float64 `json:"notifications_sent"`
	NotificationsErrors  float64 `json:"notifications_errors"`
	NotificationsDropped float64 `json:"notifications_dropped"`
}

// procSnapshot is the CPU of every party at one instant.
type procSnapshot struct {
	at                   time.Time
	prober, target, self procSample
	machine              machineCPU
}

func takeSnapshot(proberPID, targetPID int) (procSnapshot, error) {
	s := procSnapshot{at: time.Now()}
	var err error
	if s.prober, err = readProc(proberPID); err != nil {
		return s, err
	}
	if s.target, err = readProc(targetPID); err != nil {
		return s, err
	}
	if s.self, err = readProc(os.Getpid()); err != nil {
		return s, err
	}
	s.machine, err = readMachineCPU()
	return s, err
}

// measure runs p on sc: start, warm up for one interval, measure over the
// window, stop, and compute the figures from the target's hits. Every
// repeat gets its own files, so apiwatch starts without saved statuses, and
// in the alert scenario its own Alertmanager.
func measure(ctx context.Context, e *env, p prober, sc scenario, repeat int, opts runOptions) (measurement, error) {
	run := fmt.Sprintf("%s-%s-%d", sc.Name, p.name(), repeat)
	var am *alertmanagerEnv
	if sc.Alert != nil {
		var err error
		if am, err = startAlertmanager(e, opts.alertmanagerBin, run); err != nil {
			return measurement{}, err
		}
		defer am.stop()
		e.alertmanagerURL = am.proxyURL
		defer func() { e.alertmanagerURL = "" }()
	}
	rp, err := launchAndWarmUp(ctx, e, p, sc, run)
	if err != nil {
		return measurement{}, err
	}
	defer rp.stop(10 * time.Second)

	var before scrape
	var unscraped procSample
	if rp.metricsURL != "" {
		if unscraped, err = readProc(rp.pid()); err != nil {
			return measurement{}, err
		}
		if before, err = scrapeMetrics(e.client, rp.metricsURL); err != nil {
			return measurement{}, err
		}
	}

	// act is what happens during the window: nothing but probing, the
	// reloads, or the failures and recoveries.
	act := func(ctx context.Context, _ time.Time) error { return sleep(ctx, sc.Window) }
	var reloads *reloadRun
	var alerts *alertRun
	switch {
	case sc.Reload != nil:
		reloads = &reloadRun{e: e, rp: rp, sc: sc}
		act = reloads.run
	case sc.Alert != nil:
		alerts = &alertRun{e: e, sc: sc, am: am}
		act = alerts.run
	}
	start, end, err := measureWindow(ctx, e, rp, sc, run, opts, act)
	if err != nil {
		return measurement{}, err
	}
	m := newMeasurement(sc, p.name(), start, end)
	m.Repeat = repeat
	m.PeakRSSUnscraped = unscraped.PeakRSS
	if rp.metricsURL != "" {
		if m.APIWatch, err = selfReportOf(e, rp, before); err != nil {
			return measurement{}, err
		}
	}

	if err := rp.stop(10 * time.Second); err != nil {
		return measurement{}, err
	}
	hits, err := e.target.hits()
	if err != nil {
		return measurement{}, err
	}
	m.addHits(hits, sc, start.at, end.at)
	m.Startup = measureStartup(hits, sc.Endpoints, rp.started, rp.ready, sc.Interval)
	if reloads != nil {
		if m.Reload, err = reloads.result(hits, start.at, end.at); err != nil {
			return measurement{}, err
		}
	}
	if alerts != nil {
		m.Alert = alerts.result(hits)
		if a := m.APIWatch; a != nil {
			m.Alert.Sent, m.Alert.Errors, m.Alert.Dropped =
				a.NotificationsSent, a.NotificationsErrors, a.NotificationsDropped
		}
	}
	return m, nil
}

// launchAndWarmUp prepares the target for sc, starts p and waits one
// interval.
func launchAndWarmUp(ctx context.Context, e *env, p prober, sc scenario, run string) (*runningProber, error) {
	if err := e.target.setFaults(sc.Faults); err != nil {
		return nil, err
	}
	if err := e.target.reset(); err != nil {
		return nil, err
	}
	rp, err := p.launch(e, sc, run)
	if err != nil {
		return nil, err
	}
	log.Printf("%s: started (pid %d), warming up for %v", run, rp.pid(), sc.warmup())
	if err := sleep(ctx, sc.warmup()); err != nil {
		rp.stop(10 * time.Second)
		return nil, err
	}
	return rp, nil
}

// measureWindow takes CPU snapshots at the start and the end of the
// window, runs act in between, and checks that the prober survived it. act
// gets the start of the window and returns at its end.
func measureWindow(
	ctx context.Context,
	e *env,
	rp *runningProber,
	sc scenario,
	run string,
	opts runOptions,
	act func(ctx context.Context, start time.Time) error,
) (start, end procSnapshot, err error) {
	if start, err = takeSnapshot(rp.pid(), e.target.pid()); err != nil {
		return start, end, err
	}
	log.Printf("%s: measuring for %v", run, sc.Window)
	stopPerf := startPerf(opts.perf, e.dir, run, rp.pid(), sc.Window)
	stopPprof := startPprof(e.client, rp, opts.pprof, sc.Window, filepath.Join(e.dir, run+".cpu.pprof"))
	err = act(ctx, start.at)
	stopPerf()
	stopPprof()
	if err != nil {
		return start, end, err
	}
	if end, err = takeSnapshot(rp.pid(), e.target.pid()); err != nil {
		return start, end, err
	}
	return start, end, rp.running()
}

func newMeasurement(sc scenario, prober string, start, end procSnapshot) measurement {
	window := end.at.Sub(start.at)
	ours := (end.prober.CPU - start.prober.CPU) +
		(end.target.CPU - start.target.CPU) +
		(end.self.CPU - start.self.CPU)
	other := (end.machine.Busy - start.machine.Busy) - ours
	return measurement{
		Scenario:      sc.Name,
		Prober:        prober,
		Endpoints:     sc.Endpoints,
		Interval:      sc.Interval,
		Window:        window,
		ScheduledRate: sc.scheduledRate(),
		CPU:           end.prober.CPU - start.prober.CPU,
		TargetCPU:     end.target.CPU - start.target.CPU,
		OtherCores:    max(other.Seconds(), 0) / window.Seconds(),
		PeakRSS:       end.prober.PeakRSS,
	}
}

// addHits fills in the figures that depend on the target's view. With no
// hits the per-probe figures stay 0, and the report shows them as missing.
func (m *measurement) addHits(hits [][]int64, sc scenario, start, end time.Time) {
	m.Schedule = measureSchedule(hits, sc.Endpoints, start.UnixNano(), end.UnixNano(), sc.Interval)
	m.AchievedRate = float64(m.Schedule.Hits) / m.Window.Seconds()
	if m.Schedule.Hits > 0 {
		m.CPUPer1k = m.CPU.Seconds() / float64(m.Schedule.Hits) * 1000
		m.TargetCPUPer1k = m.TargetCPU.Seconds() / float64(m.Schedule.Hits) * 1000
	}
}

// selfReportOf scrapes apiwatch after the window and compares with the
// scrape before it. The scrape's own CPU is measured apart, so the window's
// CPU does not include it.
func selfReportOf(e *env, rp *runningProber, before scrape) (*selfReport, error) {
	cpuBefore, err := readProc(rp.pid())
	if err != nil {
		return nil, err
	}
	after, err := scrapeMetrics(e.client, rp.metricsURL)
	if err != nil {
		return nil, err
	}
	cpuAfter, err := readProc(rp.pid())
	if err != nil {
		return nil, err
	}
	if missing := after.describeMissing(); missing != "" {
		log.Printf("warning: apiwatch's /metrics lacks %s; its figures are left out", missing)
	}
	r := &selfReport{
		Probes:          after.Probes - before.Probes,
		Skipped:         after.Skipped - before.Skipped,
		ScrapeTime:      after.Duration,
		ScrapeBytes:     after.Bytes,
		ScrapeGzipBytes: after.GzipBytes,
		ScrapeSeries:    after.Series,
		ScrapeCPU:       cpuAfter.CPU - cpuBefore.CPU,

		NotificationsSent:    after.NotificationsSent,
		NotificationsErrors:  after.NotificationsErrors,
		NotificationsDropped: after.NotificationsDropped,
	}
	if q := histogramQuantile(0.99, bucketDelta(before.Lag, after.Lag)); !math.IsNaN(q) {
		r.LagP99 = &q
	}
	return r, nil
}

// baselineRSS returns the peak RSS in KiB of p running with no endpoints,
// after it has been ready for a moment and, if it has metrics, scraped once.
func baselineRSS(ctx context.Context, e *env, p prober) (int64, error) {
	sc := scenario{Name: "baseline", Interval: time.Minute, Timeout: 10 * time.Second}
	rp, err := p.launch(e, sc, "baseline-"+p.name())
	if err != nil {
		return 0, err
	}
	defer rp.stop(10 * time.Second)
	if rp.metricsURL != "" {
		if _, err := scrapeMetrics(e.client, rp.metricsURL); err != nil {
			return 0, err
		}
	}
	if err := sleep(ctx, 2*time.Second); err != nil {
		return 0, err
	}
	s, err := readProc(rp.pid())
	if err != nil {
		return 0, err
	}
	return s.PeakRSS, nil
}

// startPerf records a CPU profile of pid with perf for the window, if
// enabled, and returns a function that waits for perf to finish. perf's
// own CPU is not charged to the prober, but it shares the machine.
func startPerf(enabled bool, dir, run string, pid int, window time.Duration) func() {
	if !enabled {
		return func() {}
	}
	out := filepath.Join(dir, run+".perf.data")
	cmd := exec.Command("perf", "record", "-g", "-F", "499", "-p", fmt.Sprint(pid), "-o", out,
		"--", "sleep", fmt.Sprint(window.Seconds()))
	logFile, err := os.Create(filepath.Join(dir, run+".perf.log"))
	if err == nil {
		cmd.Stdout, cmd.Stderr = logFile, logFile
	}
	if err := cmd.Start(); err != nil {
		log.Printf("warning: perf did not start, no profile for %s: %v", run, err)
		return func() {}
	}
	return func() {
		if err := cmd.Wait(); err != nil {
			log.Printf("warning: perf failed for %s: %v (see %s.perf.log)", run, err, run)
		} else {
			log.Printf("%s: profile in %s (perf report -i %s)", run, out, out)
		}
		if logFile != nil {
			logFile.Close()
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
