package config

import (
	"fmt"
	"strings"
	"time"
	// The binary carries the time zone database, so that time_zone and
	// CRON_TZ= work on a base image without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronSchedule is a parsed schedule and time_zone pair.
type cronSchedule struct {
	sched cron.Schedule
	// gap is the shortest time between two runs, which bounds the timeout.
	gap time.Duration
	// field and msg describe the problem if the pair is invalid.
	field, msg string
}

// parseSchedule parses a cron expression, with an optional CRON_TZ= prefix,
// evaluated in timeZone, or in UTC if neither names a zone. Results are
// cached by expression and zone, because large configurations repeat a few
// schedules many times and the gap takes a few hundred steps to find.
func (l *loader) parseSchedule(spec, timeZone string) *cronSchedule {
	key := spec + "\x00" + timeZone
	if s, ok := l.schedules[key]; ok {
		return s
	}
	s := newCronSchedule(spec, timeZone)
	l.schedules[key] = s
	return s
}

func newCronSchedule(spec, timeZone string) *cronSchedule {
	invalid := func(field, format string, args ...any) *cronSchedule {
		return &cronSchedule{field: field, msg: fmt.Sprintf(format, args...)}
	}
	spec = strings.TrimSpace(spec)
	hasPrefix := strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
	switch {
	case timeZone != "" && hasPrefix:
		return invalid("time_zone", "conflicts with the CRON_TZ= prefix of schedule: set the zone in one place")
	case hasPrefix && !strings.Contains(spec, " "):
		return invalid("schedule",
			"invalid cron expression %q: CRON_TZ= must be followed by a space and an expression", spec)
	case timeZone != "":
		if _, err := time.LoadLocation(timeZone); err != nil {
			return invalid("time_zone", "unknown time zone %q: use an IANA name such as Europe/Berlin", timeZone)
		}
		spec = "CRON_TZ=" + timeZone + " " + spec
	case !hasPrefix:
		spec = "CRON_TZ=UTC " + spec
	}
	sched, err := parseCron(spec)
	if err != nil {
		return invalid("schedule", "invalid cron expression: %v", err)
	}
	gap, ok := shortestGap(sched)
	if !ok {
		return invalid("schedule", "the schedule never runs")
	}
	if gap < time.Duration(MinInterval) {
		// Only @every can go below a minute.
		return invalid("schedule", "runs every %s, more often than the minimum interval %s", Duration(gap), MinInterval)
	}
	return &cronSchedule{sched: sched, gap: gap}
}

// parseCron parses spec and turns a panic inside the cron package into an
// error, because spec comes from the user.
func parseCron(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("cannot parse the expression")
		}
	}()
	return cronParser.Parse(spec)
}

// shortestGap returns the smallest gap between the first runs of sched
// after a fixed start, and false if it never runs. The gap varies (for
// example "0 9 * * 1-5" or across a daylight saving change), so it takes the
// minimum over 200 runs: five weeks of an hourly schedule, or the first half
// of a year for a daily one, which spans the spring change in the northern
// hemisphere.
func shortestGap(sched cron.Schedule) (time.Duration, bool) {
	gap := time.Duration(1<<63 - 1)
	t := sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if t.IsZero() {
		return 0, false
	}
	for range 200 {
		next := sched.Next(t)
		if next.IsZero() {
			break
		}
		gap = min(gap, next.Sub(t))
		t = next
	}
	return gap, true
}
