package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/apiwatch/apiwatch/alerting"
	"github.com/apiwatch/apiwatch/collector"
)

//go:embed templates
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":           ago,
	"datetime":      datetime,
	"displayTime":   displayTime,
	"latency":       latency,
	"seconds":       seconds,
	"uptimeRatio":   uptimeRatio,
	"uptimePercent": uptimePercent,
	"stateMark":     stateMark,
	"checkMark":     checkMark,
	"moment":        newMoment,
	"maxListed":     func() int { return maxListedEndpoints },
}).ParseFS(templateFS, "templates/*.html"))

// refreshSeconds is how often the pages reload themselves.
const refreshSeconds = 15

// maxListedEndpoints bounds the endpoint rows of the status page, so that
// its size and render time stay bounded whatever the number of endpoints.
// Without a company filter and above this number, companies whose
// endpoints are all up show only their summary line, and so do companies
// with problems once their rows would pass the bound. Each summary links to
// the company's own page, which lists its endpoints this many per page.
const maxListedEndpoints = 1000

// summary counts endpoints by state.
type summary struct {
	Endpoints, Up, Degraded, Down, Unknown int
}

func (s *summary) add(state collector.State) {
	s.Endpoints++
	switch state {
	case collector.StateUp:
		s.Up++
	case collector.StateDegraded:
		s.Degraded++
	case collector.StateDown:
		s.Down++
	default:
		s.Unknown++
	}
}

// companyView is one company's section of the status page. Rows is empty
// when the section shows only its summary.
type companyView struct {
	Name    string
	Summary summary
	Rows    []endpointRow
	// statuses is the company's part of the status snapshot, not a copy.
	statuses []collector.EndpointStatus
}

// endpointRow is the part of an endpoint's status that the status page
// shows. Its fields are copied, not embedded as in collector.EndpointStatus,
// because text/template finds an embedded field through a reflection search
// that allocates on every use.
type endpointRow struct {
	Company, Endpoint             string
	State                         collector.State
	Since, LastCheck, LastFailure time.Time
	LastDuration                  time.Duration
	Probes, SuccessfulProbes      uint64
	Problem                       problem
	// InMaintenance is set while a maintenance window holds back the
	// endpoint's alerts.
	InMaintenance bool
}

func newRow(s *collector.EndpointStatus, now time.Time) endpointRow {
	return endpointRow{
		InMaintenance:    alerting.InMaintenance(s.Target.Company, s.Target.Endpoint, now),
		Company:          s.Company,
		Endpoint:         s.Endpoint,
		State:            s.State,
		Since:            s.Since,
		LastCheck:        s.LastCheck,
		LastFailure:      s.LastFailure,
		LastDuration:     s.LastDuration,
		Probes:           s.Probes,
		SuccessfulProbes: s.SuccessfulProbes,
		Problem:          endpointProblem(s),
	}
}

// statusView is the data of the status page.
type statusView struct {
	Now     time.Time
	Refresh int
	// Filter is the company named by ?company=, or "".
	Filter    string
	Total     summary
	Companies []companyView
	// Collapsed counts the companies shown by their summary only.
	Collapsed int
	// Page and Pages number the pages of a company with more than
	// maxListedEndpoints endpoints; First and Last number the rows shown,
	// and Previous and Next are the neighbouring pages, or 0.
	Page, Pages, First, Last int
	Previous, Next           int
}

// errNoSuchPage is returned for a page number past a company's last page.
var errNoSuchPage = errors.New("no such page")

// buildStatusView groups statuses, sorted by company, into sections, and
// chooses the rows to list: the requested page of the one company when
// filter is set, and otherwise as collapse does.
func buildStatusView(statuses []collector.EndpointStatus, filter string, page int, now time.Time) (statusView, error) {
	v := statusView{Now: now, Refresh: refreshSeconds, Filter: filter, Page: 1, Pages: 1}
	start := 0
	for i := range statuses {
		v.Total.add(statuses[i].State)
		last := i == len(statuses)-1 || statuses[i+1].Company != statuses[i].Company
		if !last {
			continue
		}
		v.Companies = append(v.Companies, companyView{Name: statuses[i].Company, statuses: statuses[start : i+1]})
		start = i + 1
	}
	for i := range v.Companies {
		c := &v.Companies[i]
		for j := range c.statuses {
			c.Summary.add(c.statuses[j].State)
		}
	}
	switch {
	case filter != "" && len(v.Companies) == 1:
		if err := v.paginate(page); err != nil {
			return v, err
		}
	case v.Total.Endpoints > maxListedEndpoints:
		v.collapse()
	}
	for i := range v.Companies {
		c := &v.Companies[i]
		c.Rows = make([]endpointRow, len(c.statuses))
		for j := range c.statuses {
			c.Rows[j] = newRow(&c.statuses[j], now)
		}
	}
	return v, nil
}

// paginate keeps the rows of page, counted from 1, of the only company.
func (v *statusView) paginate(page int) error {
	c := &v.Companies[0]
	n := len(c.statuses)
	v.Pages = max(1, (n+maxListedEndpoints-1)/maxListedEndpoints)
	if page > v.Pages {
		return errNoSuchPage
	}
	v.Page = page
	if page > 1 {
		v.Previous = page - 1
	}
	if page < v.Pages {
		v.Next = page + 1
	}
	from, to := (page-1)*maxListedEndpoints, min(page*maxListedEndpoints, n)
	c.statuses = c.statuses[from:to]
	v.First, v.Last = from+1, to
	return nil
}

// collapse keeps the endpoint rows of companies with an endpoint that is
// not up, in company order, while their total stays within
// maxListedEndpoints, and reduces every other company to its summary.
func (v *statusView) collapse() {
	listed := 0
	for i := range v.Companies {
		c := &v.Companies[i]
		if c.Summary.Up < c.Summary.Endpoints && listed+c.Summary.Endpoints <= maxListedEndpoints {
			listed += c.Summary.Endpoints
			continue
		}
		c.statuses = nil
		v.Collapsed++
	}
}

func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	filter := query.Get("company")
	page := 1
	if text := query.Get("page"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 {
			http.Error(w, fmt.Sprintf("invalid page %q: use a whole number from 1", text), http.StatusBadRequest)
			return
		}
		page = n
	}
	view, err := buildStatusView(h.opts.Manager.Statuses(filter), filter, page, time.Now())
	if err != nil {
		http.Error(w, fmt.Sprintf("page %d of company %q not found: it has %d pages", page, filter, view.Pages),
			http.StatusNotFound)
		return
	}
	code := http.StatusOK
	if filter != "" && len(view.Companies) == 0 {
		code = http.StatusNotFound
	}
	h.render(w, code, "status.html", view)
}

// pageCSP is the Content-Security-Policy of the pages. They need nothing
// but their own inline styles, so the policy forbids every script and every
// external resource.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// render writes a page. Errors come after the status line has been sent,
// so they are only logged: at debug level when the client went away, and
// as errors when a template failed.
func (h *Handler) render(w http.ResponseWriter, code int, name string, data any) {
	header := w.Header()
	header.Set("Content-Type", "text/html; charset=utf-8")
	header.Set("Content-Security-Policy", pageCSP)
	header.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	cw := &checkedWriter{w: w}
	err := pageTemplates.ExecuteTemplate(cw, name, data)
	switch {
	case cw.err != nil:
		h.opts.Logger.Debug("Writing page failed", "page", name, "err", cw.err)
	case err != nil:
		h.opts.Logger.Error("Rendering page failed", "page", name, "err", err)
	}
}

// checkedWriter records the first write error, which distinguishes a client
// that went away from a template that failed.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
