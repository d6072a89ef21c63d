package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewReloadPlan(t *testing.T) {
	sc := scenario{Name: "reload-1000", Kind: "reload", Endpoints: 1000, Interval: 10 * time.Second,
		Timeout: 5 * time.Second, Window: 35 * time.Second}
	got, err := newReloadPlan(sc, 5*time.Second)
	if err != nil {
		t.Fatalf("newReloadPlan: %v", err)
	}
	const s = time.Second
	const halved = 2500 * time.Millisecond
	want := &reloadPlan{Every: 5 * s, Changed: 500, SparePath: 1000, Steps: []reloadStepPlan{
		{At: 5 * s, Trigger: triggerSIGHUP, Timeout: halved, Change: "timeout 5s → 2.5s"},
		{At: 10 * s, Trigger: triggerSIGHUP, Timeout: halved, Moved: true, Change: "URL /t/500 → /t/1000"},
		{At: 15 * s, Trigger: triggerFile, Timeout: 5 * s, Moved: true, Change: "timeout 2.5s → 5s"},
		{At: 20 * s, Trigger: triggerSIGHUP, Timeout: halved, Moved: true, Change: "timeout 5s → 2.5s"},
		{At: 25 * s, Trigger: triggerSIGHUP, Timeout: 5 * s, Moved: true, Change: "timeout 2.5s → 5s"},
		{At: 30 * s, Trigger: triggerFile, Timeout: halved, Moved: true, Change: "timeout 5s → 2.5s"},
	}}
	if got.Every != want.Every || got.Changed != want.Changed || got.SparePath != want.SparePath {
		t.Errorf("newReloadPlan = every %v, changed %d, spare %d; want %v, %d, %d",
			got.Every, got.Changed, got.SparePath, want.Every, want.Changed, want.SparePath)
	}
	if len(got.Steps) != len(want.Steps) {
		t.Fatalf("newReloadPlan has %d steps, want %d: %+v", len(got.Steps), len(want.Steps), got.Steps)
	}
	for i := range want.Steps {
		if got.Steps[i] != want.Steps[i] {
			t.Errorf("step %d = %+v, want %+v", i+1, got.Steps[i], want.Steps[i])
		}
	}
}

