// Command bench measures apiwatch's cost per probe against a minimal
// prober on one machine, and how apiwatch reloads its configuration, and
// writes the figures to docs/benchmarks.md.
//
// Run it from the repository as `go run ./bench` (or `make bench`). It
// starts three kinds of process, all on loopback. The target server (this
// binary in target mode) serves /t/0 … /t/N-1 and records every hit. The
// floor prober (this binary in floor mode) does nothing but probe. The
// third is apiwatch, built from this tree. docs/benchmarks.md explains the
// figures. The harness exits non-zero only when it could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")
	var err error
	switch mode := firstArg(os.Args); mode {
	case "target":
		err = runTarget(os.Args[2:])
	case "floor":
		err = runFloor(os.Args[2:])
	default:
		err = runHarness(os.Args[1:])
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func firstArg(args []string) string {
	if len(args) < 2 {
		return ""
	}
	return args[1]
}

// options are the harness's flags.
type options struct {
	spec        scenarioSpec
	probers     []string
	listeners   int
	repeat      int
	quick       bool
	write       bool
	doc         string
	out         string
	apiwatchBin string
	run         runOptions
}

// runOptions are the flags that change how each measurement runs.
type runOptions struct {
	perf bool
	// pprof is the length of the CPU profile fetched from apiwatch in
	// each of its windows, 0 for none.
	pprof time.Duration
	// alertmanagerBin is the Alertmanager the alert scenario starts.
	alertmanagerBin string
}

// defaultAlertmanager is the path of the Alertmanager binary that Debian's
// prometheus-alertmanager package installs.
const defaultAlertmanager = "/usr/bin/prometheus-alertmanager"

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	counts := fs.String("n", "1000,10000", "comma-separated endpoint counts, one scenario each")
	kinds := fs.String("scenarios", "steady", "comma-separated scenario kinds: "+strings.Join(knownKinds(), ", "))
	probers := fs.String("probers", "floor,apiwatch", "comma-separated probers to measure, in order")
	fs.Float64Var(&o.spec.Rate, "rate", 1000, "scheduled probes per second; the interval is N/rate, at least 1s")
	intervals := fs.String("interval", "", "probe interval, overriding -rate: one duration for every "+
		"endpoint count, or a comma-separated list with one per count in -n")
	fs.DurationVar(&o.spec.Timeout, "timeout", 5*time.Second, "probe timeout, capped at the interval")
	windows := fs.String("duration", "1m", "measurement window, after a warm-up of one interval: one "+
		"duration, or a comma-separated list with one per count in -n")
	fs.DurationVar(&o.spec.ReloadEvery, "reload-every", 5*time.Second,
		"time between two reloads in the reload scenario, at least 1s")
	fs.IntVar(&o.spec.AlertPaths, "alert-paths", 100,
		"paths that fail in the alert scenario, at most half the endpoint count")
	fs.IntVar(&o.listeners, "listeners", defaultListeners, "loopback addresses the target listens on")
	fs.IntVar(&o.repeat, "repeat", 1, "measure each scenario this many times, the probers taking turns")
	fs.BoolVar(&o.quick, "quick", false,
		"run a small check of the harness: 200 endpoints, 5 s window, steady, faults and reload")
	fs.BoolVar(&o.write, "write", true, "write the results into -doc; -quick turns this default off")
	fs.StringVar(&o.doc, "doc", "docs/benchmarks.md", "benchmarks page, relative to the repository root")
	fs.StringVar(&o.out, "out", "bench/results",
		"directory for each run's logs and results.json, relative to the repository root")
	fs.StringVar(&o.apiwatchBin, "apiwatch", "", "apiwatch binary to measure instead of building ./cmd/apiwatch")
	fs.BoolVar(&o.run.perf, "perf", false, "record a perf CPU profile of each prober during its window")
	fs.DurationVar(&o.run.pprof, "pprof", 0, "fetch a Go CPU profile of this length from apiwatch's "+
		"/debug/pprof/profile at the start of each of its windows; 0 for none")
	fs.StringVar(&o.run.alertmanagerBin, "alertmanager", defaultAlertmanager,
		"Alertmanager binary that the alert scenario starts")

	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: modes are target and floor, flags start with -", fs.Arg(0))
	}
	if o.repeat < 1 {
		return o, fmt.Errorf("invalid -repeat %d: must be at least 1", o.repeat)
	}
	if o.run.pprof < 0 {
		return o, fmt.Errorf("invalid -pprof %v: give a positive duration, or 0 for no profile", o.run.pprof)
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		applyQuick(&o, set, counts, kinds, intervals, windows)
	}

	var err error
	if o.spec.Endpoints, err = parseCounts(*counts); err != nil {
		return o, err
	}
	if o.spec.Intervals, err = parseDurations(*intervals, "-interval"); err != nil {
		return o, err
	}
	if o.spec.Windows, err = parseDurations(*windows, "-duration"); err != nil {
		return o, err
	}
	if len(o.spec.Windows) == 0 {
		return o, fmt.Errorf("-duration lists no window")
	}
	o.spec.Kinds = splitList(*kinds)
	o.probers = splitList(*probers)
	return o, nil
}

