package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// env holds the state every run of a prober shares: the harness binary,
// the run directory for logs and configs, and the target.
type env struct {
	self        string // the harness binary, re-executed in target and floor modes
	dir         string
	apiwatchBin string
	target      *target
	client      *http.Client // for the target's admin API and apiwatch
	// alertmanagerURL is the URL apiwatch sends its alerts to during an
	// alert measurement, and empty otherwise.
	alertmanagerURL string
}

// prober starts one kind of prober on a scenario's endpoints.
type prober interface {
	name() string
	// launch starts the prober, named run in logs and files, and returns
	// once it is probing.
	launch(e *env, sc scenario, run string) (*runningProber, error)
}

// runningProber is a started prober.
type runningProber struct {
	*child
	// metricsURL is the prober's /metrics, or empty if it has none.
	metricsURL string
	// configFile is apiwatch's configuration file, empty for the floor.
	configFile string
	// ready is when the harness saw the prober ready: the floor's first
	// line of output, or apiwatch's first 200 from /-/ready.
	ready time.Time
}

// floor runs the harness binary in floor mode.
type floor struct{}

func (floor) name() string { return "floor" }

func (floor) launch(e *env, sc scenario, run string) (*runningProber, error) {
	urlFile := filepath.Join(e.dir, run+".urls")
	var b strings.Builder
	for i := range sc.Endpoints {
		company, endpoint := endpointNames(i)
		fmt.Fprintf(&b, "%s %s %s\n", company, endpoint, e.target.url(i))
	}
	if err := os.WriteFile(urlFile, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	c, err := startChild(run, filepath.Join(e.dir, run+".log"), e.self, "floor",
		"-urls", urlFile, "-interval", sc.Interval.String(), "-timeout", sc.Timeout.String())
	if err != nil {
		return nil, err
	}
	if _, err := c.waitFirstLine(time.Minute); err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	return &runningProber{child: c, ready: time.Now()}, nil
}

// apiwatch runs the daemon built from this tree.
type apiwatch struct{}

func (apiwatch) name() string { return "apiwatch" }

// companySize is the number of endpoints per company in the generated
// configuration.
const companySize = 100

func (apiwatch) launch(e *env, sc scenario, run string) (*runningProber, error) {
	// The configuration has a directory of its own, so that apiwatch's
	// file watcher receives no events from the logs of the run.
	configFile := filepath.Join(e.dir, run+"-config", "apiwatch.yml")
	if err := os.MkdirAll(filepath.Dir(configFile), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(configFile, apiwatchConfig(sc, e.target.url, nil, e.alertmanagerURL), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	// The reload scenario reads the reloads from the log, which apiwatch
	// writes at info level. At info level apiwatch also logs each
	// endpoint's first state change, once per endpoint during the warm-up.
	level := "warn"
	if sc.Reload != nil {
		level = "info"
	}
	c, err := startChild(run, filepath.Join(e.dir, run+".log"), e.apiwatchBin,
		"--config.file="+configFile,
		"--storage.path="+filepath.Join(e.dir, run+"-storage"),
		"--web.listen-address="+addr,
		"--web.external-url=http://"+addr+"/",
		"--log.level="+level)
	if err != nil {
		return nil, err
	}
	p := &runningProber{child: c, metricsURL: "http://" + addr + "/metrics", configFile: configFile}
	if err := waitReady(e.client, "http://"+addr+"/-/ready", c, 2*time.Minute); err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	p.ready = time.Now()
	return p, nil
}

// endpointOverride replaces the URL and timeout of one endpoint in a
// generated configuration.
type endpointOverride struct {
	Index int
	URL   string
	// Timeout is written as the endpoint's own timeout unless it is 0.
	Timeout time.Duration
}

// apiwatchConfig returns a configuration with sc's endpoints in companies
// of companySize, endpoint i probing url(i), except that override, if not
// nil, sets the URL and timeout of one endpoint. If alertmanager is not
// empty, apiwatch sends its alerts there, and one failed probe turns an
// endpoint DOWN.
func apiwatchConfig(sc scenario, url func(int) string, override *endpointOverride, alertmanager string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "global:\n  interval: %dms\n  timeout: %dms\n",
		sc.Interval.Milliseconds(), sc.Timeout.Milliseconds())
	if alertmanager != "" {
		fmt.Fprintf(&b, "  failure_threshold: 1\nalerting:\n  alertmanagers:\n    - url: %s\n", alertmanager)
	}
	if sc.Endpoints == 0 {
		b.WriteString("companies: []\n")
		return b.Bytes()
	}
	b.WriteString("companies:\n")
	for i := range sc.Endpoints {
		company, endpoint := endpointNames(i)
		if i%companySize == 0 {
			fmt.Fprintf(&b, "  - name: %s\n    endpoints:\n", company)
		}
		if override == nil || override.Index != i {
			fmt.Fprintf(&b, "      - name: %s\n        url: %s\n", endpoint, url(i))
			continue
		}
		fmt.Fprintf(&b, "      - name: %s\n        url: %s\n", endpoint, override.URL)
		if override.Timeout > 0 {
			fmt.Fprintf(&b, "        timeout: %dms\n", override.Timeout.Milliseconds())
		}
	}
	return b.Bytes()
}

// endpointNames returns the company and endpoint names of endpoint i, the
// same for every prober so that they share the schedule phases.
func endpointNames(i int) (company, endpoint string) {
	return fmt.Sprintf("company-%04d", i/companySize), fmt.Sprintf("endpoint-%d", i)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// readyPollInterval is how often waitReady polls. It bounds the error of
// the time to ready, which the start-up table reports.
const readyPollInterval = 10 * time.Millisecond

// waitReady polls url until it returns 200, c exits, or timeout passes.
// Each poll has its own short timeout, so one stalled request does not use
// up the wait.
func waitReady(client *http.Client, url string, c *child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if err := c.running(); err != nil {
			return err
		}
		if isReady(client, url) {
			return nil
		}
		select {
		case <-c.done:
		case <-time.After(readyPollInterval):
		}
	}
	return c.failure(fmt.Sprintf("was not ready at %s within %v", url, timeout))
}

// isReady reports whether a GET of url returns 200 within 2 seconds.
func isReady(client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// target is the harness's handle on the target process.
type target struct {
	*child
	addrs  targetAddrs
	client *http.Client
}

// The target listens on several loopback addresses (Linux routes all of
// 127.0.0.0/8 to lo) and spreads the paths over them, so that fresh
// connections at thousands per second cannot run out of 4-tuples. Whichever
// side closes first keeps the tuple in TIME_WAIT for 60 s, and the default
// ephemeral range (32768-60999) has 28,232 ports per destination. Here the
// target closes first, because the probers send "Connection: close", and
// with one listener a floor run at 2,000 connections per second (Linux 6.18,
// tcp_tw_reuse=2) missed no probe, because a SYN that reuses a tuple in
// TIME_WAIT on the server side is accepted. The client closes first after a
// timeout or a body cut at its limit. A kernel without tcp_tw_reuse for
// loopback would then hold the port, and eight destinations keep about
// 3,700 such connections per second within the port range.
const defaultListeners = 8

func startTarget(e *env, paths, listeners int) (*target, error) {
	c, err := startChild("target", filepath.Join(e.dir, "target.log"), e.self, "target",
		"-paths", fmt.Sprint(paths), "-listeners", fmt.Sprint(listeners))
	if err != nil {
		return nil, err
	}
	line, err := c.waitFirstLine(30 * time.Second)
	if err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	t := &target{child: c, client: e.client}
	if err := json.Unmarshal([]byte(line), &t.addrs); err != nil || len(t.addrs.Listeners) == 0 {
		c.stop(5 * time.Second)
		return nil, fmt.Errorf("target printed %q, want its addresses as JSON", line)
	}
	return t, nil
}

// url returns the URL of path i, on listener i mod the listener count.
func (t *target) url(i int) string {
	return fmt.Sprintf("http://%s/t/%d", t.addrs.Listeners[i%len(t.addrs.Listeners)], i)
}

func (t *target) reset() error {
	return t.post("/reset", nil)
}

func (t *target) setFaults(f faults) error {
	_, err := t.switchFaults(f)
	return err
}

// switchFaults sets the failing and slow shares and returns the time the
// target applied them.
func (t *target) switchFaults(f faults) (time.Time, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := t.postRead("/faults", body)
	if err != nil {
		return time.Time{}, err
	}
	var applied faultsApplied
	if err := json.Unmarshal(resp, &applied); err != nil || applied.At == 0 {
		return time.Time{}, fmt.Errorf("target /faults returned %q, want the time it applied them as JSON", resp)
	}
	return time.Unix(0, applied.At), nil
}

func (t *target) post(path string, body []byte) error {
	_, err := t.postRead(path, body)
	return err
}

// postRead sends body to the admin API's path and returns the response
// body.
func (t *target) postRead(path string, body []byte) ([]byte, error) {
	resp, err := t.client.Post("http://"+t.addrs.Admin+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("target %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return msg, nil
}

// hits returns every hit the target recorded since the last reset.
func (t *target) hits() ([][]int64, error) {
	resp, err := t.client.Get("http://" + t.addrs.Admin + "/hits")
	if err != nil {
		return nil, fmt.Errorf("fetching hits from the target: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching hits from the target: %s", resp.Status)
	}
	return readHits(resp.Body)
}
