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
		Window:    time.Minute,
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
		Interval: 3 * time.Second, Timeout: 5 * time.Second, Window: 10 * time.Second,
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

func TestBuildScenariosRejects(t *testing.T) {
	base := scenarioSpec{Kinds: []string{"steady"}, Endpoints: []int{1000}, Rate: 1000, Timeout: time.Second, Window: time.Minute}
	tests := []struct {
		name    string
		edit    func(*scenarioSpec)
		wantErr string
	}{
		{"unknown kind", func(s *scenarioSpec) { s.Kinds = []string{"stormy"} }, `unknown scenario "stormy"`},
		{"interval below apiwatch's minimum", func(s *scenarioSpec) { s.Rate = 2000 }, "shorter than apiwatch's minimum"},
		{"window under two intervals", func(s *scenarioSpec) { s.Window = 1500 * time.Millisecond }, "raise -duration"},
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
	if o.spec.Interval != time.Second || o.spec.Window != 5*time.Second {
		t.Errorf("-quick interval %v, window %v, want 1s and 5s", o.spec.Interval, o.spec.Window)
	}
	if !slices.Equal(o.spec.Kinds, []string{"steady", "faults", "reload"}) || o.spec.ReloadEvery != time.Second {
		t.Errorf("-quick scenarios %v, reload every %v; want steady, faults and reload, every 1s",
			o.spec.Kinds, o.spec.ReloadEvery)
	}
	if _, err := buildScenarios(o.spec); err != nil {
		t.Errorf("-quick scenarios do not build: %v", err)
	}

	o, err = parseFlags([]string{"-quick", "-write", "-n", "300", "-duration", "8s"})
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if !o.write || o.spec.Endpoints[0] != 300 || o.spec.Window != 8*time.Second {
		t.Errorf("explicit flags after -quick ignored: write %v, endpoints %v, window %v", o.write, o.spec.Endpoints, o.spec.Window)
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
	for _, args := range [][]string{{"-n", "10,x"}, {"-n", ""}, {"-repeat", "0"}, {"extra"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) succeeded, want an error", args)
		}
	}
}
