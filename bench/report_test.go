package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReplaceResults(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written header.\n\n" + resultsBegin + "\n\nold figures\n" + resultsEnd + "\n\nFooter.\n"
	got, err := replaceResults(doc, "new figures\n")
	if err != nil {
		t.Fatalf("replaceResults: %v", err)
	}
	want := "# Benchmarks\n\nHand-written header.\n\n" + resultsBegin + "\n\nnew figures\n" + resultsEnd + "\n\nFooter.\n"
	if got != want {
		t.Errorf("replaceResults =\n%s\nwant\n%s", got, want)
	}
	again, err := replaceResults(got, "new figures\n")
	if err != nil || again != got {
		t.Errorf("replacing with the same section changed the page: %v\n%s", err, again)
	}
}

func TestReplaceResultsRejects(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"no markers", "# Benchmarks\n", "no line"},
		{"no end marker", resultsBegin + "\nfigures\n", "after the begin marker"},
		{"end before begin", resultsEnd + "\n" + resultsBegin + "\n", "after the begin marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := replaceResults(tt.doc, "x\n")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("replaceResults error = %v, want one containing %q", err, tt.wantErr)
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
	if err := updateDoc(path, "figures\n"); err == nil {
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
				CPUPer1k: 0.25, PeakRSS: 20480, KiBPerEndpoint: 12.288, Schedule: scheduleAccuracy{Hits: 59940, Gaps: 58940, DevP50: 400 * time.Microsecond}},
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
