package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written header.\n\n" + resultsBegin + "\n\nold figures\n" + resultsEnd + "\n\nFooter.\n"
	results := docSection{begin: resultsBegin, end: resultsEnd, text: "new figures\n"}
	got, err := replaceSection(doc, results)
	if err != nil {
		t.Fatalf("replaceSection: %v", err)
	}
	want := "# Benchmarks\n\nHand-written header.\n\n" + resultsBegin + "\n\nnew figures\n" + resultsEnd + "\n\nFooter.\n"
	if got != want {
		t.Errorf("replaceSection =\n%s\nwant\n%s", got, want)
	}
	again, err := replaceSection(got, results)
	if err != nil || again != got {
		t.Errorf("replacing with the same section changed the page: %v\n%s", err, again)
	}
}

func TestReplaceSectionRejects(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"no markers", "# Benchmarks\n", "no line"},
		{"no end marker", resultsBegin + "\nfigures\n", "after the begin marker"},
		{"end before begin", resultsEnd + "\n" + resultsBegin + "\n", "after the begin marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := replaceSection(tt.doc, docSection{begin: resultsBegin, end: resultsEnd, text: "x\n"})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("replaceSection error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestUpdateDocKeepsFileWithoutMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	const original = "# Benchmarks\n\nNo markers here.\n"
	if err := os.WriteFile(path, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDoc(path, docSection{begin: resultsBegin, end: resultsEnd, text: "figures\n"}); err == nil {
		t.Fatalf("updateDoc succeeded on a page without markers")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != original {
		t.Errorf("updateDoc changed a page it could not update:\n%s", b)
	}
}

func TestSetFloorRatios(t *testing.T) {
	hits := scheduleAccuracy{Hits: 1000}
	results := []measurement{
		{Scenario: "steady-1000", Repeat: 1, Prober: "floor", CPUPer1k: 0.2, Schedule: hits},
		{Scenario: "steady-1000", Repeat: 1, Prober: "apiwatch", CPUPer1k: 0.3, Schedule: hits},
		{Scenario: "steady-1000", Repeat: 2, Prober: "floor", CPUPer1k: 0.25, Schedule: hits},
		{Scenario: "steady-1000", Repeat: 2, Prober: "apiwatch", CPUPer1k: 0.25, Schedule: hits},
		{Scenario: "faults-1000", Repeat: 1, Prober: "apiwatch", CPUPer1k: 0.4, Schedule: hits},
		{Scenario: "steady-10", Repeat: 1, Prober: "floor", CPUPer1k: 0, Schedule: scheduleAccuracy{}},
		{Scenario: "steady-10", Repeat: 1, Prober: "apiwatch", CPUPer1k: 0.3, Schedule: hits},
	}
	setFloorRatios(results)
	want := []float64{0, 1.5, 0, 1, 0, 0, 0}
	for i, m := range results {
		if diff := m.FloorRatio - want[i]; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s #%d %s: FloorRatio = %v, want %v", m.Scenario, m.Repeat, m.Prober, m.FloorRatio, want[i])
		}
	}
}

func TestReportMarkdown(t *testing.T) {
	lag := 0.0042
	r := &report{
		Date:        time.Date(2026, 8, 10, 14, 5, 0, 0, time.UTC),
		Command:     "go run ./bench -n 1000",
		Machine:     machineInfo{CPUModel: "Test CPU", Cores: 2, MemoryMiB: 24576, Kernel: "6.1.0", GoVersion: "go1.26.8", Commit: "abc1234", LoadStart: "0.50", LoadEnd: "1.25"},
		BaselineRSS: map[string]int64{"floor": 8192, "apiwatch": 16384},
		Results: []measurement{
			{Scenario: "steady-1000", Prober: "floor", Repeat: 1, Interval: time.Second, ScheduledRate: 1000, AchievedRate: 999,
				CPUPer1k: 0.25, PeakRSS: 20480, KiBPerEndpoint: 12.288, Schedule: scheduleAccuracy{Hits: 59940, Gaps: 58940, DevP50: 400 * time.Microsecond},
				Startup: startupSpread{ReadyAfter: 4 * time.Millisecond, FirstP50: 500 * time.Millisecond, FirstP99: 990 * time.Millisecond,
					FirstMax: 1002 * time.Millisecond, LateFromStart: 1, BinWidth: 100 * time.Millisecond, BinMax: 130, BinMean: 100}},
			{Scenario: "steady-1000", Prober: "apiwatch", Repeat: 1, Interval: time.Second, ScheduledRate: 1000, AchievedRate: 1000,
				CPUPer1k: 0.3, FloorRatio: 1.2, PeakRSS: 40960, KiBPerEndpoint: 24.576, Schedule: scheduleAccuracy{Hits: 60000},
				PeakRSSUnscraped: 30720, KiBPerEndpointUnscraped: 14.336,
				APIWatch: &selfReport{LagP99: &lag, Probes: 60000, ScrapeTime: 85 * time.Millisecond, ScrapeBytes: 2 << 20, ScrapeGzipBytes: 1 << 17, ScrapeSeries: 26067}},
		},
	}
	md := r.markdown()
	for _, want := range []string{
		"Measured on 2026-08-10 14:05 UTC, commit abc1234, with `go run ./bench -n 1000`.",
		"Machine: Test CPU, 2 cores, 24.0 GiB memory, Linux 6.1.0, go1.26.8.",
		"Peak RSS with no endpoints: floor 8.0 MiB, apiwatch 16.0 MiB.",
		"| steady-1000 | floor | 1s | 999 / 1000 (0.999) | 0.250 | – | 20.0 | 12.29 |",
		"| steady-1000 | apiwatch | 1s | 1000 / 1000 (1.000) | 0.300 | 1.20 | 40.0 (30.0) | 24.58 (14.34) |",
		"| steady-1000 | floor | 58940 | 0.4 ms |",
		"| steady-1000 | apiwatch | 4.2 ms | 60000 | 0 | 85.0 ms | 2.00 MiB (0.12 MiB) | 26067 |",
		"| steady-1000 | floor | 4.0 ms | 500.0 ms / 990.0 ms / 1.00 s | 1 (0) | 130 per 100.0 ms (100) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Summary") {
		t.Errorf("markdown has a summary table for a run without repeats:\n%s", md)
	}
}

func TestProcField(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := procField([]byte(cpuinfo), "model name"); got != "AMD EPYC 7B13" {
		t.Errorf("procField(model name) = %q, want AMD EPYC 7B13", got)
	}
	if got := procField([]byte(cpuinfo), "flags"); got != "" {
		t.Errorf("procField(flags) = %q, want empty", got)
	}
}

func TestReportReloadMarkdown(t *testing.T) {
	ms := time.Millisecond
	at := func(sec float64) time.Time {
		return time.Unix(1796400000, 0).Add(time.Duration(sec * float64(time.Second)))
	}
	steps := []reloadStep{
		{reloadStepPlan: reloadStepPlan{At: 5 * time.Second, Trigger: triggerSIGHUP, Change: "timeout 5s → 2.5s"},
			Triggered: at(5.1), Completed: at(5.25), TriggerToGauge: 150 * ms, LogDuration: 149 * ms, Reloads: 1,
			Kept: 10000, ReloadCPU: 0.09, ScrapeCPU: 1300 * ms,
			FirstProbe: &firstProbe{Path: 5000, After: 400 * ms, SlotDeviation: 1200 * time.Microsecond}},
		{reloadStepPlan: reloadStepPlan{At: 10 * time.Second, Trigger: triggerSIGHUP, Moved: true,
			Change: "URL /t/5000 → /t/10000"},
			TriggerToGauge: 80 * ms, LogDuration: 79 * ms, Reloads: 1, Kept: 10000, ReloadCPU: 0.07, ScrapeCPU: 1400 * ms,
			FirstProbe: &firstProbe{Path: 10000, After: 5600 * ms, SlotDeviation: 900 * time.Microsecond}},
		{reloadStepPlan: reloadStepPlan{At: 15 * time.Second, Trigger: triggerFile, Moved: true, Change: "timeout 2.5s → 5s"},
			TriggerToGauge: 640 * ms, LogDuration: 140 * ms, Reloads: 2, Kept: 10000, Added: -1, Removed: -1,
			ReloadCPU: -0.01, ScrapeCPU: 1200 * ms,
			FirstProbe: &firstProbe{Path: 10000, After: 20 * ms, SlotDeviation: -3 * ms}},
	}
	r := &report{
		Date:        time.Date(2026, 12, 4, 18, 45, 0, 0, time.UTC),
		Command:     "go run ./bench -scenarios reload -n 10000",
		Machine:     machineInfo{CPUModel: "Test CPU", Cores: 2, MemoryMiB: 24576, Kernel: "6.1.0", GoVersion: "go1.26.8", Commit: "abc1234", LoadStart: "0.50", LoadEnd: "1.25"},
		BaselineRSS: map[string]int64{"apiwatch": 16384},
		Results: []measurement{{
			Scenario: "reload-10000", Prober: "apiwatch", Repeat: 1, Interval: 10 * time.Second, PeakRSS: 300 * 1024,
			OtherCores: 0.45,
			APIWatch:   &selfReport{Skipped: 0},
			Reload: &reloadResult{
				Startup: 230 * ms, Steps: steps, ProbingCores: 0.31,
				Unchanged: reloadGaps{Paths: 9999, Gaps: 49995, AroundReloads: 49995, Tolerance: 2500 * ms,
					DevMax: 206 * ms, DevMaxAroundReloads: 206 * ms},
				Changed:   changedEndpoint{OldPath: 5000, NewPath: 10000, Gaps: reloadGaps{Gaps: 5}},
				InReloads: slotDeviations{Probes: 1500, P99: 20 * ms, Max: 40 * ms, AfterEnd: 1400},
				InScrapes: slotDeviations{Probes: 15000, P99: 90 * ms, Max: 200 * ms, AfterEnd: 20},
				Elsewhere: slotDeviations{Probes: 45000, P99: 5 * ms, Max: 30 * ms},
			},
		}},
	}
	sections := r.docSections()
	if len(sections) != 1 || sections[0].begin != reloadResultsBegin {
		t.Fatalf("docSections of a reload-only run: %d sections, want the reload section alone", len(sections))
	}
	md := sections[0].text
	for _, want := range []string{
		"Measured on 2026-12-04 18:45 UTC, commit abc1234, with `go run ./bench -scenarios reload -n 10000`.",
		"| reload-10000 | 230.0 ms | 2 + 1, 4 logged | 140.0 ms / 149.0 ms | 80.0 ms / 150.0 ms | 640.0 ms / 640.0 ms | " +
			"0.070 (-0.010 to 0.090) | 0.31 | 1300.0 ms | 300.0 | 0.45 |",
		"| reload-10000 | 10s | 49995 (49995) | ± 2.5s: 0 (0) | 0 / 0 | 206.0 ms (206.0 ms) | 20.0 ms / 40.0 ms (1500, 1400) | " +
			"90.0 ms / 200.0 ms (15000, 20) | 5.0 ms / 30.0 ms (45000) | 0 |",
		"| reload-10000 | 0 of 5 | 0 | 0 | /t/10000, 5.60 s, +0.9 ms | 3.0 ms |",
		"| reload-10000 | 1 | 5.0 s | SIGHUP | timeout 5s → 2.5s | 1 | 10000 / 0 / 0 | 149.0 ms | 150.0 ms | 0.090 | /t/5000, 400.0 ms, +1.2 ms |",
		"| reload-10000 | 3 | 15.0 s | file | timeout 2.5s → 5s | 2 | 10000 / ? / ? | 140.0 ms | 640.0 ms | -0.010 | /t/10000, 20.0 ms, -3.0 ms |",
		"| --- | --- | --- | --- | --- | ---: |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("reload markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Peak RSS with no endpoints") || strings.Contains(md, "### Cost") {
		t.Errorf("reload markdown has the cost section's figures:\n%s", md)
	}
}

func TestReportAlertMarkdown(t *testing.T) {
	ms := time.Millisecond
	r := &report{
		Date:    time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC),
		Command: "go run ./bench -scenarios alert -n 10000",
		Machine: machineInfo{CPUModel: "Test CPU", Cores: 2, MemoryMiB: 24576, Kernel: "6.1.0", GoVersion: "go1.26.8",
			Commit: "abc1234", LoadStart: "0.50", LoadEnd: "1.25"},
		BaselineRSS: map[string]int64{"apiwatch": 16384},
		Results: []measurement{{
			Scenario: "alert-10000", Prober: "apiwatch", Repeat: 1, Interval: 10 * time.Second, PeakRSS: 100 * 1024,
			Alert: &alertResult{
				Paths: 100, Timeout: 5 * time.Second, Bound: 16 * time.Second,
				Firing: alertLatency{Arrived: 100,
					Total:  durationStats{P50: 5 * time.Second, P99: 9900 * ms, Max: 10 * time.Second},
					Probe:  durationStats{P50: 4990 * ms, P99: 9890 * ms, Max: 9990 * ms},
					Notify: durationStats{P50: 2 * ms, P99: 8 * ms, Max: 9 * ms}},
				Resolved:     alertLatency{Arrived: 99, Missing: 1, OverBound: 2, Total: durationStats{P50: 6 * time.Second, P99: 17 * time.Second, Max: 17 * time.Second}},
				ActiveFiring: 100, ActiveResolved: 1,
				Posts: 199, RejectedPosts: 1, BeforeSwitch: 0, Unexpected: 3,
				Sent: 199, Errors: 1, Dropped: 0,
			},
		}},
	}
	sections := r.docSections()
	if len(sections) != 1 || sections[0].begin != alertResultsBegin {
		t.Fatalf("docSections of an alert-only run: %d sections, want the alert section alone", len(sections))
	}
	md := sections[0].text
	for _, want := range []string{
		"Measured on 2026-12-04 20:00 UTC, commit abc1234, with `go run ./bench -scenarios alert -n 10000`.",
		"| alert-10000 | firing | 10s / 5s | 100 of 100 | 16.00 s | 5.00 s / 9.90 s / 10.00 s | 0 | " +
			"4.99 s / 9.89 s / 9.99 s | 2.0 ms / 8.0 ms / 9.0 ms | 100 of 100 |",
		"| alert-10000 | resolved | 10s / 5s | 99 of 100 | 16.00 s | 6.00 s / 17.00 s / 17.00 s | 2 | – | – | 1 of 100 |",
		"| alert-10000 | 199 (1) | 0 | 3 | 199 / 1 / 0 | 100.0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("alert markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "### Cost") {
		t.Errorf("alert markdown has the cost tables:\n%s", md)
	}
}

func TestUpdateDocWritesOnlyGivenSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	doc := "# Benchmarks\n\n" + resultsBegin + "\n\ncost figures\n" + resultsEnd + "\n\n## Reload\n\n" +
		reloadResultsBegin + "\n\nold reload figures\n" + reloadResultsEnd + "\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDoc(path, docSection{begin: reloadResultsBegin, end: reloadResultsEnd, text: "new reload figures\n"}); err != nil {
		t.Fatalf("updateDoc: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(doc, "old reload figures", "new reload figures", 1)
	if string(b) != want {
		t.Errorf("page after updateDoc =\n%s\nwant\n%s", b, want)
	}
}
