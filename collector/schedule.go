package collector

import (
	"hash/fnv"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/apiwatch/apiwatch/config"
)

// schedule yields the run times of an endpoint.
type schedule interface {
	// next returns the first run time strictly after t.
	next(t time.Time) time.Time
	// equal reports whether o yields the same run times.
	equal(o schedule) bool
}

// intervalSchedule runs every interval at a fixed offset from the Unix
// epoch. The offset comes from a hash of the endpoint's identity, so that
// endpoints with the same interval spread evenly over it, and each keeps its
// slot across restarts and reloads.
type intervalSchedule struct {
	interval time.Duration
	offset   time.Duration
}

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

// cronSchedule runs at the times of a cron expression.
type cronSchedule struct {
	spec  string
	zone  string
	sched cron.Schedule
}

func (s cronSchedule) next(t time.Time) time.Time { return s.sched.Next(t) }

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

// hash returns a stable 64-bit hash of the key.
func (k Key) hash() uint64 {
	h := fnv.New64a()
	h.Write([]byte(k.Company))
	h.Write([]byte{0})
	h.Write([]byte(k.Endpoint))
	return h.Sum64()
}
