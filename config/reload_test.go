package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The watcher tests use real files and a real fsnotify watcher, so they
// cannot run in a synctest bubble. They wait on signals instead of
// sleeping: Apply sends each configuration on a channel, and the Reloader
// logs at debug level when a directory is watched and when an event is ignored.
// Only the checks that nothing more happens wait for a quiet period.

const (
	// testDebounce keeps the watcher tests fast, yet spans the few file
	// operations of one change even on a loaded machine.
	testDebounce = 100 * time.Millisecond
	// waitTimeout bounds every wait for a signal.
	waitTimeout = 5 * time.Second
	// quietPeriod is how long a test waits to see that no further reload
	// follows: many times the debounce, which is when one would start.
	quietPeriod = 5 * testDebounce
)

// logRecorder is a slog.Handler that keeps every record as a line of text,
// "LEVEL message key=value ...\n", and wakes waiters on each one. A part
// that waitFor matches can end in "\n" to match the end of a line.
type logRecorder struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every record
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String()+"\n")
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// matching returns the lines that contain every one of parts.
func (l *logRecorder) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// waitFor waits until n lines contain every one of parts, and fails the
// test after waitTimeout.
func (l *logRecorder) waitFor(t *testing.T, n int, parts ...string) []string {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if got := l.matching(parts...); len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %d log lines with %q after %v; log:\n%s", n, parts, waitTimeout, l)
			return nil
		}
	}
}

func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// watchFixture runs a Reloader's Run on files in a temporary directory.
type watchFixture struct {
	t    *testing.T
	dir  string
	main string
	r    *Reloader
	logs *logRecorder
	hup  chan os.Signal
	// applied receives every configuration Apply accepts.
	applied chan *Config

	mu       sync.Mutex
	applyErr error
}

// watchOptions changes how startWatch sets up the Reloader.
type watchOptions struct {
	debounce time.Duration
	env      map[string]string
	// mainFile is the main file's path relative to the directory, by
	// default apiwatch.yml.
	mainFile string
	// watched lists the directories, relative to the directory, whose
	// watch the fixture waits for before it returns. By default it waits
	// for the directory itself.
	watched []string
	// beforeRun, if set, runs between NewReloader and Run.
	beforeRun func(f *watchFixture)
}

// startWatch writes files into a new directory, loads the main file, and
// runs a Reloader on it until the test ends.
func startWatch(t *testing.T, files map[string]string, o watchOptions) *watchFixture {
	t.Helper()
	dir := writeFiles(t, files)
	return startWatchIn(t, dir, o)
}

func startWatchIn(t *testing.T, dir string, o watchOptions) *watchFixture {
	t.Helper()
	if o.debounce == 0 {
		o.debounce = testDebounce
	}
	if o.mainFile == "" {
		o.mainFile = "apiwatch.yml"
	}
	if o.watched == nil {
		o.watched = []string{"."}
	}
	f := &watchFixture{
		t:       t,
		dir:     dir,
		main:    filepath.Join(dir, o.mainFile),
		logs:    newLogRecorder(),
		hup:     make(chan os.Signal, 1),
		applied: make(chan *Config, 100),
	}
	loadOpts := LoadOptions{LookupEnv: envLookup(o.env, nil)}
	cfg, err := Load(f.main, loadOpts)
	if err != nil {
		t.Fatalf("loading %s: %v", f.main, err)
	}
	f.r, err = NewReloader(ReloaderOptions{
		File:        f.main,
		Apply:       f.apply,
		Logger:      slog.New(f.logs),
		Debounce:    o.debounce,
		LoadOptions: loadOpts,
	}, cfg)
	if err != nil {
		t.Fatalf("NewReloader: %v", err)
	}
	if o.beforeRun != nil {
		o.beforeRun(f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx, f.hup) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for _, d := range o.watched {
		f.logs.waitFor(t, 1, "Watching configuration directory", "dir="+filepath.Join(dir, d)+"\n")
	}
	return f
}

func (f *watchFixture) apply(cfg *Config) error {
	f.mu.Lock()
	err := f.applyErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.applied <- cfg
	return nil
}

func (f *watchFixture) setApplyErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applyErr = err
}

