// Package web serves apiwatch's HTTP surface: metrics, health and readiness
// probes, the JSON status API and the status page.
package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/apiwatch/apiwatch/alerting"
	"github.com/apiwatch/apiwatch/collector"
)

// Options configures the handler.
type Options struct {
	Logger   *slog.Logger
	Manager  *collector.Manager
	Gatherer prometheus.Gatherer
	// ExternalURL is the URL users reach apiwatch at. The pages link
	// relatively and do not use it yet.
	ExternalURL *url.URL
	// Reloader serves POST /-/reload when EnableLifecycle is set, and the
	// company admin API when EnableAdminAPI is set. Both are off by default,
	// as in Prometheus, because they change what apiwatch does.
	Reloader        Reloader
	EnableLifecycle bool
	EnableAdminAPI  bool
	// EndpointMetrics, if set, writes the per-endpoint series after the
	// Gatherer's, as collector.Manager.WriteEndpointMetrics does for a
	// manager built with StreamEndpointMetrics.
	EndpointMetrics func(io.Writer) error
}

// Handler routes apiwatch's HTTP endpoints.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the handler for all of apiwatch's HTTP endpoints.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	if opts.EndpointMetrics != nil {
		h.mux.Handle("GET /metrics", h.metricsHandler())
	} else {
		h.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError),
			EnableOpenMetrics: true,
		}))
	}
	h.mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("apiwatch is healthy.\n"))
	})
	h.mux.HandleFunc("GET /-/ready", h.ready)
	h.mux.HandleFunc("GET /api/v1/status", h.apiStatus)
	h.mux.HandleFunc("GET /api/v1/endpoints/{company}/{endpoint}", h.apiEndpoint)
	h.mux.HandleFunc("GET /{$}", h.statusPage)
	h.mux.HandleFunc("GET /endpoints/{company}/{endpoint}", h.endpointPage)
	h.routeLifecycle()
	// Go's profiler, as Prometheus serves it, behind the same listener
	// settings (TLS, basic auth) as everything else.
	h.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	h.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	h.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	h.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	h.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) ready(w http.ResponseWriter, _ *http.Request) {
	if !h.opts.Manager.Ready() {
		http.Error(w, "apiwatch is not ready: no configuration loaded yet.", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("apiwatch is ready.\n"))
}

// endpointJSON is an endpoint as the status API returns it. Times are RFC
// 3339 in UTC, and null when the event has not happened.
type endpointJSON struct {
	Company              string            `json:"company"`
	Endpoint             string            `json:"endpoint"`
	URL                  string            `json:"url"`
	Labels               map[string]string `json:"labels,omitempty"`
	State                string            `json:"state"`
	Since                *time.Time        `json:"since"`
	LastCheck            *time.Time        `json:"last_check"`
	LastSuccess          *time.Time        `json:"last_success"`
	LastFailure          *time.Time        `json:"last_failure"`
	LastStatusCode       int               `json:"last_status_code"`
	LastReason           string            `json:"last_reason"`
	LastError            string            `json:"last_error"`
	LatencySeconds       float64           `json:"latency_seconds"`
	FailureReason        string            `json:"failure_reason"`
	FailureMessage       string            `json:"failure_message"`
	DegradedReason       string            `json:"degraded_reason"`
	DegradedMessage      string            `json:"degraded_message"`
	ConsecutiveFailures  int               `json:"consecutive_failures"`
	ConsecutiveSuccesses int               `json:"consecutive_successes"`
	// InMaintenance is set while a maintenance window of the endpoint or
	// its company is active: the endpoint is probed, but fires no alert.
	InMaintenance bool `json:"in_maintenance"`
	// Probes and SuccessfulProbes count since apiwatch started or a reload
	// added the endpoint. Their ratio is the uptime on the status page.
	Probes           uint64 `json:"probes"`
	SuccessfulProbes uint64 `json:"successful_probes"`
}

func toJSON(s collector.EndpointStatus, now time.Time) endpointJSON {
	e := s.Target.Endpoint
	return endpointJSON{
		InMaintenance:        alerting.InMaintenance(s.Target.Company, e, now),
		Company:              s.Company,
		Endpoint:             s.Endpoint,
		URL:                  e.URL.String(),
		Labels:               e.Labels,
		State:                s.State.String(),
		Since:                timePtr(s.Since),
		LastCheck:            timePtr(s.LastCheck),
		LastSuccess:          timePtr(s.LastSuccess),
		LastFailure:          timePtr(s.LastFailure),
		LastStatusCode:       s.LastStatusCode,
		LastReason:           s.LastReason.String(),
		LastError:            s.LastError,
		LatencySeconds:       s.LastDuration.Seconds(),
		FailureReason:        s.FailureReason.String(),
		FailureMessage:       s.FailureMessage,
		DegradedReason:       s.DegradedReason.String(),
		DegradedMessage:      s.DegradedMessage,
		ConsecutiveFailures:  s.ConsecutiveFailures,
		ConsecutiveSuccesses: s.ConsecutiveSuccesses,
		Probes:               s.Probes,
		SuccessfulProbes:     s.SuccessfulProbes,
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (h *Handler) apiStatus(w http.ResponseWriter, r *http.Request) {
	statuses := h.opts.Manager.Statuses(r.URL.Query().Get("company"))
	out := struct {
		Endpoints []endpointJSON `json:"endpoints"`
	}{Endpoints: make([]endpointJSON, len(statuses))}
	now := time.Now()
	for i, s := range statuses {
		out.Endpoints[i] = toJSON(s, now)
	}
	h.writeJSON(w, out)
}

// checkJSON is one recent check. A degraded check is also a success.
type checkJSON struct {
	Time            time.Time `json:"time"`
	DurationSeconds float64   `json:"duration_seconds"`
	Success         bool      `json:"success"`
	Degraded        bool      `json:"degraded"`
	StatusCode      int       `json:"status_code"`
	Reason          string    `json:"reason"`
	Retries         int       `json:"retries"`
	State           string    `json:"state"`
}

func (h *Handler) apiEndpoint(w http.ResponseWriter, r *http.Request) {
	key := collector.Key{Company: r.PathValue("company"), Endpoint: r.PathValue("endpoint")}
	s, checks, err := h.opts.Manager.Endpoint(key)
	if err != nil {
		msg := fmt.Sprintf("endpoint %q of company %q not found", key.Endpoint, key.Company)
		h.writeError(w, http.StatusNotFound, msg)
		return
	}
	out := struct {
		endpointJSON
		Checks []checkJSON `json:"checks"`
	}{endpointJSON: toJSON(s, time.Now()), Checks: make([]checkJSON, len(checks))}
	for i, c := range checks {
		out.Checks[i] = checkJSON{
			Time: c.Time.UTC(), DurationSeconds: c.Duration.Seconds(), Success: c.Success, Degraded: c.Degraded,
			StatusCode: c.StatusCode, Reason: c.Reason.String(), Retries: c.Retries, State: c.State.String(),
		}
	}
	h.writeJSON(w, out)
}

// errorJSON is the body of an API error response. Problems lists the
// configuration problems that made a change invalid, one per entry.
type errorJSON struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

func (h *Handler) writeError(w http.ResponseWriter, code int, msg string, problems ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	h.encodeJSON(w, errorJSON{Error: msg, Problems: problems})
}

func (h *Handler) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	h.encodeJSON(w, v)
}

func (h *Handler) encodeJSON(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		h.opts.Logger.Debug("Writing JSON response failed", "err", err)
	}
}
