package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/apiwatch/apiwatch/alerting"
	"github.com/apiwatch/apiwatch/collector"
)

// endpointView is the data of an endpoint's page.
type endpointView struct {
	Now      time.Time
	Refresh  int
	S        collector.EndpointStatus
	URL      string
	Settings settingsView
	// Chart is nil before the first check.
	Chart *chartView
	// Checks are the recent checks, newest first.
	Checks []collector.Check
	// InMaintenance is set while a maintenance window holds back the
	// endpoint's alerts.
	InMaintenance bool
}

// notFoundView is the data of the page for an unknown endpoint.
type notFoundView struct {
	Refresh  int
	Company  string
	Endpoint string
}

// endpointPage shows one endpoint: its state, settings, a latency chart and
// its recent checks. Alerts link here through their generatorURL.
func (h *Handler) endpointPage(w http.ResponseWriter, r *http.Request) {
	key := collector.Key{Company: r.PathValue("company"), Endpoint: r.PathValue("endpoint")}
	s, checks, err := h.opts.Manager.Endpoint(key)
	if err != nil {
		h.render(w, http.StatusNotFound, "notfound.html",
			notFoundView{Refresh: refreshSeconds, Company: key.Company, Endpoint: key.Endpoint})
		return
	}
	chart := buildChart(checks)
	slices.Reverse(checks)
	now := time.Now()
	h.render(w, http.StatusOK, "endpoint.html", endpointView{
		InMaintenance: alerting.InMaintenance(s.Target.Company, s.Target.Endpoint, now),
		Now:           now,
		Refresh:       refreshSeconds,
		S:             s,
		URL:           s.Target.Endpoint.URL.String(),
		Settings:      describeSettings(s.Target.Company, s.Target.Endpoint),
		Chart:         chart,
		Checks:        checks,
	})
}