// applyQuick sets the -quick defaults for every flag not given explicitly.
// The alert scenario is part of them only where Alertmanager is installed.
func applyQuick(o *options, set map[string]bool, counts, kinds, intervals, windows *string) {
	if !set["n"] {
		*counts = "200"
	}
	if !set["scenarios"] {
		*kinds = "steady,faults,reload"
		if _, err := os.Stat(o.run.alertmanagerBin); err == nil {
			*kinds += ",alert"
		} else {
			log.Printf("-quick leaves out the alert scenario: %v", err)
		}
	}
	if !set["reload-every"] {
		o.spec.ReloadEvery = time.Second
	}
	if !set["alert-paths"] {
		o.spec.AlertPaths = 20
	}
	if !set["rate"] && !set["interval"] {
		*intervals = "1s"
	}
	if !set["duration"] {
		*windows = "5s"
	}
	if !set["write"] {
		o.write = false
	}
}

// parseDurations parses a comma-separated list of durations, the value of
// flag.
func parseDurations(s, flag string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range splitList(s) {
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("invalid duration %q in %s: want a positive duration such as 10s", f, flag)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid endpoint count %q in -n: want a positive integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-n lists no endpoint count")
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// usedProbers returns the probers that at least one scenario supports, in
// order, and fails if a scenario has none.
func usedProbers(scenarios []scenario, probers []prober) ([]prober, error) {
	var out []prober
	for _, p := range probers {
		for _, sc := range scenarios {
			if sc.supports(p.name()) {
				out = append(out, p)
				break
			}
		}
	}
	for _, sc := range scenarios {
		if !slices.ContainsFunc(out, func(p prober) bool { return sc.supports(p.name()) }) {
			return nil, fmt.Errorf("scenario %s runs only apiwatch, which -probers leaves out", sc.Name)
		}
	}
	return out, nil
}

func probersByName(names []string) ([]prober, error) {
	known := map[string]prober{"floor": floor{}, "apiwatch": apiwatch{}}
	var out []prober
	for _, n := range names {
		p, ok := known[n]
		if !ok {
			return nil, fmt.Errorf("unknown prober %q: known ones are floor and apiwatch", n)
		}
		out = append(out, p)
	}
	return out, nil
}

func runHarness(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	scenarios, err := buildScenarios(o.spec)
	if err != nil {
		return err
	}
	probers, err := probersByName(o.probers)
	if err != nil {
		return err
	}
	if probers, err = usedProbers(scenarios, probers); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r := &report{
		Date:        time.Now(),
		Command:     commandLine(args),
		Machine:     readMachineInfo(root),
		BaselineRSS: map[string]int64{},
	}
	e, cleanup, err := setUp(root, o, scenarios)
	if err != nil {
		return err
	}
	defer cleanup()
	log.Printf("writing logs and results to %s", e.dir)

	for _, p := range probers {
		if r.BaselineRSS[p.name()], err = baselineRSS(ctx, e, p); err != nil {
			return fmt.Errorf("measuring %s with no endpoints: %w", p.name(), err)
		}
	}
	for _, sc := range scenarios {
		for repeat := 1; repeat <= o.repeat; repeat++ {
			for _, p := range probers {
				if !sc.supports(p.name()) {
					continue
				}
				m, err := measure(ctx, e, p, sc, repeat, o.run)
				if err != nil {
					return fmt.Errorf("scenario %s, prober %s: %w", sc.Name, p.name(), err)
				}
				m.BaselineRSS = r.BaselineRSS[p.name()]
				m.KiBPerEndpoint = float64(m.PeakRSS-m.BaselineRSS) / float64(m.Endpoints)
				if m.PeakRSSUnscraped > 0 {
					m.KiBPerEndpointUnscraped = float64(m.PeakRSSUnscraped-m.BaselineRSS) / float64(m.Endpoints)
				}
				log.Printf("%s-%s-%d: %.0f probes/s, %.3f CPU s per 1,000 probes, peak RSS %.1f MiB",
					sc.Name, p.name(), repeat, m.AchievedRate, m.CPUPer1k, float64(m.PeakRSS)/1024)
				if m.Reload != nil {
					logReloads(sc.Name, repeat, m.Reload)
				}
				r.Results = append(r.Results, m)
			}
		}
	}
	setFloorRatios(r.Results)
	r.Machine.LoadEnd = loadAverage()
	return publish(r, e.dir, root, o)
}

// setUp creates the run directory, builds apiwatch unless given, and starts
// the target. cleanup stops the target and removes the build directory.
func setUp(root string, o options, scenarios []scenario) (*env, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(root, o.out, time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	e := &env{
		self: self,
		dir:  dir,
		// Proxy is nil so that the harness never sends its loopback
		// requests through a proxy named in the environment.
		client: &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Minute},
	}

	var buildDir string
	if e.apiwatchBin = o.apiwatchBin; e.apiwatchBin == "" && slices.Contains(o.probers, "apiwatch") {
		if buildDir, err = os.MkdirTemp("", "apiwatch-bench-"); err != nil {
			return nil, nil, err
		}
		e.apiwatchBin = filepath.Join(buildDir, "apiwatch")
		if err := buildAPIWatch(root, e.apiwatchBin); err != nil {
			os.RemoveAll(buildDir)
			return nil, nil, err
		}
	}

	maxN := 0
	for _, sc := range scenarios {
		maxN = max(maxN, sc.Endpoints)
	}
	// Path N is spare: the reload scenario moves an endpoint's URL to it.
	if e.target, err = startTarget(e, maxN+1, o.listeners); err != nil {
		os.RemoveAll(buildDir)
		return nil, nil, err
	}

	cleanup := func() {
		if err := e.target.stop(5 * time.Second); err != nil {
			log.Printf("warning: %v", err)
		}
		if buildDir != "" {
			os.RemoveAll(buildDir)
		}
	}
	return e, cleanup, nil
}

func buildAPIWatch(root, out string) error {
	log.Printf("building ./cmd/apiwatch")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/apiwatch")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building ./cmd/apiwatch: %w", err)
	}
	return nil
}

