package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuildScenarios(t *testing.T) {
	spec := scenarioSpec{
		Kinds:     []string{"steady", "faults"},
		Endpoints: []int{1000, 10000},
		Rate:      1000,
		Timeout:   5 * time.Second,
		Windows:   []time.Duration{time.Minute},
	}
	got, err := buildScenarios(spec)
	if err != nil {
		t.Fatalf("buildScenarios: %v", err)
	}
	want := []scenario{
		{Name: "steady-1000", Kind: "steady", Endpoints: 1000, Interval: time.Second, Timeout: time.Second, Window: time.Minute},
		{Name: "steady-10000", Kind: "steady", Endpoints: 10000, Interval: 10 * time.Second, Timeout: 5 * time.Second, Window: time.Minute},
		{Name: "faults-1000", Kind: "faults", Endpoints: 1000, Interval: time.Second, Timeout: time.Second, Window: time.Minute,
			Faults: faults{Fail: 0.10, Slow: 0.05, SlowDelay: 500 * time.Millisecond}},
		{Name: "faults-10000", Kind: "faults", Endpoints: 10000, Interval: 10 * time.Second, Timeout: 5 * time.Second, Window: time.Minute,
			Faults: faults{Fail: 0.10, Slow: 0.05, SlowDelay: 2500 * time.Millisecond}},
	}
	if len(got) != len(want) {
		t.Fatalf("buildScenarios returned %d scenarios, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("scenario %d =\n%+v, want\n%+v", i, got[i], want[i])
		}
	}
	if rate := got[1].scheduledRate(); rate != 1000 {
		t.Errorf("scheduledRate of %s = %v, want 1000", got[1].Name, rate)
	}
}

func TestBuildScenariosFixedInterval(t *testing.T) {
	got, err := buildScenarios(scenarioSpec{
		Kinds: []string{"steady"}, Endpoints: []int{300}, Rate: 1000,
		Intervals: []time.Duration{3 * time.Second}, Timeout: 5 * time.Second, Windows: []time.Duration{10 * time.Second},
	})
	if err != nil {
		t.Fatalf("buildScenarios: %v", err)
	}
	if got[0].Interval != 3*time.Second {
		t.Errorf("Interval = %v, want the fixed 3s", got[0].Interval)
	}
	if got[0].scheduledRate() != 100 {
		t.Errorf("scheduledRate = %v, want 100", got[0].scheduledRate())
	}
}

func TestBuildScenariosPerCount(t *testing.T) {
	got, err := buildScenarios(scenarioSpec{
		Kinds: []string{"steady"}, Endpoints: []int{1000, 100000}, Rate: 1000, Timeout: 5 * time.Second,
		Intervals: []time.Duration{time.Second, time.Minute},
		Windows:   []time.Duration{time.Minute, 2 * time.Minute},
	})
	if err != nil {
		t.Fatalf("buildScenarios: %v", err)
	}
	want := []scenario{
		{Name: "steady-1000", Kind: "steady", Endpoints: 1000, Interval: time.Second, Timeout: time.Second, Window: time.Minute},
		{Name: "steady-100000", Kind: "steady", Endpoints: 100000, Interval: time.Minute, Timeout: 5 * time.Second,
			Window: 2 * time.Minute},
	}
	if len(got) != len(want) {
		t.Fatalf("buildScenarios returned %d scenarios, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("scenario %d =\n%+v, want\n%+v", i, got[i], want[i])
		}
	}
}

