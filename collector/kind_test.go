package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// namedProber returns a result whose Message is its name.
type namedProber string

func (p namedProber) Probe(context.Context, *Target) Result {
	return Result{Success: true, Message: string(p)}
}

func TestKindProberDispatch(t *testing.T) {
	prober := NewKindProber(namedProber("http"), namedProber("tcp"), namedProber("grpc"))
	tests := []struct {
		url  string
		want string
	}{
		{url: "http://127.0.0.1:8080/health", want: "http"},
		{url: "https://127.0.0.1/health", want: "http"},
		{url: "tcp://127.0.0.1:6379", want: "tcp"},
		{url: "grpc://127.0.0.1:50051", want: "grpc"},
		{url: "grpcs://127.0.0.1:443", want: "grpc"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, "url: "+tt.url))
			if res.Message != tt.want {
				t.Errorf("probed by %q, want %q", res.Message, tt.want)
			}
		})
	}
}

func TestNewKindProberRejectsNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewKindProber with a nil gRPC prober did not panic")
		}
	}()
	NewKindProber(namedProber("http"), namedProber("tcp"), nil)
}

// TestManagerProbesEveryKind runs the manager with the real probers on an
// HTTP, a TCP and two gRPC endpoints, and checks that scheduling, state and
// metrics treat every kind alike.
func TestManagerProbesEveryKind(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer web.Close()
	cache := startTCPServer(t, "127.0.0.1:0", nil, answerPing)
	payments := startGRPCServer(t, registerHealth(newHealthServer()))
	cfg := loadYAMLConfig(t, fmt.Sprintf(`
global:
  interval: 1s
  timeout: 900ms
companies:
  - name: acme
    endpoints:
      - name: web
        url: %s/health
      - name: cache
        url: tcp://%s
        tcp: {send: "PING\r\n", expect: '^\+PONG'}
      - name: payments
        url: grpc://%s
        grpc: {service: payments}
      - name: ledger
        url: grpc://%s
        grpc: {service: ledger}
`, web.URL, cache, payments, payments))

	transitions := make(chan Transition, 8)
	prober := NewKindProber(
		NewHTTPProber(HTTPProberOptions{}),
		NewTCPProber(TCPProberOptions{}),
		NewGRPCProber(GRPCProberOptions{}),
	)
	m, reg := newTestManager(t, Options{Prober: prober, OnTransition: func(tr Transition) { transitions <- tr }})
	m.ApplyConfig(cfg)
	stop := startManager(m)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// Every endpoint leaves the unknown state after its first probe, within
	// one interval of the start.
	got := map[string]Transition{}
	timeout := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case tr := <-transitions:
			got[tr.Endpoint] = tr
		case <-timeout:
			t.Fatalf("transitions after 10s: %v, want one for each of 4 endpoints", got)
		}
	}
	want := map[string]State{"web": StateUp, "cache": StateUp, "payments": StateUp, "ledger": StateDown}
	for name, state := range want {
		tr := got[name]
		if tr.From != StateUnknown || tr.To != state {
			t.Errorf("%s: %s -> %s, want unknown -> %s", name, tr.From, tr.To, state)
		}
	}
	if r := got["ledger"].Result; r.Reason != ReasonStatus ||
		r.Message != `health status NOT_SERVING for service "ledger", expected SERVING` {
		t.Errorf("ledger failed with %s: %q, want status: health status NOT_SERVING ...", r.Reason, r.Message)
	}

	const wantUp = `
# HELP probe_up Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict.
# TYPE probe_up gauge
probe_up{company="acme",endpoint="cache"} 1
probe_up{company="acme",endpoint="ledger"} 0
probe_up{company="acme",endpoint="payments"} 1
probe_up{company="acme",endpoint="web"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantUp), "probe_up"); err != nil {
		t.Error(err)
	}
}
