package web

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

//go:embed templates
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ago": ago,
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"ms": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).ParseFS(templateFS, "templates/*.html"))

type companyView struct {
	Name      string
	Endpoints []collector.EndpointStatus
}

func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("company")
	statuses := h.opts.Manager.Statuses(filter)
	var companies []companyView
	for _, s := range statuses {
		if n := len(companies); n == 0 || companies[n-1].Name != s.Company {
			companies = append(companies, companyView{Name: s.Company})
		}
		c := &companies[len(companies)-1]
		c.Endpoints = append(c.Endpoints, s)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err := pageTemplates.ExecuteTemplate(w, "status.html", map[string]any{
		"Companies": companies,
		"Filter":    filter,
	})
	if err != nil {
		h.opts.Logger.Error("Rendering status page failed", "err", err)
	}
}

// endpointPage shows one endpoint with its recent checks, newest first.
// Alerts link here through their generatorURL.
func (h *Handler) endpointPage(w http.ResponseWriter, r *http.Request) {
	key := collector.Key{Company: r.PathValue("company"), Endpoint: r.PathValue("endpoint")}
	s, checks, err := h.opts.Manager.Endpoint(key)
	if err != nil {
		http.Error(w, fmt.Sprintf("endpoint %q of company %q not found", key.Endpoint, key.Company), http.StatusNotFound)
		return
	}
	slices.Reverse(checks)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err = pageTemplates.ExecuteTemplate(w, "endpoint.html", map[string]any{
		"S":      s,
		"URL":    s.Target.Endpoint.URL.String(),
		"Checks": checks,
	})
	if err != nil {
		h.opts.Logger.Error("Rendering endpoint page failed", "err", err)
	}
}

// ago formats the time since t in words, for example "3 minutes ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return plural(int(d.Seconds()), "second") + " ago"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	}
	return plural(int(d.Hours()/24), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