// write writes content to name, relative to the directory, in place.
func (f *watchFixture) write(name, content string) {
	f.t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// nextApply waits for the next applied configuration.
func (f *watchFixture) nextApply() *Config {
	f.t.Helper()
	select {
	case cfg := <-f.applied:
		return cfg
	case <-time.After(waitTimeout):
		f.t.Fatalf("no configuration applied within %v; log:\n%s", waitTimeout, f.logs)
		return nil
	}
}

// noApply checks that no configuration is applied for quietPeriod.
func (f *watchFixture) noApply() {
	f.t.Helper()
	select {
	case cfg := <-f.applied:
		f.t.Errorf("unexpected reload applied companies %s; log:\n%s", companyNames(cfg), f.logs)
	case <-time.After(quietPeriod):
	}
}

// expectOneApply waits for one applied configuration with the companies
// want, and checks that no other follows.
func (f *watchFixture) expectOneApply(want string) {
	f.t.Helper()
	if got := companyNames(f.nextApply()); got != want {
		f.t.Errorf("applied companies %s, want %s", got, want)
	}
	f.noApply()
	if got := companyNames(f.r.Current()); got != want {
		f.t.Errorf("running companies %s, want %s", got, want)
	}
}

// companiesYAML returns a companies list with one endpoint per company.
func companiesYAML(names ...string) string {
	var b strings.Builder
	b.WriteString("companies:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    endpoints:\n      - name: api\n        url: https://%s.example/\n", n, n)
	}
	return b.String()
}

// mainFile returns a main file that includes conf.d/*.yml and defines the
// given companies.
func mainFile(names ...string) string {
	return "config_files: [conf.d/*.yml]\n" + companiesYAML(names...)
}

func TestRunReloadsOnFileChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(f *watchFixture)
		want   string
	}{
		{"main file written in place", func(f *watchFixture) {
			f.write("apiwatch.yml", mainFile("initech", "hooli"))
		}, "initech,hooli,acme"},
		{"main file renamed over", func(f *watchFixture) {
			f.write("apiwatch.yml.new", mainFile("hooli"))
			rename(f.t, filepath.Join(f.dir, "apiwatch.yml.new"), f.main)
		}, "hooli,acme"},
		{"main file saved with a backup", func(f *watchFixture) {
			// vim with backupcopy=no: the old file becomes the backup,
			// a new file takes its name, and the backup goes away.
			rename(f.t, f.main, f.main+"~")
			f.write("apiwatch.yml", mainFile("hooli"))
			if err := os.Remove(f.main + "~"); err != nil {
				f.t.Fatal(err)
			}
		}, "hooli,acme"},
		{"conf.d file added", func(f *watchFixture) {
			f.write("conf.d/globex.yml", companiesYAML("globex"))
		}, "initech,acme,globex"},
		{"conf.d file changed", func(f *watchFixture) {
			f.write("conf.d/acme.yml", companiesYAML("acme", "acme-eu"))
		}, "initech,acme,acme-eu"},
		{"conf.d file renamed over", func(f *watchFixture) {
			f.write("conf.d/.acme.yml.tmp", companiesYAML("acme-us"))
			rename(f.t, filepath.Join(f.dir, "conf.d/.acme.yml.tmp"), filepath.Join(f.dir, "conf.d/acme.yml"))
		}, "initech,acme-us"},
		{"conf.d file removed", func(f *watchFixture) {
			if err := os.Remove(filepath.Join(f.dir, "conf.d/acme.yml")); err != nil {
				f.t.Fatal(err)
			}
		}, "initech"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWatch(t, map[string]string{
				"apiwatch.yml":    mainFile("initech"),
				"conf.d/acme.yml": companiesYAML("acme"),
			}, watchOptions{watched: []string{".", "conf.d"}})
			tt.change(f)
			f.expectOneApply(tt.want)
		})
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestRunReloadsChangesBeforeStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(f *watchFixture)
		want   string
	}{
		{"main file changed", func(f *watchFixture) {
			f.write("apiwatch.yml", mainFile("initech", "hooli"))
		}, "initech,hooli"},
		{"conf.d file added", func(f *watchFixture) {
			f.write("conf.d/acme.yml", companiesYAML("acme"))
		}, "initech,acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWatch(t, map[string]string{"apiwatch.yml": mainFile("initech")},
				watchOptions{beforeRun: tt.change})
			f.expectOneApply(tt.want)
			f.logs.waitFor(t, 1, "INFO Configuration files changed before the watch started, reloading")
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		t.Parallel()
		f := startWatch(t, map[string]string{"apiwatch.yml": mainFile("initech")}, watchOptions{})
		f.noApply()
	})
}

