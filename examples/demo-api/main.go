// Command demo-api is a small API for trying apiwatch without internet
// access. Its HTTP port serves a healthy endpoint, one that fails for one
// minute in every three, a slow one and a few broken ones:
//
//	/healthy      200 with a JSON body
//	/flaky        200, except 503 during the second third of each -flaky.period
//	/slow         200 after -slow.delay
//	/error        500
//	/old          301 to /healthy
//	/api/status   200, gzip-compressed JSON with a queue depth, and X-Request-Id
//	/api/orders   POST with "Authorization: Bearer demo-token": 201, else 401
//	/api/inventory 200 with {"status":"degraded"}
//
// It also answers PING with +PONG on a TCP port, and serves the gRPC health
// checking protocol on another, with demo.Orders SERVING and demo.Billing
// NOT_SERVING. `make run` starts it on 127.0.0.1:9851, 9852 and 9853, where
// examples/apiwatch.yml expects it.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:9851", "address of the HTTP API")
	tcpAddr := flag.String("tcp.listen", "127.0.0.1:9852", "address of the PING/+PONG TCP service")
	grpcAddr := flag.String("grpc.listen", "127.0.0.1:9853", "address of the gRPC health service")
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
	tcpListener, err := net.Listen("tcp", *tcpAddr)
	if err != nil {
		log.Fatal(err)
	}
	go servePing(tcpListener)
	grpcListener, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		log.Fatal(err)
	}
	grpcServer := newGRPCServer()
	go grpcServer.Serve(grpcListener)
	go func() {
		<-ctx.Done()
		server.Close()
		tcpListener.Close()
		grpcServer.Stop()
	}()
	log.Printf("demo-api listening on http://%s, tcp://%s and grpc://%s", *addr, *tcpAddr, *grpcAddr)
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
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, _ *http.Request) {
		// Compressed whether or not the client asked, as some servers do:
		// apiwatch decodes it before the JSON checks.
		depth := int(time.Since(start)/time.Second) % 50
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("X-Request-Id", fmt.Sprintf("req-%d", time.Now().UnixNano()))
		gz := gzip.NewWriter(w)
		fmt.Fprintf(gz, `{"status":"ok","queue":{"depth":%d}}`+"\n", depth)
		gz.Close()
	})
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer demo-token" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"error":"missing or wrong bearer token"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintln(w, `{"accepted":true}`)
	})
	mux.HandleFunc("/api/inventory", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"degraded","detail":"replica lag 42s"}`)
	})
	return mux
}

// servePing answers every line "PING" with "+PONG", as Redis does, until l
// is closed.
func servePing(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			scanner := bufio.NewScanner(conn)
			for scanner.Scan() {
				if strings.TrimSpace(scanner.Text()) == "PING" {
					conn.Write([]byte("+PONG\r\n"))
				}
			}
		}()
	}
}

// newGRPCServer returns a gRPC server with the standard health service:
// the server and demo.Orders are SERVING, demo.Billing is NOT_SERVING.
func newGRPCServer() *grpc.Server {
	s := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("demo.Orders", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("demo.Billing", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s, h)
	return s
}
