package alerting

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Window is a maintenance window: a fixed time range, or a recurring one
// that starts at the times of a cron schedule and lasts Duration. During a
// window the endpoint is still probed, but no new alert fires for it.
type Window struct {
	Start, End time.Time
	Schedule   cron.Schedule
	Duration   time.Duration
}

// activeAt reports whether t falls inside the window.
func (w Window) activeAt(t time.Time) bool {
	if w.Schedule == nil {
		return !t.Before(w.Start) && t.Before(w.End)
	}
	// The latest start at or before t is the first start after t-Duration,
	// if that is not after t.
	s := w.Schedule.Next(t.Add(-w.Duration - time.Nanosecond))
	return !s.IsZero() && !s.After(t)
}

// maxWindowScan bounds the starts of a recurring window examined by lastEnd,
// so that a long outage under a frequent schedule cannot stall a check.
const maxWindowScan = 10000

// lastEnd returns the latest end of the window in (from, to].
func (w Window) lastEnd(from, to time.Time) (time.Time, bool) {
	if w.Schedule == nil {
		if w.End.After(from) && !w.End.After(to) {
			return w.End, true
		}
		return time.Time{}, false
	}
	var last time.Time
	s := w.Schedule.Next(from.Add(-w.Duration))
	for range maxWindowScan {
		if s.IsZero() {
			break
		}
		end := s.Add(w.Duration)
		if end.After(to) {
			break
		}
		if end.After(from) {
			last = end
		}
		s = w.Schedule.Next(s)
	}
	return last, !last.IsZero()
}

// inMaintenance reports whether any window is active at t.
func inMaintenance(windows []Window, t time.Time) bool {
	for _, w := range windows {
		if w.activeAt(t) {
			return true
		}
	}
	return false
}

// fireTime returns the startsAt of an alert for an endpoint that has been
// down since `since` and fires now: since itself, or the end of the latest
// maintenance window that covered part of the outage.
func fireTime(windows []Window, since, now time.Time) time.Time {
	start := since
	for _, w := range windows {
		if end, ok := w.lastEnd(since, now); ok && end.After(start) {
			start = end
		}
	}
	return start
}