func TestBuildScenariosRejects(t *testing.T) {
	base := scenarioSpec{Kinds: []string{"steady"}, Endpoints: []int{1000}, Rate: 1000, Timeout: time.Second,
		Windows: []time.Duration{time.Minute}}
	tests := []struct {
		name    string
		edit    func(*scenarioSpec)
		wantErr string
	}{
		{"unknown kind", func(s *scenarioSpec) { s.Kinds = []string{"stormy"} }, `unknown scenario "stormy"`},
		{"interval below apiwatch's minimum", func(s *scenarioSpec) { s.Rate = 2000 }, "shorter than apiwatch's minimum"},
		{"window under two intervals", func(s *scenarioSpec) { s.Windows = []time.Duration{1500 * time.Millisecond} }, "raise -duration"},
		{"two intervals for one count", func(s *scenarioSpec) {
			s.Intervals = []time.Duration{time.Second, 2 * time.Second}
		}, "-interval lists 2 values for 1 endpoint counts"},
		{"alert paths over half", func(s *scenarioSpec) {
			s.Kinds, s.AlertPaths = []string{"alert"}, 501
		}, "invalid -alert-paths 501"},
		{"no alert path", func(s *scenarioSpec) { s.Kinds = []string{"alert"} }, "invalid -alert-paths 0"},
		{"zero rate", func(s *scenarioSpec) { s.Rate = 0 }, "invalid rate"},
		{"zero endpoints", func(s *scenarioSpec) { s.Endpoints = []int{0} }, "invalid endpoint count"},
		{"zero timeout", func(s *scenarioSpec) { s.Timeout = 0 }, "invalid timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.edit(&spec)
			_, err := buildScenarios(spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("buildScenarios error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseFlagsQuick(t *testing.T) {
	o, err := parseFlags([]string{"-quick"})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if o.write {
		t.Errorf("-quick writes the benchmarks page; it must only with -write")
	}
	if len(o.spec.Endpoints) != 1 || o.spec.Endpoints[0] != 200 {
		t.Errorf("-quick endpoints = %v, want [200]", o.spec.Endpoints)
	}
	if !slices.Equal(o.spec.Intervals, []time.Duration{time.Second}) || !slices.Equal(o.spec.Windows, []time.Duration{5 * time.Second}) {
		t.Errorf("-quick intervals %v, windows %v, want [1s] and [5s]", o.spec.Intervals, o.spec.Windows)
	}
	if !slices.Equal(o.spec.Kinds[:3], []string{"steady", "faults", "reload"}) || o.spec.ReloadEvery != time.Second {
		t.Errorf("-quick scenarios %v, reload every %v; want steady, faults and reload, every 1s",
			o.spec.Kinds, o.spec.ReloadEvery)
	}
	if o.spec.AlertPaths != 20 {
		t.Errorf("-quick alert paths = %d, want 20", o.spec.AlertPaths)
	}
	if _, err := buildScenarios(o.spec); err != nil {
		t.Errorf("-quick scenarios do not build: %v", err)
	}

	o, err = parseFlags([]string{"-quick", "-write", "-n", "300", "-duration", "8s"})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if !o.write || o.spec.Endpoints[0] != 300 || !slices.Equal(o.spec.Windows, []time.Duration{8 * time.Second}) {
		t.Errorf("explicit flags after -quick ignored: write %v, endpoints %v, windows %v", o.write, o.spec.Endpoints, o.spec.Windows)
	}
}

func TestParseFlagsLists(t *testing.T) {
	o, err := parseFlags([]string{"-n", "1000,100000", "-interval", "1s, 60s", "-duration", "1m,2m", "-pprof", "30s"})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if want := []time.Duration{time.Second, time.Minute}; !slices.Equal(o.spec.Intervals, want) {
		t.Errorf("intervals = %v, want %v", o.spec.Intervals, want)
	}
	if want := []time.Duration{time.Minute, 2 * time.Minute}; !slices.Equal(o.spec.Windows, want) {
		t.Errorf("windows = %v, want %v", o.spec.Windows, want)
	}
	if o.run.pprof != 30*time.Second {
		t.Errorf("pprof = %v, want 30s", o.run.pprof)
	}
	if o.run.alertmanagerBin != defaultAlertmanager {
		t.Errorf("alertmanager = %q, want %q", o.run.alertmanagerBin, defaultAlertmanager)
	}
}

func TestParseFlagsFullRunWrites(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if !o.write {
		t.Errorf("a full run does not write the benchmarks page by default")
	}
	if len(o.spec.Endpoints) != 2 || o.spec.Endpoints[0] != 1000 || o.spec.Endpoints[1] != 10000 {
		t.Errorf("default endpoints = %v, want [1000 10000]", o.spec.Endpoints)
	}
	if o.spec.ReloadEvery != 5*time.Second {
		t.Errorf("default -reload-every = %v, want 5s", o.spec.ReloadEvery)
	}
	for _, args := range [][]string{
		{"-n", "10,x"}, {"-n", ""}, {"-repeat", "0"}, {"extra"},
		{"-interval", "10"}, {"-duration", ""}, {"-duration", "1m,-1s"}, {"-pprof", "-1s"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded, want an error", args)
		}
	}
}
