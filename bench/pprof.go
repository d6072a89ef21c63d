package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

// pprofSeconds returns the length in whole seconds of a CPU profile asked
// for as length and taken within window: at most the window, at least 1 s.
func pprofSeconds(length, window time.Duration) int {
	return max(int(min(length, window)/time.Second), 1)
}

// startPprof fetches a CPU profile of length from apiwatch's
// /debug/pprof/profile into out, starting now, if length is not 0 and the
// prober is apiwatch. It returns a function that waits for the fetch. The
// profiler's own cost, small at its 100 Hz sampling, counts in the
// window's CPU.
func startPprof(client *http.Client, rp *runningProber, length, window time.Duration, out string) func() {
	if length == 0 || rp.metricsURL == "" {
		return func() {}
	}
	seconds := pprofSeconds(length, window)
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(rp.metricsURL, "/metrics"), seconds)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fetchProfile(client, url, time.Duration(seconds)*time.Second+30*time.Second, out); err != nil {
			log.Printf("warning: no CPU profile in %s: %v", out, err)
			return
		}
		log.Printf("CPU profile in %s (go tool pprof -top %s)", out, out)
	}()
	return func() { <-done }
}

// fetchProfile writes the body of a GET of url to out, within timeout.
func fetchProfile(client *http.Client, url string, timeout time.Duration, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// The shared client's own timeout could end a long profile early, so
	// this request uses a copy without one and relies on ctx.
	noTimeout := *client
	noTimeout.Timeout = 0
	resp, err := noTimeout.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
