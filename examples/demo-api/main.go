// Command demo-api is a small HTTP API for trying apiwatch without internet
// access. It serves a healthy endpoint, one that fails for one minute in
// every three, a slow one and a few broken ones, all on one port.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9851", "address to listen on")
	flakyPeriod := flag.Duration("flaky.period", 3*time.Minute, "cycle of /flaky: it fails for a third of each cycle")
	slowDelay := flag.Duration("slow.delay", 1500*time.Millisecond, "time /slow takes to answer")
	flag.Parse()

	start := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, _ *http.Request) {
		// Fails in the second third of each cycle, so a fresh start shows
		// it up first and down a minute later.
		phase := time.Since(start) % *flakyPeriod
		if phase >= *flakyPeriod/3 && phase < 2**flakyPeriod/3 {
			http.Error(w, `{"status":"error","detail":"database unreachable"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(*slowDelay):
			fmt.Fprintln(w, `{"status":"ok"}`)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "internal server error", http.StatusInternalServerError)
	})
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/healthy", http.StatusMovedPermanently)
	})
	log.Printf("demo-api listening on http://%s (/healthy, /flaky, /slow, /error, /old)", *addr)
	server := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.ListenAndServe())
}
