package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// alertmanagerConfig routes every alert to a receiver without
// integrations: the harness reads the alerts from Alertmanager's API and
// needs no notification sent.
const alertmanagerConfig = "route:\n  receiver: x\nreceivers:\n  - name: x\n"

// alertmanagerEnv is an Alertmanager the harness started for one alert
// measurement, and the recording proxy in front of it.
type alertmanagerEnv struct {
	am *child
	// url is Alertmanager's own base URL and proxyURL the proxy's, which
	// apiwatch sends to.
	url      string
	proxyURL string
	proxy    *http.Server
	recorder *alertRecorder
}

// startAlertmanager starts bin on a loopback port, with its own storage in
// the run directory and clustering off, and the recording proxy in front
// of it.
func startAlertmanager(e *env, bin, run string) (*alertmanagerEnv, error) {
	dir := filepath.Join(e.dir, run+"-alertmanager")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, []byte(alertmanagerConfig), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	c, err := startChild("alertmanager", filepath.Join(e.dir, run+"-alertmanager.log"), bin,
		"--config.file="+configFile,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=")
	if err != nil {
		return nil, err
	}
	a := &alertmanagerEnv{am: c, url: "http://" + addr}
	if err := waitReady(e.client, a.url+"/-/ready", c, time.Minute); err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.stop(5 * time.Second)
		return nil, err
	}
	a.recorder = newAlertRecorder(a.url, e.client)
	a.proxyURL = "http://" + l.Addr().String()
	a.proxy = &http.Server{Handler: a.recorder, ReadHeaderTimeout: 10 * time.Second}
	go a.proxy.Serve(l)
	return a, nil
}

// stop stops the proxy and Alertmanager.
func (a *alertmanagerEnv) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a.proxy.Shutdown(ctx)
	if err := a.am.stop(5 * time.Second); err != nil {
		log.Printf("warning: %v", err)
	}
}

// countActive returns how many of the endpoints have an alert that
// Alertmanager lists in GET /api/v2/alerts, which leaves out resolved
// alerts.
func (a *alertmanagerEnv) countActive(client *http.Client, endpoints []string) (int, error) {
	resp, err := client.Get(a.url + "/api/v2/alerts")
	if err != nil {
		return 0, fmt.Errorf("listing Alertmanager's alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("listing Alertmanager's alerts: %s", resp.Status)
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return 0, fmt.Errorf("listing Alertmanager's alerts: %w", err)
	}
	n := 0
	for _, al := range alerts {
		if slices.Contains(endpoints, al.Labels["endpoint"]) {
			n++
		}
	}
	return n, nil
}

// alertRecorder is a reverse proxy that forwards every request to
// Alertmanager and records each POST /api/v2/alerts with the time its body
// arrived and the time Alertmanager's response arrived.
type alertRecorder struct {
	upstream string
	client   *http.Client
	mu       sync.Mutex
	posts    []alertPost
	// changed receives a value, without blocking, after each recorded
	// POST.
	changed chan struct{}
}

func newAlertRecorder(upstream string, client *http.Client) *alertRecorder {
	return &alertRecorder{upstream: upstream, client: client, changed: make(chan struct{}, 1)}
}

func (r *alertRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	arrived := time.Now()

	fwd, err := http.NewRequestWithContext(req.Context(), req.Method, r.upstream+req.URL.RequestURI(),
		bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fwd.Header = req.Header.Clone()
	resp, err := r.client.Do(fwd)
	if err != nil {
		log.Printf("warning: forwarding %s %s to Alertmanager failed: %v", req.Method, req.URL.Path, err)
		http.Error(w, "forwarding to Alertmanager: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	acked := time.Now()
	if err != nil {
		log.Printf("warning: reading Alertmanager's response to %s %s failed: %v", req.Method, req.URL.Path, err)
		http.Error(w, "reading Alertmanager's response: "+err.Error(), http.StatusBadGateway)
		return
	}

	if req.Method == http.MethodPost && req.URL.Path == "/api/v2/alerts" {
		r.record(body, arrived, acked, resp.StatusCode)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

func (r *alertRecorder) record(body []byte, arrived, acked time.Time, status int) {
	alerts, err := parseAlertPost(body, arrived)
	if err != nil {
		log.Printf("warning: %v", err)
	}
	r.mu.Lock()
	r.posts = append(r.posts, alertPost{Arrived: arrived, Acked: acked, Status: status, Alerts: alerts})
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of the POSTs recorded so far.
func (r *alertRecorder) snapshot() []alertPost {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// waitAll waits until Alertmanager has acknowledged an alert in the given
// firing state for every one of endpoints, in POSTs that arrived at or
// after since, or until deadline. Reaching the deadline is no error: the
// result counts the missing alerts.
func (r *alertRecorder) waitAll(ctx context.Context, endpoints []string, firing bool, since, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		acked := firstAcks(r.snapshot(), firing, since)
		missing := 0
		for _, name := range endpoints {
			if _, ok := acked[name]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-r.changed:
		case <-timer.C:
			log.Printf("warning: %d of %d alerts did not reach Alertmanager within %v",
				missing, len(endpoints), deadline.Sub(since))
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
