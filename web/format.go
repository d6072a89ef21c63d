package web

import (
	"strconv"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

// datetimeLayout formats the datetime attribute of <time>: UTC with at most
// three fractional digits, the precision HTML allows.
const datetimeLayout = "2006-01-02T15:04:05.999Z07:00"

// displayLayout formats times for reading.
const displayLayout = "2006-01-02 15:04:05 MST"

// datetime returns t as a <time> datetime attribute value.
func datetime(t time.Time) string { return t.UTC().Format(datetimeLayout) }

// displayTime returns t in UTC for reading, to the second.
func displayTime(t time.Time) string { return t.UTC().Format(displayLayout) }

// ago returns the time from t to now in words, such as "3 minutes ago".
// A t after now, which a clock step can cause, also reads as "just now".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return plural(int(d/time.Second), "second") + " ago"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// latency returns a probe duration for reading: to the millisecond, or to
// the microsecond below one millisecond.
func latency(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// seconds returns d in seconds for a machine-readable value attribute, with
// as many digits as the status API's latency_seconds.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
}

// uptimeRatio returns the share of successful probes, from 0 to 1, with as
// many digits as needed. It is "" without probes.
func uptimeRatio(successes, probes uint64) string {
	if probes == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(successes)/float64(probes), 'g', -1, 64)
}

// uptimePercent returns the share of successful probes as a percentage,
// rounded down to two decimals so that a single failure never reads as
// 100%. It is "" without probes.
func uptimePercent(successes, probes uint64) string {
	if probes == 0 {
		return ""
	}
	// Integer arithmetic rounds down exactly; a float product such as
	// 0.29*10000 can land just below the true value.
	hundredths := successes * 10000 / probes
	whole, frac := hundredths/100, hundredths%100
	if frac == 0 {
		return strconv.FormatUint(whole, 10) + "%"
	}
	text := strconv.FormatUint(whole, 10) + "." + strconv.FormatUint(frac/10, 10)
	if frac%10 != 0 {
		text += strconv.FormatUint(frac%10, 10)
	}
	return text + "%"
}

// problem is the reason and message shown for an endpoint: those of its
// degraded state while it is degraded, else those of its last failure.
type problem struct {
	Reason  string
	Message string
}

func endpointProblem(s *collector.EndpointStatus) problem {
	if s.State == collector.StateDegraded {
		return problem{Reason: s.DegradedReason.String(), Message: s.DegradedMessage}
	}
	return problem{Reason: s.FailureReason.String(), Message: s.FailureMessage}
}

// mark is the icon, colour and word that show a state or a check result.
// State chooses the icon and the colour.
type mark struct {
	State string
	Word  string
}

func stateMark(s collector.State) mark { return mark{State: s.String(), Word: s.String()} }

// checkMark shows a successful check as "success" with the up icon, a
// degraded one as "degraded" and a failed one as "failure" with the down
// icon.
func checkMark(c collector.Check) mark {
	switch {
	case !c.Success:
		return mark{State: "down", Word: "failure"}
	case c.Degraded:
		return mark{State: "degraded", Word: "degraded"}
	}
	return mark{State: "up", Word: "success"}
}

// moment is a time to show and the time the page is rendered, for the
// "when" template.
type moment struct {
	Now time.Time
	T   time.Time
}

func newMoment(now, t time.Time) moment { return moment{Now: now, T: t} }
