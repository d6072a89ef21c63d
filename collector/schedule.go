package collector

import (
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/apiwatch/apiwatch/config"
)

// schedule yields the run times of an endpoint.
type schedule interface {
	// next returns the first run time strictly after t, or the zero time if
	// there is none.
	next(t time.Time) time.Time
	// equal reports whether o yields the same run times.
	equal(o schedule) bool
}

// intervalSchedule runs every interval at a fixed offset from the Unix
// epoch: at offset + k*interval for every integer k. The offset comes from a
// hash of the endpoint's key, so that endpoints with the same interval
// spread evenly over it, and each keeps its slot across restarts and
// reloads.
type intervalSchedule struct {
	interval time.Duration
	offset   time.Duration
}

// newIntervalSchedule returns the schedule of key. The interval must be
// positive, which config.LoadFile ensures.
func newIntervalSchedule(key Key, interval time.Duration) intervalSchedule {
	return intervalSchedule{interval: interval, offset: time.Duration(key.hash() % uint64(interval))}
}

func (s intervalSchedule) next(t time.Time) time.Time {
	n := t.UnixNano() - int64(s.offset)
	iv := int64(s.interval)
	k := n / iv
	if n < 0 && n%iv != 0 {
		k-- // floor division for times before the offset
	}
	return time.Unix(0, (k+1)*iv+int64(s.offset))
}

func (s intervalSchedule) equal(o schedule) bool {
	other, ok := o.(intervalSchedule)
	return ok && other == s
}

// cronSchedule runs at the times of a cron expression, evaluated in the
// endpoint's time_zone, or in UTC without one (config.LoadFile computes the
// shortest gap between runs in UTC too).
//
// NOTE: robfig/cron v3.0.1 skips a fixed time that falls into the hour a
// daylight saving change removes, so 30 2 * * * in Europe/Berlin does not
// run on the last Sunday of March. It runs such a time twice in the hour
// that repeats. Schedules with a wildcard or step hour, such as
// */5 * * * *, keep an even pace across both changes.
type cronSchedule struct {
	spec  string
	zone  string
	sched cron.Schedule
}

func (s cronSchedule) next(t time.Time) time.Time {
	// A schedule without a location is evaluated in the location of its
	// argument, which would be the machine's local zone.
	return s.sched.Next(t.UTC())
}

func (s cronSchedule) equal(o schedule) bool {
	other, ok := o.(cronSchedule)
	return ok && other.spec == s.spec && other.zone == s.zone
}

func scheduleFor(key Key, e *config.Endpoint) schedule {
	if c := e.Cron(); c != nil {
		return cronSchedule{spec: e.Schedule, zone: e.TimeZone, sched: c}
	}
	return newIntervalSchedule(key, time.Duration(e.Interval))
}

// hash returns a stable 64-bit FNV-1a hash of the key. It decides interval
// offsets, so changing it moves every endpoint's slot.
func (k Key) hash() uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Company))
	h.Write([]byte{0})
	h.Write([]byte(k.Endpoint))
	return h.Sum64()
}
