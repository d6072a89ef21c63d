package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// targetBody is the response body of a healthy path: small, like a health
// check's JSON.
const targetBody = `{"status":"ok"}` + "\n"

// faults selects which paths return 500 and which respond late. The shares
// are fractions of all paths, from 0 to 1.
type faults struct {
	Fail      float64       `json:"fail"`
	Slow      float64       `json:"slow"`
	SlowDelay time.Duration `json:"slow_delay_ns"`
}

// pathBehaviour is the way a path handles a request.
type pathBehaviour int

const (
	behaveOK pathBehaviour = iota
	behaveFail
	behaveSlow
)

// behaviourOf places path on [0, 1) by a hash, so that failing and slow
// paths spread over all companies rather than filling the first ones.
// Failing paths come from the bottom of the range and slow ones from the
// top, so the two sets never overlap while Fail+Slow <= 1.
func (f faults) behaviourOf(path int) pathBehaviour {
	x := pathFraction(path)
	switch {
	case x < f.Fail:
		return behaveFail
	case x >= 1-f.Slow:
		return behaveSlow
	}
	return behaveOK
}

// pathFraction maps a path number to [0, 1) with the splitmix64 finalizer.
func pathFraction(path int) float64 {
	z := uint64(path) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// targetAddrs is the line the target prints on stdout once it listens.
type targetAddrs struct {
	Admin     string   `json:"admin"`
	Listeners []string `json:"listeners"`
}

// targetServer serves /t/0 … /t/N-1 and records when each was hit.
type targetServer struct {
	paths  int
	hits   *hitLog
	faults atomic.Pointer[faults]
}

func newTargetServer(paths int, f faults) *targetServer {
	s := &targetServer{paths: paths, hits: newHitLog(paths)}
	s.faults.Store(&f)
	return s
}

// serveProbe handles a probe of one path. The hit is recorded first, so
// that its time is the arrival of the request headers.
func (s *targetServer) serveProbe(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UnixNano()
	path, ok := parseTargetPath(r.URL.Path, s.paths)
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.hits.record(path, now)
	switch s.faults.Load().behaviourOf(path) {
	case behaveFail:
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	case behaveSlow:
		t := time.NewTimer(s.faults.Load().SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(targetBody)))
	w.Write([]byte(targetBody))
}

// parseTargetPath returns i for "/t/i" with 0 <= i < paths, written in
// decimal digits without leading zeros.
func parseTargetPath(p string, paths int) (int, bool) {
	rest, ok := strings.CutPrefix(p, "/t/")
	if !ok || rest == "" || len(rest) > 9 || (len(rest) > 1 && rest[0] == '0') {
		return 0, false
	}
	i := 0
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	if i >= paths {
		return 0, false
	}
	return i, true
}

// faultsApplied is the response to POST /faults: the time the target
// switched to the new faults, in Unix nanoseconds. Every request recorded
// after that time got the new behaviour.
type faultsApplied struct {
	At int64 `json:"applied_unix_nano"`
}

// adminHandler serves the harness: GET /hits dumps the hit log, POST /reset
// clears it and POST /faults sets the failing and slow shares.
func (s *targetServer) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hits", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := writeHits(w, s.hits.snapshot()); err != nil {
			log.Printf("Writing the hit dump failed: %v", err)
		}
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) {
		s.hits.reset()
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var f faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, "invalid faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := f.validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.faults.Store(&f)
		applied := faultsApplied{At: time.Now().UnixNano()}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(applied)
	})
	return mux
}

func (f faults) validate() error {
	switch {
	case f.Fail < 0 || f.Slow < 0 || f.Fail+f.Slow > 1 || math.IsNaN(f.Fail+f.Slow):
		return fmt.Errorf("invalid fault shares fail=%v slow=%v: each must be at least 0 "+
			"and their sum at most 1", f.Fail, f.Slow)
	case f.SlowDelay < 0:
		return fmt.Errorf("invalid slow delay %v: must not be negative", f.SlowDelay)
	}
	return nil
}

// runTarget is the target mode: it listens, prints its addresses as one
// JSON line on stdout and serves until SIGTERM or SIGINT.
func runTarget(args []string) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	paths := fs.Int("paths", 1000, "number of paths /t/0 … /t/N-1 to serve")
	listeners := fs.Int("listeners", 8, "number of loopback addresses, 127.0.0.1 upwards, to serve them on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *paths < 0 || *listeners < 1 || *listeners > 250 {
		return fmt.Errorf("invalid -paths %d or -listeners %d: want paths >= 0 and 1 to 250 listeners",
			*paths, *listeners)
	}
	s := newTargetServer(*paths, faults{})

	probeServer := &http.Server{Handler: http.HandlerFunc(s.serveProbe), ReadHeaderTimeout: 10 * time.Second}
	adminServer := &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	adminListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addrs := targetAddrs{Admin: adminListener.Addr().String()}
	go adminServer.Serve(adminListener)
	for i := range *listeners {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			return fmt.Errorf("listening on loopback address %d: %w", i+1, err)
		}
		addrs.Listeners = append(addrs.Listeners, l.Addr().String())
		go probeServer.Serve(l)
	}
	if err := json.NewEncoder(os.Stdout).Encode(addrs); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	probeServer.Shutdown(shutdownCtx)
	adminServer.Shutdown(shutdownCtx)
	return nil
}
