package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// prometheusServer is a Prometheus process started by the test, and a
// client of its HTTP API.
type prometheusServer struct {
	url    string
	client *http.Client
	logs   *lockedBuffer
	// exited is closed when the process has exited, after exitErr is set
	// to its exit status.
	exited  chan struct{}
	exitErr error
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// prometheusConfig scrapes one target every second.
const prometheusConfig = `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: apiwatch
    static_configs:
      - targets: [%q]
`

// findPrometheus returns the path of the prometheus binary, which Debian's
// prometheus package installs. Without it the test fails, or is skipped
// when APIWATCH_SKIP_PROMETHEUS=1.
func findPrometheus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMETHEUS") == "1" {
			t.Skip("prometheus not installed and APIWATCH_SKIP_PROMETHEUS=1")
		}
		t.Fatalf("prometheus not found (install Debian's prometheus package, "+
			"or set APIWATCH_SKIP_PROMETHEUS=1 to skip this test): %v", err)
	}
	return bin
}

// startPrometheus runs the prometheus binary bin on a free loopback port,
// scraping target (host:port) every second, and returns once it is ready.
// The test's cleanup stops the process.
func startPrometheus(t *testing.T, bin, target string) *prometheusServer {
	t.Helper()
	dir := t.TempDir()
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, fmt.Appendf(nil, prometheusConfig, target), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddress(t)
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	p := &prometheusServer{
		url:    "http://" + addr,
		client: &http.Client{Timeout: 5 * time.Second},
		logs:   logs,
		exited: make(chan struct{}),
	}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
	})

	p.waitFor(t, 30*time.Second, "ready", func() (bool, error) {
		resp, err := p.client.Get(p.url + "/-/ready")
		if err != nil {
			return false, nil // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// waitFor calls cond every 100ms until it returns true, and fails the test
// when it returns an error, when Prometheus exits or after timeout.
func (p *prometheusServer) waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for Prometheus to be %s: %v\nPrometheus output:\n%s", what, err, p.logs)
		}
		if ok {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("Prometheus exited (%v) before it was %s. Output:\n%s", p.exitErr, what, p.logs)
		case <-deadline:
			t.Fatalf("Prometheus was not %s within %s. Output:\n%s", what, timeout, p.logs)
		case <-tick.C:
		}
	}
}

// freeLoopbackAddress returns a 127.0.0.1 address with a port that was
// free a moment ago. Another process could take it before Prometheus
// binds it; Prometheus then exits and the test fails with its output.
func freeLoopbackAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// series is one series of a vector or matrix result.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

// samples returns the series' sample values, NaN included.
func (s series) samples() ([]float64, error) {
	pairs := s.Values
	if s.Value != nil {
		pairs = [][]any{s.Value}
	}
	var out []float64
	for _, pair := range pairs {
		if len(pair) != 2 {
			return nil, fmt.Errorf("sample %v is not [time, value]", pair)
		}
		text, ok := pair[1].(string)
		if !ok {
			return nil, fmt.Errorf("sample value %v is not a string", pair[1])
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// last returns the series' last sample value.
func (s series) last() (float64, error) {
	vs, err := s.samples()
	if err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, fmt.Errorf("series %v has no samples", s.Metric)
	}
	return vs[len(vs)-1], nil
}

// hasNumber reports whether any of the series' samples is a number, not
// NaN, which Grafana would show as no value.
func (s series) hasNumber() bool {
	vs, err := s.samples()
	if err != nil {
		return false
	}
	for _, v := range vs {
		if !math.IsNaN(v) {
			return true
		}
	}
	return false
}

// apiGet requests a Prometheus API path and decodes the response's data
// into data. A response other than HTTP 200 with status "success" is an
// error.
func (p *prometheusServer) apiGet(path string, params url.Values, data any) error {
	resp, err := p.client.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: HTTP %d, not JSON: %s", path, resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusOK || r.Status != "success" {
		return fmt.Errorf("%s: HTTP %d, status %q: %s: %s", path, resp.StatusCode, r.Status, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

// query runs expr through /api/v1/query at time at, or through
// /api/v1/query_range over the five minutes up to at in 15s steps, and
// returns the series of the vector or matrix result.
func (p *prometheusServer) query(expr string, instant bool, at time.Time) ([]series, error) {
	params := url.Values{"query": {expr}}
	path := "/api/v1/query"
	if instant {
		params.Set("time", strconv.FormatInt(at.Unix(), 10))
	} else {
		path = "/api/v1/query_range"
		params.Set("start", strconv.FormatInt(at.Add(-5*time.Minute).Unix(), 10))
		params.Set("end", strconv.FormatInt(at.Unix(), 10))
		params.Set("step", "15")
	}
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []series `json:"result"`
	}
	if err := p.apiGet(path, params, &data); err != nil {
		return nil, err
	}
	if data.ResultType != "vector" && data.ResultType != "matrix" {
		return nil, fmt.Errorf("result type %q, expected vector or matrix", data.ResultType)
	}
	return data.Result, nil
}

// labelValues returns the values of label on the series that selector
// matches in the last hour. Grafana sends the same request for a
// label_values(selector, label) variable.
func (p *prometheusServer) labelValues(label, selector string) ([]string, error) {
	now := time.Now()
	params := url.Values{
		"match[]": {selector},
		"start":   {strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)},
		"end":     {strconv.FormatInt(now.Unix(), 10)},
	}
	var values []string
	err := p.apiGet("/api/v1/label/"+label+"/values", params, &values)
	return values, err
}

// waitForData waits until each of exprs returns data at the current time.
// Each is a condition written as a filter, such as "count(x) == 4".
func (p *prometheusServer) waitForData(t *testing.T, exprs ...string) {
	t.Helper()
	for _, expr := range exprs {
		p.waitFor(t, 30*time.Second, "returning data for "+expr, func() (bool, error) {
			result, err := p.query(expr, true, time.Now())
			return len(result) > 0, err
		})
	}
}
