package collector

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/apiwatch/apiwatch/config"
)

// registryText returns the per-endpoint families of reg in the text format.
func registryText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "probe_") {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// parseSeries parses a text exposition into one line per series, "name{labels} value", sorted.
func parseSeries(t *testing.T, text string) (series []string, help map[string]string) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing:\n%v\n%s", err, text)
	}
	help = map[string]string{}
	var buf bytes.Buffer
	for name, f := range families {
		help[name] = f.GetType().String() + " " + f.GetHelp()
		buf.Reset()
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(buf.String(), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				series = append(series, line)
			}
		}
	}
	slices.Sort(series)
	return series, help
}

func TestWriteEndpointMetricsMatchesRegistry(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(metricsConfig())
	recordMetricsResults(t, m)

	var streamed bytes.Buffer
	if err := m.WriteEndpointMetrics(&streamed, FullMetricsDetail); err != nil {
		t.Fatal(err)
	}
	got, gotHelp := parseSeries(t, streamed.String())
	want, wantHelp := parseSeries(t, registryText(t, reg))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("streamed series:\n%s\nregistry series:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for name, h := range wantHelp {
		if gotHelp[name] != h {
			t.Errorf("%s: streamed type and help %q, registry %q", name, gotHelp[name], h)
		}
	}
	if len(gotHelp) != len(wantHelp) {
		t.Errorf("streamed %d families, registry %d", len(gotHelp), len(wantHelp))
	}
}

func TestWriteEndpointMetricsDetail(t *testing.T) {
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(metricsConfig())
	recordMetricsResults(t, m)
	var out bytes.Buffer
	if err := m.WriteEndpointMetrics(&out, MetricsDetail{}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, name := range []string{"probe_duration_seconds", "probe_phase_duration_seconds"} {
		if strings.Contains(text, name) {
			t.Errorf("%s written without its detail flag", name)
		}
	}
	if !strings.Contains(text, `probe_up{company="acme",endpoint="api"} 1`) {
		t.Errorf("probe_up missing:\n%s", text)
	}
}

func TestStreamEndpointMetricsLeavesRegistry(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil), StreamEndpointMetrics: true})
	m.ApplyConfig(metricsConfig())
	recordMetricsResults(t, m)
	if text := registryText(t, reg); text != "" {
		t.Errorf("registry still has per-endpoint series:\n%s", text)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		found = found || f.GetName() == "apiwatch_endpoints"
	}
	if !found {
		t.Error("apiwatch_endpoints missing from the registry")
	}
}

func TestAppendLabelValueEscapes(t *testing.T) {
	got := string(appendLabelValue(nil, "a\"b\\c\nd"))
	if want := `a\"b\\c\nd`; got != want {
		t.Errorf("appendLabelValue = %s, want %s", got, want)
	}
}

// BenchmarkWriteEndpointMetrics100000 streams the series of 100,000 probed
// endpoints, the scrape of the largest installation apiwatch aims at.
func BenchmarkWriteEndpointMetrics100000(b *testing.B) {
	m, _ := newTestManager(b, Options{Prober: newFakeProber(nil), StreamEndpointMetrics: true})
	cfg := &config.Config{}
	for c := range 10_000 {
		comp := &config.Company{Name: "company-" + strconv.Itoa(c)}
		for e := range 10 {
			comp.Endpoints = append(comp.Endpoints, intervalEndpoint("endpoint-"+strconv.Itoa(e), time.Minute, 1, 1))
		}
		cfg.Companies = append(cfg.Companies, comp)
	}
	m.ApplyConfig(cfg)
	r := Result{Start: time.Now(), Duration: 120 * time.Millisecond, Success: true, StatusCode: 200, IPVersion: 4,
		Phases: Phases{PhaseConnect: time.Millisecond, PhaseProcessing: 100 * time.Millisecond}}
	for _, e := range m.endpoints {
		e.record(r)
	}
	var out countingWriter
	b.ReportAllocs()
	for b.Loop() {
		out.n = 0
		if err := m.WriteEndpointMetrics(&out, FullMetricsDetail); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(out.n)/(1<<20), "MiB/scrape")
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)
