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

// activeAt reports whether t falls inside the window. A window includes
// its start and excludes its end, for fixed and recurring windows alike.
func (w Window) activeAt(t time.Time) bool {
	if w.Schedule == nil {
		return !t.Before(w.Start) && t.Before(w.End)
	}
	// Next returns the first start after t-Duration, so the window that
	// starts there ends after t. t is inside it if it has started.
	s := w.Schedule.Next(t.Add(-w.Duration))
	return !s.IsZero() && !s.After(t)
}

// maxWindowScan bounds the starts of a recurring window that one scan of
// lastEnd examines, so that a frequent schedule cannot stall a check.
const maxWindowScan = 10000

// lastEnd returns the latest end of the window in (from, to].
func (w Window) lastEnd(from, to time.Time) (time.Time, bool) {
	if w.Schedule == nil {
		if w.End.After(from) && !w.End.After(to) {
			return w.End, true
		}
		return time.Time{}, false
	}
	// Only the latest end counts, so scan the most recent span first and
	// widen it until a window ends in it or the span covers (from, to].
	// A long outage under a frequent schedule then needs no scan of every
	// start since the outage began.
	for span := time.Hour; ; span *= 8 {
		// The bound on span keeps it from overflowing.
		if span >= to.Sub(from) || span > maxScanSpan {
			return w.scanEnds(from, to)
		}
		if end, ok := w.scanEnds(to.Add(-span), to); ok {
			return end, true
		}
	}
}

// maxScanSpan is the longest span lastEnd scans before it scans all of
// (from, to].
const maxScanSpan = 100 * 365 * 24 * time.Hour

// scanEnds returns the latest end of the window in (from, to], examining
// at most maxWindowScan starts from the earliest.
func (w Window) scanEnds(from, to time.Time) (time.Time, bool) {
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
