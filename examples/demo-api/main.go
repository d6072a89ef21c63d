// Command demo-api is a small HTTP API for trying apiwatch without internet
// access. It serves a healthy endpoint, one that fails for one minute in
// every three, a slow one and a few broken ones, all on one port:
//
//	/healthy  200 with a JSON body
//	/flaky    200, except 503 during the second third of each -flaky.period
//	/slow     200 after -slow.delay
//	/error    500
//	/old      301 to /healthy
//
// `make run` starts it on 127.0.0.1:9851, where examples/apiwatch.yml
// expects it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9851", "address to listen on")
	flakyPeriod := flag.Duration("flaky.period", 3*time.Minute,
		"cycle of /flaky: it fails for the second third of each cycle")
	slowDelay := flag.Duration("slow.delay", 1500*time.Millisecond, "time /slow takes to answer")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	server := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(time.Now(), *flakyPeriod, *slowDelay),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		<-ctx.Done()
		server.Close()
	}()
	log.Printf("demo-api listening on http://%s (/healthy, /flaky, /slow, /error, /old)", *addr)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("demo-api stopped")
}

// newHandler returns the demo API. /flaky counts its cycles from start.
func newHandler(start time.Time, flakyPeriod, slowDelay time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, _ *http.Request) {
		// Fails in the second third of each cycle, so a fresh start shows
		// it up first and down a third of a cycle later.
		phase := time.Since(start) % flakyPeriod
		w.Header().Set("Content-Type", "application/json")
		if phase >= flakyPeriod/3 && phase < 2*flakyPeriod/3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"error","detail":"database unreachable"}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		timer := time.NewTimer(slowDelay)
		defer timer.Stop()
		select {
		case <-timer.C:
			w.Header().Set("Content-Type", "application/json")
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
	return mux
}
