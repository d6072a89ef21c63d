package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// scenario is one load that every prober runs in turn against the same
// target server.
type scenario struct {
	// Name is the kind and the endpoint count, such as "steady-10000".
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	Endpoints int           `json:"endpoints"`
	Interval  time.Duration `json:"interval_ns"`
	Timeout   time.Duration `json:"timeout_ns"`
	// Window is how long CPU, hits and gaps are measured for, after a
	// warm-up of one interval that lets every endpoint be probed once.
	Window time.Duration `json:"window_ns"`
	Faults faults        `json:"faults"`
	// Reload is the plan of changes and reloads during the window of the
	// reload scenario, and nil for the others.
	Reload *reloadPlan `json:"reload,omitempty"`
	// Alert is the plan of the alert scenario, and nil for the others.
	Alert *alertPlan `json:"alert,omitempty"`
}

// warmup is the time between a prober becoming ready and the start of the
// measurement window.
func (sc scenario) warmup() time.Duration { return sc.Interval }

// supports reports whether prober can run sc. The floor has no
// configuration to reload and sends no alerts, so the reload and alert
// scenarios run apiwatch alone.
func (sc scenario) supports(prober string) bool {
	return (sc.Reload == nil && sc.Alert == nil) || prober == "apiwatch"
}

// measuresCost reports whether sc is one of the scenarios that compare the
// cost of probing with the floor's.
func (sc scenario) measuresCost() bool { return sc.Reload == nil && sc.Alert == nil }

// scheduledRate returns the probe rate the configuration schedules, in
// probes per second.
func (sc scenario) scheduledRate() float64 {
	return float64(sc.Endpoints) / sc.Interval.Seconds()
}

// scenarioKinds maps each scenario kind to a function that takes a scenario
// with the endpoint count, interval, timeout and window filled in and sets
// the rest. A new benchmark case is a new entry here.
var scenarioKinds = map[string]func(sc scenario) scenario{
	// steady: every path returns 200 at once.
	"steady": func(sc scenario) scenario { return sc },
	// faults: 10% of paths return 500 and 5% respond after half the
	// timeout, so failure accounting and probes that hold their connection
	// longer are part of the cost.
	"faults": func(sc scenario) scenario {
		sc.Faults = faults{Fail: 0.10, Slow: 0.05, SlowDelay: sc.Timeout / 2}
		return sc
	},
	// reload: every path returns 200, and every ReloadEvery one endpoint
	// changes and apiwatch reloads (reload.go). buildScenarios fills in
	// the plan.
	"reload": func(sc scenario) scenario {
		sc.Reload = &reloadPlan{}
		return sc
	},
	// alert: apiwatch sends its alerts to a real Alertmanager, and after
	// the warm-up a set of paths starts failing and later recovers
	// (alert.go). buildScenarios fills in the plan.
	"alert": func(sc scenario) scenario {
		sc.Alert = &alertPlan{}
		return sc
	},
}

// scenarioSpec is the set of scenarios the flags select.
type scenarioSpec struct {
	Kinds     []string
	Endpoints []int
	// Rate sets the interval to Endpoints/Rate seconds, unless Intervals
	// is set.
	Rate float64
	// Intervals and Windows hold either one value for every endpoint count
	// or one per entry of Endpoints. Intervals may be empty.
	Intervals []time.Duration
	Timeout   time.Duration
	Windows   []time.Duration
	// ReloadEvery is the time between two reloads in the reload scenario.
	ReloadEvery time.Duration
	// AlertPaths is the number of paths that fail in the alert scenario.
	AlertPaths int
}

// minInterval is apiwatch's shortest accepted interval.
const minInterval = time.Second

// buildScenarios returns one scenario per kind and endpoint count, in the
// order given.
func buildScenarios(spec scenarioSpec) ([]scenario, error) {
	var out []scenario
	for _, kind := range spec.Kinds {
		apply, ok := scenarioKinds[kind]
		if !ok {
			return nil, fmt.Errorf("unknown scenario %q: known ones are %s", kind, strings.Join(knownKinds(), ", "))
		}
		for i, n := range spec.Endpoints {
			sc, err := baseScenario(spec, kind, i, n)
			if err != nil {
				return nil, err
			}
			sc = apply(sc)
			if sc.Reload != nil {
				if sc.Reload, err = newReloadPlan(sc, spec.ReloadEvery); err != nil {
					return nil, err
				}
			}
			if sc.Alert != nil {
				if sc.Alert, err = newAlertPlan(sc, spec.AlertPaths); err != nil {
					return nil, err
				}
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

// baseScenario returns the scenario of kind for the i-th endpoint count, n.
func baseScenario(spec scenarioSpec, kind string, i, n int) (scenario, error) {
	if n < 1 {
		return scenario{}, fmt.Errorf("invalid endpoint count %d: must be at least 1", n)
	}
	interval, err := valueFor(spec.Intervals, i, len(spec.Endpoints), "-interval")
	if err != nil {
		return scenario{}, err
	}
	window, err := valueFor(spec.Windows, i, len(spec.Endpoints), "-duration")
	if err != nil {
		return scenario{}, err
	}
	if interval == 0 {
		if spec.Rate <= 0 {
			return scenario{}, fmt.Errorf("invalid rate %v: must be positive", spec.Rate)
		}
		interval = time.Duration(float64(n) / spec.Rate * float64(time.Second)).Round(time.Millisecond)
	}
	if interval < minInterval {
		return scenario{}, fmt.Errorf("interval %v for %d endpoints is shorter than apiwatch's "+
			"minimum %v: lower -rate or raise -n", interval, n, minInterval)
	}
	if window < 2*interval {
		return scenario{}, fmt.Errorf("window %v for %d endpoints is shorter than two intervals (%v), so "+
			"few paths would show a gap between hits: raise -duration", window, n, 2*interval)
	}
	if spec.Timeout <= 0 {
		return scenario{}, fmt.Errorf("invalid timeout %v: must be positive", spec.Timeout)
	}
	return scenario{
		Name:      fmt.Sprintf("%s-%d", kind, n),
		Kind:      kind,
		Endpoints: n,
		Interval:  interval,
		Timeout:   min(spec.Timeout, interval),
		Window:    window,
	}, nil
}

// valueFor returns the value of a per-count flag for the i-th of counts
// endpoint counts: its only value, or its i-th. An empty list returns 0.
func valueFor(values []time.Duration, i, counts int, flag string) (time.Duration, error) {
	switch len(values) {
	case 0:
		return 0, nil
	case 1:
		return values[0], nil
	case counts:
		return values[i], nil
	}
	return 0, fmt.Errorf("%s lists %d values for %d endpoint counts in -n: give one value, or one per count",
		flag, len(values), counts)
}

func knownKinds() []string {
	var kinds []string
	for k := range scenarioKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}