// setFloorRatios divides each prober's CPU per probe by the floor's in the
// same scenario and repeat, which ran just before it.
func setFloorRatios(results []measurement) {
	type run struct {
		scenario string
		repeat   int
	}
	floorCPU := map[run]float64{}
	for _, m := range results {
		if m.Prober == "floor" && m.Schedule.Hits > 0 {
			floorCPU[run{m.Scenario, m.Repeat}] = m.CPUPer1k
		}
	}
	for i := range results {
		m := &results[i]
		f, ok := floorCPU[run{m.Scenario, m.Repeat}]
		if ok && m.Prober != "floor" && m.Schedule.Hits > 0 && f > 0 {
			m.FloorRatio = m.CPUPer1k / f
		}
	}
}

// publish prints the tables, writes results.json and, if asked, the
// benchmarks page.
func publish(r *report, dir, root string, o options) error {
	fmt.Println()
	r.writeText(os.Stdout)
	if err := r.writeJSON(filepath.Join(dir, "results.json")); err != nil {
		return err
	}
	if !o.write {
		log.Printf("results in %s; %s left unchanged (pass -write to update it)", dir, o.doc)
		return nil
	}
	if err := updateDoc(filepath.Join(root, o.doc), r.docSections()...); err != nil {
		return err
	}
	log.Printf("results in %s and %s", dir, o.doc)
	return nil
}

// moduleRoot returns the nearest directory upwards from the working
// directory that holds apiwatch's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/apiwatch/apiwatch\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/apiwatch/apiwatch above the working " +
				"directory: run from the repository")
		}
		dir = parent
	}
}

func commandLine(args []string) string {
	return strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
}
