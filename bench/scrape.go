package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one fetch of a prober's /metrics.
type scrape struct {
	Duration  time.Duration
	GzipBytes int64 // bytes on the wire
	Bytes     int64 // bytes after decompression
	Series    int   // sample lines
	figures
}

// figures are the values the harness reads from apiwatch's own metrics.
type figures struct {
	// Lag holds the cumulative buckets of apiwatch_scheduler_lag_seconds.
	Lag []bucket
	// Probes is apiwatch_probes_total summed over results, and Skipped is
	// apiwatch_probes_skipped_total.
	Probes, Skipped float64
	// ReloadTime is apiwatch_config_last_reload_success_timestamp_seconds,
	// in Unix seconds.
	ReloadTime float64
	// NotificationsSent, NotificationsErrors and NotificationsDropped are
	// apiwatch_notifications_{sent,errors,dropped}_total summed over
	// Alertmanagers.
	NotificationsSent, NotificationsErrors, NotificationsDropped float64
}

// scrapeMetrics fetches url the way Prometheus does, in the text format
// with gzip, and times the whole exchange.
func scrapeMetrics(client *http.Client, url string) (scrape, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return scrape{}, err
	}
	// Setting Accept-Encoding keeps the transport from decompressing on
	// its own, so the wire size can be counted.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Accept-Encoding", "gzip")

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	wire, err := io.ReadAll(resp.Body)
	s := scrape{Duration: time.Since(start), GzipBytes: int64(len(wire))}
	if err != nil {
		return scrape{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("scraping %s: %s", url, resp.Status)
	}

	text := wire
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			return scrape{}, fmt.Errorf("decompressing %s: %w", url, err)
		}
		if text, err = io.ReadAll(zr); err != nil {
			return scrape{}, fmt.Errorf("decompressing %s: %w", url, err)
		}
	}

	s.Bytes = int64(len(text))
	own, series := selectOwnMetrics(text)
	s.Series = series
	s.figures, err = parseFigures(own)
	if err != nil {
		return scrape{}, fmt.Errorf("parsing %s: %w", url, err)
	}
	return s, nil
}

// selectOwnMetrics returns the lines of a text exposition that belong to
// apiwatch_ metric families, comments included, and counts the sample lines
// of the whole exposition. Parsing only these lines keeps the harness from
// building a tree of every endpoint's series.
func selectOwnMetrics(text []byte) ([]byte, int) {
	var own bytes.Buffer
	series := 0
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		name := line
		if bytes.HasPrefix(line, []byte("#")) {
			f := bytes.Fields(line)
			if len(f) < 3 {
				continue
			}
			name = f[2]
		} else if len(line) > 0 {
			series++
		}
		if bytes.HasPrefix(name, []byte("apiwatch_")) {
			own.Write(line)
			own.WriteByte('\n')
		}
	}
	return own.Bytes(), series
}

// parseFigures parses apiwatch's own metric families in the text format.
func parseFigures(text []byte) (figures, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return figures{}, err
	}
	var f figures
	if lag, ok := families["apiwatch_scheduler_lag_seconds"]; ok && len(lag.GetMetric()) > 0 {
		h := lag.GetMetric()[0].GetHistogram()
		for _, b := range h.GetBucket() {
			count := float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
			f.Lag = append(f.Lag, bucket{UpperBound: b.GetUpperBound(), Count: count})
		}
		if n := len(f.Lag); n == 0 || !math.IsInf(f.Lag[n-1].UpperBound, +1) {
			total := float64(h.GetSampleCount()) + h.GetSampleCountFloat()
			f.Lag = append(f.Lag, bucket{UpperBound: math.Inf(+1), Count: total})
		}
	}
	if probes, ok := families["apiwatch_probes_total"]; ok {
		for _, m := range probes.GetMetric() {
			f.Probes += m.GetCounter().GetValue()
		}
	}
	if skipped, ok := families["apiwatch_probes_skipped_total"]; ok && len(skipped.GetMetric()) > 0 {
		f.Skipped = skipped.GetMetric()[0].GetCounter().GetValue()
	}
	if reload, ok := families["apiwatch_config_last_reload_success_timestamp_seconds"]; ok && len(reload.GetMetric()) > 0 {
		f.ReloadTime = reload.GetMetric()[0].GetGauge().GetValue()
	}
	for name, dst := range map[string]*float64{
		"apiwatch_notifications_sent_total":    &f.NotificationsSent,
		"apiwatch_notifications_errors_total":  &f.NotificationsErrors,
		"apiwatch_notifications_dropped_total": &f.NotificationsDropped,
	} {
		for _, m := range families[name].GetMetric() {
			*dst += m.GetCounter().GetValue()
		}
	}
	return f, nil
}

// describeMissing lists the figures a scrape lacked, for a warning.
func (f figures) describeMissing() string {
	var missing []string
	if len(f.Lag) == 0 {
		missing = append(missing, "apiwatch_scheduler_lag_seconds")
	}
	if f.Probes == 0 {
		missing = append(missing, "apiwatch_probes_total")
	}
	return strings.Join(missing, ", ")
}
