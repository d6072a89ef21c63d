package collector

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler keeps every endpoint in a min-heap ordered by its next run time
// and fires them from one goroutine and one timer, however many endpoints
// there are.
type scheduler struct {
	mu    sync.Mutex
	queue runQueue
	// wake interrupts run's sleep when the earliest run time changes, so
	// that run resets its timer.
	wake chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{wake: make(chan struct{}, 1)}
}

// add schedules e to run next at its first slot after now. An endpoint whose
// schedule never fires stays off the queue.
func (s *scheduler) add(e *endpoint, now time.Time) {
	s.change(func() {
		e.next = e.sched.next(now)
		if !e.next.IsZero() {
			heap.Push(&s.queue, queued{at: e.next.UnixNano(), e: e})
		}
	})
}

// remove takes e off the schedule.
func (s *scheduler) remove(e *endpoint) {
	s.change(func() {
		if e.heapIndex >= 0 {
			heap.Remove(&s.queue, e.heapIndex)
		}
	})
}

// update gives e the schedule sched if it differs from the current one, and
// reports whether it did. The new schedule takes effect from its first slot
// after now. An unchanged schedule keeps e's next run time exactly.
func (s *scheduler) update(e *endpoint, sched schedule, now time.Time) bool {
	changed := false
	s.change(func() {
		if sched.equal(e.sched) {
			return
		}
		changed = true
		e.sched = sched
		e.next = sched.next(now)
		switch {
		case e.next.IsZero() && e.heapIndex >= 0:
			heap.Remove(&s.queue, e.heapIndex)
		case e.next.IsZero():
		case e.heapIndex >= 0:
			s.queue[e.heapIndex].at = e.next.UnixNano()
			heap.Fix(&s.queue, e.heapIndex)
		default:
			heap.Push(&s.queue, queued{at: e.next.UnixNano(), e: e})
		}
	})
	return changed
}

// change runs fn under the lock and wakes run if the earliest run time
// moved, so that its timer is always set for the head of the queue.
func (s *scheduler) change(fn func()) {
	s.mu.Lock()
	before := s.headTime()
	fn()
	after := s.headTime()
	s.mu.Unlock()
	if !before.Equal(after) {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// headTime returns the earliest run time, or the zero time for an empty
// queue. The caller holds s.mu.
func (s *scheduler) headTime() time.Time {
	if len(s.queue) == 0 {
		return time.Time{}
	}
	return s.queue[0].e.next
}

// run fires due endpoints until ctx ends. dispatch receives each endpoint
// with the time it was scheduled for. It is called with the scheduler's lock
// held, so it must not block or call back into the scheduler.
func (s *scheduler) run(ctx context.Context, dispatch func(e *endpoint, scheduled time.Time)) {
	timer := time.NewTimer(idleWait)
	defer timer.Stop()
	for {
		wait := s.fireDue(dispatch)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// idleWait is how long run sleeps when no endpoint is scheduled. Any change
// to the queue wakes it earlier.
const idleWait = time.Hour

// fireDue dispatches every endpoint whose time has come, moves each to its
// first slot after now, and returns how long to sleep until the next one is
// due. Slots missed while the process was stalled are skipped, not caught
// up.
func (s *scheduler) fireDue(dispatch func(e *endpoint, scheduled time.Time)) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	nowNano := now.UnixNano()
	for len(s.queue) > 0 {
		head := &s.queue[0]
		if head.at > nowNano {
			return time.Duration(head.at - nowNano)
		}
		e := head.e
		scheduled := e.next
		e.next = e.sched.next(now)
		if e.next.IsZero() {
			heap.Pop(&s.queue)
		} else {
			head.at = e.next.UnixNano()
			heap.Fix(&s.queue, 0)
		}
		dispatch(e, scheduled)
	}
	return idleWait
}

// runQueue is a container/heap of endpoints by next run time. Each entry
// carries its run time as Unix nanoseconds beside the endpoint, so that the
// comparisons read the queue's own contiguous memory. Following a pointer
// to each endpoint instead missed the cache at 100,000 endpoints, and the
// heap took 4% of the daemon's CPU.
type runQueue []queued

// queued is an entry of runQueue: e.next as Unix nanoseconds, and e.
type queued struct {
	at int64
	e  *endpoint
}

func (q runQueue) Len() int           { return len(q) }
func (q runQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q runQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].e.heapIndex = i
	q[j].e.heapIndex = j
}

func (q *runQueue) Push(x any) {
	it := x.(queued)
	it.e.heapIndex = len(*q)
	*q = append(*q, it)
}

func (q *runQueue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = queued{}
	it.e.heapIndex = -1
	*q = old[:n-1]
	return it
}
