package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one harness run produced. It is written as JSON next
// to the logs, and as Markdown into the benchmarks page.
type report struct {
	Date    time.Time   `json:"date"`
	Command string      `json:"command"`
	Machine machineInfo `json:"machine"`
	// BaselineRSS is each prober's peak RSS in KiB with no endpoints.
	BaselineRSS map[string]int64 `json:"baseline_peak_rss_kib"`
	Results     []measurement    `json:"results"`
}

// machineInfo describes where the figures were measured.
type machineInfo struct {
	CPUModel  string `json:"cpu_model"`
	Cores     int    `json:"cores"`
	MemoryMiB int64  `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	Commit    string `json:"commit"`
	// LoadStart and LoadEnd are the 1-minute load averages when the run
	// began and ended.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// readMachineInfo fills in everything but LoadEnd. Fields that cannot be
// read are left empty.
func readMachineInfo(root string) machineInfo {
	info := machineInfo{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		info.CPUModel = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kib, err := parseKiB(procField(b, "MemTotal")); err == nil {
			info.MemoryMiB = kib / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info.Kernel = strings.TrimSpace(string(b))
	}
	info.Commit = gitCommit(root)
	return info
}

// procField returns the value of the first "name: value" line of a /proc
// file such as cpuinfo or meminfo.
func procField(b []byte, name string) string {
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// gitCommit returns the short commit of the tree, marked "+changes" when the
// tree has uncommitted changes. It only reads git state.
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	status, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(bytes.TrimSpace(status)) > 0 {
		commit += "+changes"
	}
	return commit
}

// table is a grid of cells, rendered as aligned text or as Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
	// left is the number of leading columns, names rather than figures,
	// that Markdown aligns left.
	left int
}

func (t table) writeText(w io.Writer) {
	fmt.Fprintf(w, "%s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.header, "\t")+"\t")
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func (t table) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "### %s\n\n", t.title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	align := make([]string, len(t.header))
	for i := range align {
		align[i] = "---:"
	}
	for i := range min(t.left, len(align)) {
		align[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(align, " | "))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// costResults returns the measurements of the scenarios that measure the
// cost of probing, reloadResults those of the reload scenario, and
// alertResults those of the alert scenario.
func (r *report) costResults() []measurement {
	var out []measurement
	for _, m := range r.Results {
		if m.Reload == nil && m.Alert == nil {
			out = append(out, m)
		}
	}
	return out
}

func (r *report) alertResults() []measurement {
	var out []measurement
	for _, m := range r.Results {
		if m.Alert != nil {
			out = append(out, m)
		}
	}
	return out
}

func (r *report) reloadResults() []measurement {
	var out []measurement
	for _, m := range r.Results {
		if m.Reload != nil {
			out = append(out, m)
		}
	}
	return out
}

// repeatedName returns the scenario's name, followed by the repeat number
// when any of results is a repeat.
func repeatedName(m measurement, results []measurement) string {
	for _, o := range results {
		if o.Repeat > 1 {
			return fmt.Sprintf("%s #%d", m.Scenario, m.Repeat)
		}
	}
	return m.Scenario
}

// tables lays the cost results out in four tables: cost, schedule accuracy
// seen by the target, start-up to the first probes, and apiwatch's own
// view, preceded by a summary of medians when scenarios were repeated.
func (r *report) tables() []table {
	results := r.costResults()
	if len(results) == 0 {
		return nil
	}
	cost := table{
		left:  2,
		title: "Cost",
		header: []string{"Scenario", "Prober", "Interval", "Probes/s achieved / scheduled",
			"CPU s per 1,000 probes", "× floor", "Peak RSS MiB (before scrape)", "KiB per endpoint (before scrape)",
			"Target server CPU s per 1,000", "Other processes, cores"},
	}
	sched := table{
		left:  2,
		title: "Schedule accuracy at the target",
		header: []string{"Scenario", "Prober", "Gaps",
			"Deviation p50", "Deviation p99", "Deviation max", "Paths never hit"},
	}
	startup := table{
		left:  2,
		title: "Start-up to first probe, from the process start",
		header: []string{"Scenario", "Prober", "Ready after", "First hit p50 / p99 / max",
			"Paths first hit after one interval, from start (from ready)", "Busiest bin of first hits (mean)"},
	}
	self := table{
		left:  2,
		title: "apiwatch's own view",
		header: []string{"Scenario", "Prober", "Scheduler lag p99", "Probes counted", "Skipped",
			"/metrics scrape", "Size (gzip)", "Series", "Scrape CPU"},
	}
	repeated := false
	for _, m := range results {
		repeated = repeated || m.Repeat > 1
	}
	for _, m := range results {
		name := repeatedName(m, results)
		cost.rows = append(cost.rows, []string{name, m.Prober, m.Interval.String(),
			fmt.Sprintf("%.0f / %.0f (%.3f)", m.AchievedRate, m.ScheduledRate, m.AchievedRate/m.ScheduledRate),
			perProbe(m.CPUPer1k, m), ratio(m.FloorRatio),
			withUnscraped("%.1f", float64(m.PeakRSS)/1024, float64(m.PeakRSSUnscraped)/1024),
			withUnscraped("%.2f", m.KiBPerEndpoint, m.KiBPerEndpointUnscraped),
			perProbe(m.TargetCPUPer1k, m), fmt.Sprintf("%.2f", m.OtherCores)})
		sched.rows = append(sched.rows, []string{name, m.Prober, strconv.Itoa(m.Schedule.Gaps),
			millis(m.Schedule.DevP50), millis(m.Schedule.DevP99), millis(m.Schedule.DevMax),
			strconv.Itoa(m.Schedule.NeverHit)})
		startup.rows = append(startup.rows, startupRow(name, m))
		if a := m.APIWatch; a != nil {
			lag := "none observed"
			if a.LagP99 != nil {
				lag = millis(time.Duration(*a.LagP99 * float64(time.Second)))
			}
			self.rows = append(self.rows, []string{name, m.Prober, lag,
				fmt.Sprintf("%.0f", a.Probes), fmt.Sprintf("%.0f", a.Skipped), millis(a.ScrapeTime),
				fmt.Sprintf("%s (%s)", mebibytes(a.ScrapeBytes), mebibytes(a.ScrapeGzipBytes)),
				strconv.Itoa(a.ScrapeSeries), millis(a.ScrapeCPU)})
		}
	}
	if repeated {
		return []table{summary(results), cost, sched, startup, self}
	}
	return []table{cost, sched, startup, self}
}

func startupRow(name string, m measurement) []string {
	s := m.Startup
	late := fmt.Sprintf("%d (%d)", s.LateFromStart, s.LateFromReady)
	if s.NeverHit > 0 {
		late += fmt.Sprintf(", %d never hit", s.NeverHit)
	}
	return []string{name, m.Prober, shortDuration(s.ReadyAfter),
		fmt.Sprintf("%s / %s / %s", shortDuration(s.FirstP50), shortDuration(s.FirstP99), shortDuration(s.FirstMax)),
		late, fmt.Sprintf("%d per %s (%.0f)", s.BinMax, shortDuration(s.BinWidth), s.BinMean)}
}

// summary has one row per scenario and prober with the medians over the
// repeats, and the range of the ratio to the floor.
func summary(results []measurement) table {
	t := table{
		left:  2,
		title: "Summary: medians over the repeats",
		header: []string{"Scenario", "Prober", "Runs",
			"CPU s per 1,000 probes", "× floor", "× floor range", "KiB per endpoint"},
	}
	type key struct{ scenario, prober string }
	var order []key
	groups := map[key][]measurement{}
	for _, m := range results {
		k := key{m.Scenario, m.Prober}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	for _, k := range order {
		var cpu, ratios, kib []float64
		for _, m := range groups[k] {
			if m.Schedule.Hits == 0 {
				continue
			}
			cpu = append(cpu, m.CPUPer1k)
			kib = append(kib, m.KiBPerEndpoint)
			if m.FloorRatio > 0 {
				ratios = append(ratios, m.FloorRatio)
			}
		}
		slices.Sort(cpu)
		slices.Sort(ratios)
		slices.Sort(kib)
		row := []string{k.scenario, k.prober, strconv.Itoa(len(groups[k])),
			fmt.Sprintf("%.3f", percentile(cpu, 50)), "–", "–", fmt.Sprintf("%.2f", percentile(kib, 50))}
		if len(ratios) > 0 {
			row[4] = fmt.Sprintf("%.2f", percentile(ratios, 50))
			row[5] = fmt.Sprintf("%.2f–%.2f", ratios[0], ratios[len(ratios)-1])
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// withUnscraped formats a memory figure, followed in brackets by the same
// figure before the first /metrics scrape when there is one.
func withUnscraped(format string, v, unscraped float64) string {
	if unscraped == 0 {
		return fmt.Sprintf(format, v)
	}
	return fmt.Sprintf(format+" ("+format+")", v, unscraped)
}

func perProbe(v float64, m measurement) string {
	if m.Schedule.Hits == 0 {
		return "no probes"
	}
	return fmt.Sprintf("%.3f", v)
}

func ratio(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func mebibytes(n int64) string {
	return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
}

func (r *report) writeText(w io.Writer) {
	tables := slices.Concat(r.tables(), r.reloadTables(), r.alertTables())
	for _, t := range tables {
		t.writeText(w)
	}
}

// header returns the first lines of a results section: when, on which
// commit and machine, and with which command, followed by the baseline
// memory if withBaseline is set.
func (r *report) header(withBaseline bool) string {
	var b bytes.Buffer
	m := r.Machine
	fmt.Fprintf(&b, "Measured on %s, commit %s, with `%s`.\n\n",
		r.Date.UTC().Format("2006-01-02 15:04 MST"), m.Commit, r.Command)
	fmt.Fprintf(&b, "Machine: %s, %d cores, %.1f GiB memory, Linux %s, %s. ",
		m.CPUModel, m.Cores, float64(m.MemoryMiB)/1024, m.Kernel, m.GoVersion)
	fmt.Fprintf(&b, "1-minute load average %s at the start and %s at the end.", m.LoadStart, m.LoadEnd)
	var names []string
	for _, p := range []string{"floor", "apiwatch"} {
		if kib, ok := r.BaselineRSS[p]; ok && withBaseline {
			names = append(names, fmt.Sprintf("%s %.1f MiB", p, float64(kib)/1024))
		}
	}
	if len(names) > 0 {
		fmt.Fprintf(&b, " Peak RSS with no endpoints: %s.", strings.Join(names, ", "))
	}
	b.WriteString("\n\n")
	return b.String()
}

// markdown returns the results section of the benchmarks page.
func (r *report) markdown() string {
	var b bytes.Buffer
	b.WriteString(r.header(true))
	for _, t := range r.tables() {
		t.writeMarkdown(&b)
	}
	return b.String()
}

// reloadMarkdown returns the reload results section of the benchmarks page.
func (r *report) reloadMarkdown() string {
	var b bytes.Buffer
	b.WriteString(r.header(false))
	for _, t := range r.reloadTables() {
		t.writeMarkdown(&b)
	}
	return b.String()
}

// alertMarkdown returns the alert results section of the benchmarks page.
func (r *report) alertMarkdown() string {
	var b bytes.Buffer
	b.WriteString(r.header(false))
	for _, t := range r.alertTables() {
		t.writeMarkdown(&b)
	}
	return b.String()
}

// docSections returns the sections of the benchmarks page that this run
// has figures for.
func (r *report) docSections() []docSection {
	var out []docSection
	if len(r.costResults()) > 0 {
		out = append(out, docSection{begin: resultsBegin, end: resultsEnd, text: r.markdown()})
	}
	if len(r.reloadResults()) > 0 {
		out = append(out, docSection{begin: reloadResultsBegin, end: reloadResultsEnd, text: r.reloadMarkdown()})
	}
	if len(r.alertResults()) > 0 {
		out = append(out, docSection{begin: alertResultsBegin, end: alertResultsEnd, text: r.alertMarkdown()})
	}
	return out
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// The benchmarks page has three sections that the harness writes: the
// results of the cost scenarios, those of the reload scenario and those of
// the alert scenario, each between a pair of markers. A run rewrites only
// the sections it has figures for.
const (
	resultsBegin       = "<!-- BEGIN RESULTS: written by go run ./bench, edits here are overwritten -->"
	resultsEnd         = "<!-- END RESULTS -->"
	reloadResultsBegin = "<!-- BEGIN RELOAD RESULTS: written by go run ./bench -scenarios reload, " +
		"edits here are overwritten -->"
	reloadResultsEnd  = "<!-- END RELOAD RESULTS -->"
	alertResultsBegin = "<!-- BEGIN ALERT RESULTS: written by go run ./bench -scenarios alert, " +
		"edits here are overwritten -->"
	alertResultsEnd = "<!-- END ALERT RESULTS -->"
)

// docSection is the text of one section of the benchmarks page and its
// markers.
type docSection struct {
	begin, end, text string
}

// replaceSection returns doc with the text between the markers of s
// replaced by s.text.
func replaceSection(doc string, s docSection) (string, error) {
	before, rest, ok := strings.Cut(doc, s.begin)
	if !ok {
		return "", fmt.Errorf("no line %q", s.begin)
	}
	_, after, ok := strings.Cut(rest, s.end)
	if !ok {
		return "", fmt.Errorf("no line %q after the begin marker", s.end)
	}
	return before + s.begin + "\n\n" + s.text + s.end + after, nil
}

// updateDoc writes sections into the page at path. It writes nothing
// unless every section's markers are in place.
func updateDoc(path string, sections ...docSection) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := string(b)
	for _, s := range sections {
		if doc, err = replaceSection(doc, s); err != nil {
			return fmt.Errorf("updating %s: %w; restore the markers around the results section", path, err)
		}
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
