package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// endpointStatus is the part of an /api/v1/status entry the tests read.
type endpointStatus struct {
	Company        string  `json:"company"`
	Endpoint       string  `json:"endpoint"`
	URL            string  `json:"url"`
	State          string  `json:"state"`
	Since          *string `json:"since"`
	LastCheck      *string `json:"last_check"`
	LastStatusCode int     `json:"last_status_code"`
	LastReason     string  `json:"last_reason"`
}

// statuses fetches /api/v1/status and returns the entries by endpoint name.
func (d *runningDaemon) statuses() map[string]endpointStatus {
	d.t.Helper()
	code, body := d.get("/api/v1/status")
	if code != http.StatusOK {
		d.t.Fatalf("GET /api/v1/status: status %d, body %q", code, body)
	}
	var out struct {
		Endpoints []endpointStatus `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		d.t.Fatalf("decoding /api/v1/status: %v\n%s", err, body)
	}
	m := make(map[string]endpointStatus, len(out.Endpoints))
	for _, e := range out.Endpoints {
		m[e.Endpoint] = e
	}
	return m
}

// waitForStates polls /api/v1/status until every endpoint in want has the
// wanted state, and returns the last statuses. It fails the test at the
// deadline. Polling is needed because the daemon is another process that
// offers no push signal.
func (d *runningDaemon) waitForStates(want map[string]string, deadline time.Time) map[string]endpointStatus {
	d.t.Helper()
	for {
		got := d.statuses()
		if statesMatch(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("states at the deadline: %s, want %v\nstderr:\n%s", describeStates(got), want, d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statesMatch(got map[string]endpointStatus, want map[string]string) bool {
	for name, state := range want {
		if got[name].State != state {
			return false
		}
	}
	return true
}

func describeStates(got map[string]endpointStatus) string {
	var parts []string
	for name, s := range got {
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", name, s.State, s.LastReason))
	}
	return strings.Join(parts, " ")
}

// metricValue returns the value of the series name{company, endpoint} in a
// /metrics body in the Prometheus text format, and whether it exists.
func (d *runningDaemon) metricValue(body, name, company, endpoint string) (float64, bool) {
	d.t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		d.t.Fatalf("parsing /metrics: %v", err)
	}
	family, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["company"] != company || labels["endpoint"] != endpoint {
			continue
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}
