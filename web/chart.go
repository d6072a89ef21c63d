package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

// Geometry of the latency chart, in SVG user units. The plot area spans
// chartLeft to chartRight and chartTop to chartBottom; the margins hold
// the axis labels.
const (
	chartWidth  = 640
	chartHeight = 200
	chartLeft   = 56
	chartRight  = 628
	chartTop    = 12
	chartBottom = 170
)

// chartView is the latency chart of an endpoint's recent checks, oldest on
// the left. Coordinates are formatted for the SVG attributes.
type chartView struct {
	Width, Height int
	Left, Right   int
	Top, Bottom   int
	// Title and Desc are the chart's text alternative.
	Title string
	Desc  string
	// Line is the points attribute of the polyline through every check.
	Line   string
	Marks  []chartMark
	YMax   string
	YMaxAt string
	// First and Last label the ends of the time axis.
	First, Last string
}

// chartMark is one check on the chart. Kind is "ok", "degraded" or
// "failed", and Shape the SVG path that draws it: a dot, a triangle or a
// cross, so that the result reads without colour.
type chartMark struct {
	Kind  string
	Shape string
	Label string
}

// buildChart draws checks, oldest first. It returns nil without checks.
func buildChart(checks []collector.Check) *chartView {
	if len(checks) == 0 {
		return nil
	}
	top := niceCeiling(maxDuration(checks))
	c := &chartView{
		Width: chartWidth, Height: chartHeight,
		Left: chartLeft, Right: chartRight, Top: chartTop, Bottom: chartBottom,
		YMax:   latency(top),
		YMaxAt: strconv.Itoa(chartTop + 4),
		First:  checks[0].Time.UTC().Format(time.TimeOnly),
		Last:   checks[len(checks)-1].Time.UTC().Format(time.TimeOnly),
		Marks:  make([]chartMark, len(checks)),
	}
	var line strings.Builder
	for i, ch := range checks {
		x := chartX(i, len(checks))
		y := chartBottom - float64(chartBottom-chartTop)*ch.Duration.Seconds()/top.Seconds()
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(coord(x) + "," + coord(y))
		c.Marks[i] = newMark(ch, x, y)
	}
	c.Line = line.String()
	c.Title, c.Desc = describeChart(checks)
	return c
}

// chartX spreads n checks evenly over the plot area, a single one in the
// middle.
func chartX(i, n int) float64 {
	if n == 1 {
		return (chartLeft + chartRight) / 2
	}
	return chartLeft + float64(chartRight-chartLeft)*float64(i)/float64(n-1)
}

func newMark(ch collector.Check, x, y float64) chartMark {
	at := ch.Time.UTC().Format(time.TimeOnly) + " UTC: " + latency(ch.Duration)
	switch {
	case !ch.Success:
		return chartMark{Kind: "failed", Label: at + ", failed (" + ch.Reason.String() + ")",
			Shape: "M" + coord(x-4) + " " + coord(y-4) + "l8 8m0-8l-8 8"}
	case ch.Degraded:
		return chartMark{Kind: "degraded", Label: at + ", degraded (" + ch.Reason.String() + ")",
			Shape: "M" + coord(x) + " " + coord(y-5) + "l5 9h-10z"}
	}
	return chartMark{Kind: "ok", Label: at + ", success",
		Shape: "M" + coord(x-3) + " " + coord(y) + "a3 3 0 1 0 6 0a3 3 0 1 0-6 0"}
}

// describeChart returns the chart's title and a description that gives in
// words what the chart shows.
func describeChart(checks []collector.Check) (title, desc string) {
	title = "Latency of the last " + strconv.Itoa(len(checks)) + " checks"
	if len(checks) == 1 {
		title = "Latency of the last check"
	}
	lo, hi := checks[0].Duration, checks[0].Duration
	failed, degraded := 0, 0
	for _, ch := range checks {
		lo, hi = min(lo, ch.Duration), max(hi, ch.Duration)
		if !ch.Success {
			failed++
		} else if ch.Degraded {
			degraded++
		}
	}
	desc = "From " + displayTime(checks[0].Time) + " to " + displayTime(checks[len(checks)-1].Time) +
		": lowest " + latency(lo) + ", highest " + latency(hi) + ", last " +
		latency(checks[len(checks)-1].Duration) + ". " + strconv.Itoa(failed) + " failed, marked with a cross; " +
		strconv.Itoa(degraded) + " degraded, marked with a triangle. The table of recent checks lists the same data."
	return title, desc
}

func maxDuration(checks []collector.Check) time.Duration {
	var m time.Duration
	for _, ch := range checks {
		m = max(m, ch.Duration)
	}
	return m
}

// niceCeiling rounds d up to 1, 2 or 5 times a power of ten of
// milliseconds, at least 1 ms, for the top of the latency axis.
func niceCeiling(d time.Duration) time.Duration {
	step := time.Millisecond
	for {
		for _, f := range []time.Duration{1, 2, 5} {
			if d <= f*step {
				return f * step
			}
		}
		step *= 10
	}
}

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