func TestRunKubernetesConfigMap(t *testing.T) {
	t.Parallel()
	// The layout the kubelet gives a mounted ConfigMap: each key is a
	// symlink through ..data to a timestamped directory, and an update
	// writes a new directory and swaps ..data by renaming a symlink.
	dir := t.TempDir()
	writeVersion := func(version, content string) {
		d := filepath.Join(dir, version)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "apiwatch.yml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeVersion("..2026_12_04_10_00_00.1", companiesYAML("acme"))
	for link, target := range map[string]string{
		"..data":       "..2026_12_04_10_00_00.1",
		"apiwatch.yml": "..data/apiwatch.yml",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	f := startWatchIn(t, dir, watchOptions{})

	update := func(version, content, previous string) {
		writeVersion(version, content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(version, tmp); err != nil {
			t.Fatal(err)
		}
		rename(t, tmp, filepath.Join(dir, "..data"))
		if err := os.RemoveAll(filepath.Join(dir, previous)); err != nil {
			t.Fatal(err)
		}
	}
	update("..2026_12_04_10_05_00.2", companiesYAML("acme", "globex"), "..2026_12_04_10_00_00.1")
	f.expectOneApply("acme,globex")
	update("..2026_12_04_10_10_00.3", companiesYAML("globex"), "..2026_12_04_10_05_00.2")
	f.expectOneApply("globex")
}

func TestRunBurstGivesOneReload(t *testing.T) {
	t.Parallel()
	// All 20 writes land within one debounce, so they give one reload, of
	// the last content. A burst longer than maxReloadDelay would give one
	// reload per maxReloadDelay plus the debounce.
	f := startWatch(t, map[string]string{"apiwatch.yml": companiesYAML("c0")},
		watchOptions{debounce: 300 * time.Millisecond})
	start := time.Now()
	for i := 1; i <= 20; i++ {
		f.write("apiwatch.yml", companiesYAML(fmt.Sprintf("c%d", i)))
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Logf("the 20 writes took %v, longer than the debounce, so more reloads are allowed", took)
		for range 3 {
			cfg := f.nextApply()
			if companyNames(cfg) == "c20" {
				return
			}
		}
		t.Fatalf("the last write was not applied")
	}
	if got := companyNames(f.nextApply()); got != "c20" {
		t.Errorf("applied companies %s, want c20", got)
	}
	select {
	case cfg := <-f.applied:
		t.Errorf("second reload applied %s; log:\n%s", companyNames(cfg), f.logs)
	case <-time.After(3 * 300 * time.Millisecond):
	}
}

func TestRunSIGHUP(t *testing.T) {
	t.Parallel()
	f := startWatch(t, map[string]string{"apiwatch.yml": companiesYAML("acme")}, watchOptions{})
	// SIGHUP reloads even when no file changed.
	f.hup <- os.Interrupt
	f.expectOneApply("acme")
	f.logs.waitFor(t, 1, "INFO Received SIGHUP, reloading the configuration")
	f.hup <- os.Interrupt
	f.expectOneApply("acme")
}

func TestRunIgnoresOtherFiles(t *testing.T) {
	t.Parallel()
	f := startWatch(t, map[string]string{
		"apiwatch.yml":    mainFile("initech"),
		"conf.d/acme.yml": companiesYAML("acme"),
	}, watchOptions{watched: []string{".", "conf.d"}})
	others := []string{
		".apiwatch.yml.swp", "apiwatch.yml~", "4913", "notes.txt", "apiwatch.yml.bak",
		"conf.d/.acme.yml.swp", "conf.d/acme.yml~", "conf.d/README.md", "conf.d/acme.yaml",
		"conf.d/.acme.yml.tmp123",
	}
	for _, name := range others {
		f.write(name, "not: [yaml")
	}
	for _, name := range others {
		f.logs.waitFor(t, 1, "DEBUG Ignoring events of a file that is not part of the configuration", "file="+filepath.Join(f.dir, name))
	}
	f.noApply()
	if got := f.logs.matching("Configuration file changed"); len(got) > 0 {
		t.Errorf("events taken as configuration changes:\n%s", strings.Join(got, "\n"))
	}
}

func TestRunDirectoryCreatedLater(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		main    string
		file    string // created with its directories after start
		want    string
		watched string // the directory watched after the reload
	}{
		{"conf.d", mainFile("initech"), "conf.d/acme.yml", "initech,acme", "conf.d"},
		{"nested", "config_files: [tenants/*/companies.yml]\n" + companiesYAML("initech"),
			"tenants/acme/companies.yml", "initech,acme", "tenants/acme"},
		{"two levels", "config_files: [a/b/*.yml]\n" + companiesYAML("initech"),
			"a/b/acme.yml", "initech,acme", "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWatch(t, map[string]string{"apiwatch.yml": tt.main}, watchOptions{})
			// The missing directory is watched through the main file's.
			f.write(tt.file, companiesYAML("acme"))
			f.expectOneApply(tt.want)
			f.logs.waitFor(t, 1, "Watching configuration directory", "dir="+filepath.Join(f.dir, tt.watched))

			// Watched now: a change inside is seen.
			f.write(tt.file, companiesYAML("acme", "globex"))
			f.expectOneApply(strings.Replace(tt.want, "acme", "acme,globex", 1))
		})
	}
}

func TestRunDirectoryRemovedAndCreatedAgain(t *testing.T) {
	t.Parallel()
	f := startWatch(t, map[string]string{
		"apiwatch.yml":    mainFile("initech"),
		"conf.d/acme.yml": companiesYAML("acme"),
	}, watchOptions{watched: []string{".", "conf.d"}})
	confD := filepath.Join(f.dir, "conf.d")
	if err := os.RemoveAll(confD); err != nil {
		t.Fatal(err)
	}
	f.expectOneApply("initech")

	// inotify dropped the watch with the directory: the new one is
	// watched again.
	f.write("conf.d/globex.yml", companiesYAML("globex"))
	f.expectOneApply("initech,globex")
	f.logs.waitFor(t, 2, "Watching configuration directory", "dir="+confD)
	f.write("conf.d/globex.yml", companiesYAML("globex", "hooli"))
	f.expectOneApply("initech,globex,hooli")
}

func TestRunWatchesSymlinkTarget(t *testing.T) {
	t.Parallel()
	// The main file links to a file in another directory, as when it is
	// kept in a Git checkout. Editing the target in place is seen.
	dir := t.TempDir()
	checkout := filepath.Join(dir, "checkout")
	etc := filepath.Join(dir, "etc")
	for _, d := range []string{checkout, etc} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(checkout, "apiwatch.yml")
	if err := os.WriteFile(target, []byte(companiesYAML("acme")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(etc, "apiwatch.yml")); err != nil {
		t.Fatal(err)
	}
	f := startWatchIn(t, dir, watchOptions{mainFile: "etc/apiwatch.yml", watched: []string{"etc", "checkout"}})
	if err := os.WriteFile(target, []byte(companiesYAML("globex")), 0o644); err != nil {
		t.Fatal(err)
	}
	f.expectOneApply("globex")
}

func TestRunRejectsBrokenFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string // relative to the directory
		content string
		// problems are the logged problems, after "FILE:".
		problems []string
	}{
		{"typo key", "conf.d/acme.yml",
			"companies:\n  - name: acme\n    endponts: []\n",
			[]string{`3:5: company "acme": unknown field "endponts", did you mean "endpoints"?`}},
		{"bad indentation", "conf.d/acme.yml",
			"companies:\n  - name: acme\n    endpoints:\n      - name: api\n       url: https://acme.example/\n",
			[]string{"3: invalid YAML: did not find expected '-' indicator in the block that starts " +
				"on this line: check the indentation of its lines"}},
		{"interval fast", "conf.d/acme.yml",
			"companies:\n  - name: acme\n    endpoints:\n      - name: api\n        url: https://acme.example/\n" +
				"        interval: fast\n",
			[]string{`6:19: company "acme": endpoint "api": interval: invalid duration "fast": ` +
				"use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m"}},
		{"unset variable", "conf.d/acme.yml",
			"companies:\n  - name: acme\n    endpoints:\n      - name: api\n        url: https://acme.example/\n" +
				"        labels: {team: \"${UNSET_TEAM}\"}\n",
			[]string{"6:24: environment variable UNSET_TEAM is not set"}},
		{"empty main file", "apiwatch.yml", "",
			[]string{" the main configuration file is empty; " +
				"to run without companies, write companies: []"}},
		{"two problems", "apiwatch.yml",
			"config_files: [conf.d/*.yml]\nglobal:\n  interval: soon\n  timeout: 0s\n",
			[]string{
				`3:13: global.interval: invalid duration "soon": use a number with a unit (ms, s, m, h, d, w, y), ` +
					"for example 30s or 1h30m",
				"4:12: global.timeout: must be longer than 0s",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWatch(t, map[string]string{
				"apiwatch.yml":    mainFile("initech"),
				"conf.d/acme.yml": companiesYAML("acme"),
			}, watchOptions{watched: []string{".", "conf.d"}})
			before := f.r.Current()
			okTime := testutil.ToFloat64(f.r.successTime)

			f.write(tt.file, tt.content)
			logged := f.logs.waitFor(t, len(tt.problems), "ERROR Invalid configuration, keeping the previous one")
			path := filepath.Join(f.dir, tt.file)
			for i, p := range tt.problems {
				want := "ERROR Invalid configuration, keeping the previous one err=" + path + ":" + p + "\n"
				if i >= len(logged) || logged[i] != want {
					t.Errorf("logged problem %d:\n got: %q\nwant: %q", i+1, lineAt(logged, i), want)
				}
			}
			if len(logged) != len(tt.problems) {
				t.Errorf("logged %d problems, want %d:\n%s", len(logged), len(tt.problems), strings.Join(logged, "\n"))
			}
			f.noApply()
			if f.r.Current() != before {
				t.Errorf("running configuration replaced by a broken one")
			}
			checkReloadMetrics(t, f.r, 0, 0, 1)
			if v := testutil.ToFloat64(f.r.successTime); v != okTime {
				t.Errorf("success timestamp moved from %v to %v on a failed reload", okTime, v)
			}

			// A good file recovers, through the same watcher.
			beforeFix := float64(time.Now().UnixNano()) / 1e9
			if tt.file == "apiwatch.yml" {
				f.write(tt.file, mainFile("initech", "hooli"))
				f.expectOneApply("initech,hooli,acme")
			} else {
				f.write(tt.file, companiesYAML("acme", "globex"))
				f.expectOneApply("initech,acme,globex")
			}
			checkReloadMetrics(t, f.r, 1, 1, 1)
			if v := testutil.ToFloat64(f.r.successTime); v < beforeFix || v > float64(time.Now().UnixNano())/1e9 {
				t.Errorf("success timestamp %v, want the time of the recovery, after %v", v, beforeFix)
			}
		})
	}
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<none>"
}