func TestNewReloadPlanRejects(t *testing.T) {
	sc := scenario{Endpoints: 1000, Interval: time.Second, Timeout: time.Second, Window: time.Minute}
	tests := []struct {
		name    string
		window  time.Duration
		every   time.Duration
		wantErr string
	}{
		{"spacing under a second", time.Minute, 500 * time.Millisecond, "must be at least 1s"},
		{"window for two reloads", 15 * time.Second, 5 * time.Second, "room for 2 reloads"},
		{"spacing longer than the window", 10 * time.Second, time.Minute, "room for 0 reloads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc.Window = tt.window
			_, err := newReloadPlan(sc, tt.every)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("newReloadPlan error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReloadPlanOverride(t *testing.T) {
	sc := scenario{Endpoints: 10, Interval: time.Second, Timeout: time.Second, Window: 5 * time.Second}
	p, err := newReloadPlan(sc, time.Second)
	if err != nil {
		t.Fatalf("newReloadPlan: %v", err)
	}
	url := func(i int) string { return fmt.Sprintf("/t/%d", i) }
	tests := []struct {
		step int
		want endpointOverride
	}{
		{0, endpointOverride{Index: 5, URL: "/t/5", Timeout: 500 * time.Millisecond}},
		{1, endpointOverride{Index: 5, URL: "/t/10", Timeout: 500 * time.Millisecond}},
		{2, endpointOverride{Index: 5, URL: "/t/10", Timeout: time.Second}},
	}
	for _, tt := range tests {
		if got := p.overrideAfter(tt.step, url); *got != tt.want {
			t.Errorf("overrideAfter(%d) = %+v, want %+v", tt.step, *got, tt.want)
		}
	}
}

func TestBuildScenariosReload(t *testing.T) {
	got, err := buildScenarios(scenarioSpec{Kinds: []string{"reload"}, Endpoints: []int{1000}, Rate: 1000,
		Timeout: 5 * time.Second, Windows: []time.Duration{time.Minute}, ReloadEvery: 5 * time.Second})
	if err != nil {
		t.Fatalf("buildScenarios: %v", err)
	}
	sc := got[0]
	if sc.Reload == nil || len(sc.Reload.Steps) != 11 {
		t.Fatalf("reload-1000 plan = %+v, want 11 steps", sc.Reload)
	}
	if sc.supports("floor") || !sc.supports("apiwatch") {
		t.Errorf("reload supports floor %v, apiwatch %v; want only apiwatch", sc.supports("floor"), sc.supports("apiwatch"))
	}

	_, err = buildScenarios(scenarioSpec{Kinds: []string{"reload"}, Endpoints: []int{1000}, Rate: 1000,
		Timeout: 5 * time.Second, Windows: []time.Duration{10 * time.Second}, ReloadEvery: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "raise -duration") {
		t.Errorf("buildScenarios error = %v, want one about a window too short for the reloads", err)
	}
}

func TestUsedProbers(t *testing.T) {
	steady := scenario{Name: "steady-10"}
	reload := scenario{Name: "reload-10", Reload: &reloadPlan{}}
	names := func(ps []prober) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.name())
		}
		return out
	}
	both := []prober{floor{}, apiwatch{}}
	got, err := usedProbers([]scenario{reload}, both)
	if err != nil || !slices.Equal(names(got), []string{"apiwatch"}) {
		t.Errorf("usedProbers(reload) = %v, %v; want apiwatch alone", names(got), err)
	}
	got, err = usedProbers([]scenario{steady, reload}, both)
	if err != nil || !slices.Equal(names(got), []string{"floor", "apiwatch"}) {
		t.Errorf("usedProbers(steady, reload) = %v, %v; want floor and apiwatch", names(got), err)
	}
	if _, err := usedProbers([]scenario{steady, reload}, []prober{floor{}}); err == nil ||
		!strings.Contains(err.Error(), "reload-10 runs only apiwatch") {
		t.Errorf("usedProbers with the floor alone: error %v, want one naming reload-10", err)
	}
}

func TestMeasureReloadGaps(t *testing.T) {
	const s = int64(time.Second)
	const ms = int64(time.Millisecond)
	reloads := []span{{20 * s, 20*s + 100*ms}, {30 * s, 30*s + 600*ms}}
	paths := [][]int64{
		// On time, one gap over the first reload 3 ms late.
		{18 * s, 19 * s, 20*s + 3*ms, 21 * s},
		// A missed probe over the first reload: a gap of two intervals.
		{19*s + 500*ms, 21*s + 500*ms},
		// A repeated probe during the second reload, at 30.2 s, splits a
		// gap into two short ones.
		{29*s + 900*ms, 30*s + 200*ms, 30*s + 900*ms},
		// A probe 300 ms late away from any reload, and hits outside the
		// window, which are left out.
		{5 * s, 24 * s, 25*s + 300*ms, 26*s + 300*ms, 50 * s},
		// Never hit in the window.
		{5 * s},
	}
	got := measureReloadGaps(paths, 10*s, 40*s, time.Second, reloads)
	want := reloadGaps{
		Paths: 5, NeverHit: 1, Gaps: 8, AroundReloads: 5,
		Tolerance: 250 * time.Millisecond,
		Outside:   4, OutsideAroundReloads: 3, Short: 2, Long: 2,
		DevP99: time.Second, DevMax: time.Second, DevMaxAroundReloads: time.Second,
	}
	if got != want {
		t.Errorf("measureReloadGaps =\n%+v, want\n%+v", got, want)
	}
}

func TestOverlapsAny(t *testing.T) {
	spans := []span{{10, 20}, {30, 40}}
	tests := []struct {
		name string
		s    span
		want bool
	}{
		{"before all", span{0, 9}, false},
		{"touches a start", span{0, 10}, true},
		{"inside one", span{12, 15}, true},
		{"between two", span{21, 29}, false},
		{"spans both", span{5, 45}, true},
		{"touches an end", span{40, 50}, true},
		{"after all", span{41, 50}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := overlapsAny(spans, tt.s); got != tt.want {
				t.Errorf("overlapsAny(%v) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
	if overlapsAny(nil, span{0, 100}) {
		t.Errorf("overlapsAny with no spans = true")
	}
	for _, tt := range []struct {
		t    int64
		want span
		ok   bool
	}{{5, span{}, false}, {10, span{10, 20}, true}, {35, span{30, 40}, true}, {40, span{30, 40}, true}, {41, span{}, false}} {
		if got, ok := spanContaining(spans, tt.t); got != tt.want || ok != tt.ok {
			t.Errorf("spanContaining(%d) = %v, %v; want %v, %v", tt.t, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAnalyseChanged(t *testing.T) {
	const s = int64(time.Second)
	const ms = int64(time.Millisecond)
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	plan := &reloadPlan{Changed: 5, SparePath: 10}
	steps := []reloadStep{
		{reloadStepPlan: reloadStepPlan{Trigger: triggerSIGHUP}, Triggered: at(20 * s), Completed: at(20*s + 100*ms)},
		{reloadStepPlan: reloadStepPlan{Trigger: triggerSIGHUP, Moved: true}, Triggered: at(30 * s), Completed: at(30*s + 100*ms)},
		{reloadStepPlan: reloadStepPlan{Trigger: triggerFile, Moved: true}, Triggered: at(40 * s), Completed: at(40*s + 600*ms)},
	}
	// Slots lie 0.25 s past each second. The old path is probed up to
	// 29.25 s, and once more, late, after the move. The new path is probed
	// from 30.25 s on, the first time 1 ms late.
	oldHits := []int64{18*s + 250*ms, 19*s + 250*ms, 20*s + 250*ms, 29*s + 250*ms, 30*s + 300*ms}
	newHits := []int64{30*s + 251*ms, 31*s + 250*ms, 40*s + 250*ms, 41*s + 248*ms}
	got := analyseChanged(plan, steps, oldHits, newHits, 10*s, 50*s, time.Second, 250*time.Millisecond)

	wantFirst := []firstProbe{
		{Path: 5, After: 150 * time.Millisecond, SlotDeviation: 0},
		{Path: 10, After: 151 * time.Millisecond, SlotDeviation: time.Millisecond},
		{Path: 10, After: 648 * time.Millisecond, SlotDeviation: -2 * time.Millisecond},
	}
	for i, st := range steps {
		if st.FirstProbe == nil {
			t.Errorf("step %d: no first probe, want %+v", i+1, wantFirst[i])
			continue
		}
		if *st.FirstProbe != wantFirst[i] {
			t.Errorf("step %d: first probe %+v, want %+v", i+1, *st.FirstProbe, wantFirst[i])
		}
	}
	if got.OldPathHitsAfterMove != 1 {
		t.Errorf("OldPathHitsAfterMove = %d, want 1", got.OldPathHitsAfterMove)
	}
	if got.NewPathHitsBeforeMove != 0 {
		t.Errorf("NewPathHitsBeforeMove = %d, want 0", got.NewPathHitsBeforeMove)
	}
	// Gaps of 20.25 → 29.25 (9 missed) and 30.251 → 30.3 (a repeat) fall
	// outside the tolerance, as do 31.25 → 40.25.
	if got.Gaps.Outside != 3 || got.Gaps.Short != 1 || got.Gaps.Long != 2 {
		t.Errorf("changed endpoint gaps: %d outside (%d short, %d long), want 3 (1 short, 2 long)",
			got.Gaps.Outside, got.Gaps.Short, got.Gaps.Long)
	}
}

func TestAnalyseChangedNoProbeAfterLastReload(t *testing.T) {
	plan := &reloadPlan{Changed: 0, SparePath: 1}
	steps := []reloadStep{{Completed: time.Unix(100, 0)}}
	analyseChanged(plan, steps, []int64{int64(99 * time.Second)}, nil, 0, int64(200*time.Second), time.Second, 0)
	if steps[0].FirstProbe != nil {
		t.Errorf("FirstProbe = %+v, want nil when no probe followed the reload", *steps[0].FirstProbe)
	}
}

func TestSlotDeviation(t *testing.T) {
	const offset = 300 * time.Millisecond
	iv := 10 * time.Second
	tests := []struct {
		name string
		t    time.Duration
		want time.Duration
	}{
		{"on the slot", 20*time.Second + offset, 0},
		{"late", 20*time.Second + offset + 4*time.Millisecond, 4 * time.Millisecond},
		{"early", 20*time.Second + offset - 3*time.Millisecond, -3 * time.Millisecond},
		{"nearer the next slot", 26 * time.Second, -4300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slotDeviation(int64(tt.t), iv, offset); got != tt.want {
				t.Errorf("slotDeviation(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestEstimateReloadCPU(t *testing.T) {
	ms := time.Millisecond
	steps := []reloadStep{
		{CPU: 400 * ms, CPUWall: time.Second, QuietCPU: 300 * ms, QuietWall: time.Second},
		{CPU: 900 * ms, CPUWall: 2 * time.Second, QuietCPU: 500 * ms, QuietWall: time.Second},
		{CPU: 350 * ms, CPUWall: time.Second}, // overran its quiet slice
		{CPU: 250 * ms, CPUWall: time.Second, QuietCPU: 100 * ms, QuietWall: 500 * ms},
	}
	rate := estimateReloadCPU(steps)
	if math.Abs(rate-0.36) > 1e-9 {
		t.Errorf("probing rate = %v cores, want 0.36: 900ms of CPU over 2.5s of quiet slices", rate)
	}
	want := []float64{0.04, 0.18, -0.01, -0.11}
	for i, st := range steps {
		if math.Abs(st.ReloadCPU-want[i]) > 1e-9 {
			t.Errorf("step %d: ReloadCPU = %v, want %v", i+1, st.ReloadCPU, want[i])
		}
	}
}

func TestEstimateReloadCPUWithoutQuietSlices(t *testing.T) {
	steps := []reloadStep{{CPU: 120 * time.Millisecond, CPUWall: time.Second}}
	if rate := estimateReloadCPU(steps); rate != 0 {
		t.Errorf("probing rate = %v, want 0 with no quiet slice", rate)
	}
	if steps[0].ReloadCPU != 0.12 {
		t.Errorf("ReloadCPU = %v, want the raw 0.12", steps[0].ReloadCPU)
	}
}

func TestMeasureSlotDeviations(t *testing.T) {
	const s = int64(time.Second)
	const ms = int64(time.Millisecond)
	reloads := []span{{20 * s, 20*s + 120*ms}}
	scrapes := []span{{21 * s, 22 * s}}
	paths := [][]int64{
		// Slots at x.1 s: 20.1 in the reload, arriving after its end,
		// 21.1 in the scrape, 19.1 and 23.1 elsewhere; 5.1 lies before
		// the window.
		{5*s + 100*ms, 19*s + 101*ms, 20*s + 130*ms, 21*s + 104*ms, 23*s + 100*ms},
		// Slots at x.9 s: 21.9 in the scrape, arriving after its end, and
		// 22.9 elsewhere, 1 ms early.
		{22*s + 50*ms, 22*s + 899*ms},
	}
	offsets := []time.Duration{100 * time.Millisecond, 900 * time.Millisecond}
	inReloads, inScrapes, elsewhere := measureSlotDeviations(paths, offsets, 10*s, 30*s, time.Second, reloads, scrapes)
	tests := []struct {
		name      string
		got, want slotDeviations
	}{
		{"in reloads", inReloads, slotDeviations{Probes: 1, P99: 30 * time.Millisecond, Max: 30 * time.Millisecond, AfterEnd: 1}},
		{"in scrapes", inScrapes, slotDeviations{Probes: 2, P99: 150 * time.Millisecond, Max: 150 * time.Millisecond, AfterEnd: 1}},
		{"elsewhere", elsewhere, slotDeviations{Probes: 3, P99: time.Millisecond, Max: time.Millisecond}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

func TestUnixSeconds(t *testing.T) {
	got := unixSeconds(1.7964092472046962e+09)
	want := time.Unix(1796409247, 204696200)
	if d := got.Sub(want).Abs(); d > time.Microsecond {
		t.Errorf("unixSeconds = %v, want %v within 1µs", got, want)
	}
}

func TestParseLogfmt(t *testing.T) {
	line := `time=2026-12-04T18:33:52.253Z level=INFO source=reload.go:194 msg="Configuration reloaded" ` +
		`file="/etc/apiwatch dir/a.yml" note="say \"hi\"" empty="" flag duration=118.860898ms`
	want := map[string]string{
		"time": "2026-12-04T18:33:52.253Z", "level": "INFO", "source": "reload.go:194",
		"msg": "Configuration reloaded", "file": "/etc/apiwatch dir/a.yml", "note": `say "hi"`,
		"empty": "", "flag": "", "duration": "118.860898ms",
	}
	if got := parseLogfmt(line); !reflect.DeepEqual(got, want) {
		t.Errorf("parseLogfmt =\n%q, want\n%q", got, want)
	}
	if got := parseLogfmt(`msg="unterminated`); got["msg"] != "unterminated" {
		t.Errorf("parseLogfmt of an unterminated quote: msg = %q, want the rest of the line", got["msg"])
	}
}

// appendLog appends text to the log at path.
func appendLog(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestLogFollowerWaitReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiwatch.log")
	const before = `time=2026-12-04T18:00:00.000Z level=INFO msg="Configuration reloaded" duration=1ms` + "\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := followLog(path)
	if err != nil {
		t.Fatalf("followLog: %v", err)
	}
	defer l.close()

	since := time.Date(2026, 12, 4, 18, 0, 5, 300_500_000, time.UTC)
	appendLog(t, path,
		// A reload that ended before since, from an earlier step.
		`time=2026-12-04T18:00:05.100Z level=INFO msg="Configuration reloaded" duration=2ms`+"\n"+
			`time=2026-12-04T18:00:05.300Z level=INFO msg="Received SIGHUP, reloading the configuration"`+"\n"+
			`time=2026-12-04T18:00:05.400Z level=INFO msg="Endpoints applied" added=0 kept=1000 removed=0`+"\n"+
			`time=2026-12-04T18:00:05.400Z level=INFO msg="Configuration reloaded" duration=99.5ms`+"\n"+
			`time=2026-12-04T18:00:05.900Z level=INFO msg="Configuration reloaded" duration=3ms`+"\n"+
			`time=2026-12-04T18:00:06.000Z level=INFO msg="Configuration rel`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := l.waitReload(ctx, since, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatalf("waitReload: %v", err)
	}
	if want := time.Date(2026, 12, 4, 18, 0, 5, 400_000_000, time.UTC); !ev.logged.Equal(want) {
		t.Errorf("logged = %v, want %v", ev.logged, want)
	}
	if ev.duration != 99500*time.Microsecond {
		t.Errorf("duration = %v, want 99.5ms", ev.duration)
	}
	if ev.added != 0 || ev.kept != 1000 || ev.removed != 0 {
		t.Errorf("added, kept, removed = %d, %d, %d; want 0, 1000, 0", ev.added, ev.kept, ev.removed)
	}

	// The line after the awaited one counts, and the unfinished last line
	// counts once it ends.
	if n, err := l.countReloads(); n != 1 || err != nil {
		t.Errorf("countReloads = %d, %v; want 1", n, err)
	}
	appendLog(t, path, `oaded" duration=1ms`+"\n")
	if n, err := l.countReloads(); n != 1 || err != nil {
		t.Errorf("countReloads after the line ended = %d, %v; want 1", n, err)
	}
	if n, err := l.countReloads(); n != 0 || err != nil {
		t.Errorf("countReloads with nothing new = %d, %v; want 0", n, err)
	}
}

func TestLogFollowerFailures(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr string
	}{
		{"rejected configuration",
			`time=2026-12-04T18:00:05.400Z level=ERROR msg="Invalid configuration, keeping the previous one" err="x.yml:3:1: bad"`,
			"rejected the generated configuration"},
		{"failed apply",
			`time=2026-12-04T18:00:05.400Z level=ERROR msg="Reloading the configuration failed, keeping the previous one" err=tls`,
			"rejected the generated configuration"},
		{"no reload", `time=2026-12-04T18:00:05.400Z level=INFO msg="Received SIGHUP, reloading the configuration"`,
			"no successful reload within"},
		{"invalid duration", `time=2026-12-04T18:00:05.400Z level=INFO msg="Configuration reloaded" duration=fast`,
			"invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "apiwatch.log")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := followLog(path)
			if err != nil {
				t.Fatalf("followLog: %v", err)
			}
			defer l.close()
			appendLog(t, path, tt.line+"\n")
			_, err = l.waitReload(context.Background(), time.Time{}, time.Now())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("waitReload error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStartupTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiwatch.log")
	log := `time=2026-12-04T18:00:00.900Z level=INFO msg="Endpoints applied" added=10 kept=0 removed=0` + "\n" +
		`time=2026-12-04T18:00:01.250Z level=INFO msg="Starting apiwatch" version="(version=)"` + "\n"
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	if got, err := startupTime(path, started); got != 1250*time.Millisecond || err != nil {
		t.Errorf("startupTime = %v, %v; want 1.25s", got, err)
	}
	if err := os.WriteFile(path, []byte("level=WARN msg=other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := startupTime(path, started); got != 0 || err != nil {
		t.Errorf("startupTime without the line = %v, %v; want 0", got, err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apiwatch.yml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	at, err := writeFileAtomic(path, []byte("new"))
	if err != nil {
		t.Fatalf("writeFileAtomic: %v", err)
	}
	if at.Before(before) || at.After(time.Now()) {
		t.Errorf("rename time %v outside the call", at)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new" {
		t.Errorf("file holds %q, %v; want new", b, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %d entries, %v; want the file alone", len(entries), err)
	}
}