// checkReloadMetrics checks the last-reload gauge and the reload counters.
func checkReloadMetrics(t *testing.T, r *Reloader, last, successes, failures float64) {
	t.Helper()
	if v := testutil.ToFloat64(r.success); v != last {
		t.Errorf("apiwatch_config_last_reload_successful = %v, want %v", v, last)
	}
	if v := testutil.ToFloat64(r.reloads.WithLabelValues("success")); v != successes {
		t.Errorf(`apiwatch_config_reloads_total{result="success"} = %v, want %v`, v, successes)
	}
	if v := testutil.ToFloat64(r.reloads.WithLabelValues("failure")); v != failures {
		t.Errorf(`apiwatch_config_reloads_total{result="failure"} = %v, want %v`, v, failures)
	}
}

func TestRunKeepsConfigWhenApplyFails(t *testing.T) {
	t.Parallel()
	f := startWatch(t, map[string]string{"apiwatch.yml": companiesYAML("acme")}, watchOptions{})
	before := f.r.Current()
	f.setApplyErr(errors.New("reading the Alertmanager CA file: permission denied"))
	f.write("apiwatch.yml", companiesYAML("acme", "globex"))
	f.logs.waitFor(t, 1, "ERROR Reloading the configuration failed, keeping the previous one "+
		"err=reading the Alertmanager CA file: permission denied")
	if f.r.Current() != before {
		t.Errorf("running configuration replaced although Apply failed")
	}
	checkReloadMetrics(t, f.r, 0, 0, 1)

	f.setApplyErr(nil)
	f.hup <- os.Interrupt
	f.expectOneApply("acme,globex")
	checkReloadMetrics(t, f.r, 1, 1, 1)
}

func TestRunEmptyFileThenContent(t *testing.T) {
	t.Parallel()
	// A writer that truncates first and writes later, slower than the
	// debounce: the empty file is rejected, so no endpoint is dropped in
	// between.
	f := startWatch(t, map[string]string{"apiwatch.yml": companiesYAML("acme")}, watchOptions{})
	out, err := os.OpenFile(f.main, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	f.logs.waitFor(t, 1, "ERROR Invalid configuration", "the main configuration file is empty")
	if _, err := out.WriteString(companiesYAML("acme", "globex")); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f.expectOneApply("acme,globex")
}

func TestRunSecretFileReadAgainOnReload(t *testing.T) {
	t.Parallel()
	f := startWatch(t, map[string]string{
		"apiwatch.yml": "companies:\n  - name: acme\n    contacts:\n      pagerduty:\n" +
			"        - routing_key_file: secrets/pd.key\n" +
			"    endpoints:\n      - name: api\n        url: https://acme.example/\n",
		"secrets/pd.key": "key-1\n",
	}, watchOptions{})
	f.write("secrets/pd.key", "key-2\n")
	f.hup <- os.Interrupt
	cfg := f.nextApply()
	if got := cfg.Companies[0].Contacts.PagerDuty[0].RoutingKey.Value(); got != "key-2" {
		t.Errorf("routing key after reload = %q, want key-2", got)
	}
}

func TestRunAdminWritesAreNotReloadedTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"conf.d exists", map[string]string{"apiwatch.yml": mainFile("initech"), "conf.d/keep.yml": ""}},
		{"conf.d created by the write", map[string]string{"apiwatch.yml": mainFile("initech")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := startWatch(t, tt.files, watchOptions{})
			acme := filepath.Join(f.dir, "conf.d", "acme.yml")

			if _, err := f.r.PutCompany("acme", []byte(acmeBody)); err != nil {
				t.Fatalf("PutCompany: %v", err)
			}
			if got := companyNames(f.nextApply()); got != "initech,acme" {
				t.Errorf("PutCompany applied %s, want initech,acme", got)
			}
			f.logs.waitFor(t, 1, "DEBUG Ignoring file event of a change the admin API applied", "file="+acme)
			f.noApply()
			written := readFileOrMissing(t, acme)

			// Someone edits the file by hand: that is a change.
			f.write("conf.d/acme.yml", companiesYAML("acme", "globex"))
			f.expectOneApply("initech,acme,globex")

			// And so is putting the admin API's content back by hand.
			f.write("conf.d/acme.yml", written)
			f.expectOneApply("initech,acme")
			f.write("conf.d/acme.yml", companiesYAML("acme", "globex"))
			f.expectOneApply("initech,acme,globex")

			if err := f.r.DeleteCompany("globex"); !errors.Is(err, ErrCompanyNotManaged) {
				t.Errorf("DeleteCompany of a company in acme.yml = %v, want ErrCompanyNotManaged", err)
			}
			f.write("conf.d/acme.yml", companiesYAML("acme"))
			f.expectOneApply("initech,acme")
			if err := f.r.DeleteCompany("acme"); err != nil {
				t.Fatalf("DeleteCompany: %v", err)
			}
			if got := companyNames(f.nextApply()); got != "initech" {
				t.Errorf("DeleteCompany applied %s, want initech", got)
			}
			f.logs.waitFor(t, 2, "DEBUG Ignoring file event of a change the admin API applied", "file="+acme)
			f.noApply()
		})
	}
}

func TestCurrentDuringReload(t *testing.T) {
	t.Parallel()
	// A slow Apply must not block readers of the running configuration,
	// such as the file watcher and the admin API's GET.
	entered := make(chan struct{})
	release := make(chan struct{})
	dir := writeFiles(t, map[string]string{"apiwatch.yml": mainFile("acme")})
	main := filepath.Join(dir, "apiwatch.yml")
	initial := mustLoad(t, main)
	r, err := NewReloader(ReloaderOptions{File: main, Apply: func(*Config) error {
		close(entered)
		<-release
		return nil
	}}, initial)
	if err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- r.Reload() }()
	<-entered

	got := make(chan *Config, 1)
	go func() {
		r.GetCompany("acme")
		got <- r.Current()
	}()
	select {
	case cfg := <-got:
		if cfg != initial {
			t.Errorf("Current during the reload is not the running configuration")
		}
	case <-time.After(waitTimeout):
		t.Errorf("Current blocked while a reload was applying")
	}
	close(release)
	if err := <-reloaded; err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if r.Current() == initial {
		t.Errorf("Current after the reload is still the initial configuration")
	}
}
