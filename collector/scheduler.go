package collector

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// scheduler keeps every endpoint in a min-heap ordered by its next run time
// and fires them from one goroutine and one timer, however many endpoints
// there are. Dispatch must not block: it starts the probe elsewhere.
type scheduler struct {
	mu    sync.Mutex
	queue runQueue
	wake  chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{wake: make(chan struct{}, 1)}
}

// add schedules e to run next at its first slot after now.
func (s *scheduler) add(e *endpoint, now time.Time) {
	s.mu.Lock()
	e.next = e.sched.next(now)
	heap.Push(&s.queue, e)
	first := e.heapIndex == 0
	s.mu.Unlock()
	if first {
		s.signal()
	}
}

// remove takes e off the schedule.
func (s *scheduler) remove(e *endpoint) {
	s.mu.Lock()
	if e.heapIndex >= 0 {
		heap.Remove(&s.queue, e.heapIndex)
	}
	s.mu.Unlock()
}

// replace gives e a new schedule, taking effect from its next slot after now.
func (s *scheduler) replace(e *endpoint, sched schedule, now time.Time) {
	s.mu.Lock()
	e.sched = sched
	e.next = sched.next(now)
	if e.heapIndex >= 0 {
		heap.Fix(&s.queue, e.heapIndex)
	}
	first := e.heapIndex == 0
	s.mu.Unlock()
	if first {
		s.signal()
	}
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run fires due endpoints until ctx ends. dispatch receives each endpoint
// with the time it was scheduled for.
func (s *scheduler) run(ctx context.Context, dispatch func(e *endpoint, scheduled time.Time)) {
	timer := time.NewTimer(time.Hour)
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

// fireDue dispatches every endpoint whose time has come, moves each to its
// next slot, and returns how long to sleep until the next one is due.
func (s *scheduler) fireDue(dispatch func(e *endpoint, scheduled time.Time)) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.queue) > 0 {
		e := s.queue[0]
		if e.next.After(now) {
			return e.next.Sub(now)
		}
		scheduled := e.next
		e.next = e.sched.next(now)
		heap.Fix(&s.queue, 0)
		dispatch(e, scheduled)
	}
	return time.Hour
}

// runQueue is a container/heap of endpoints by next run time.
type runQueue []*endpoint

func (q runQueue) Len() int           { return len(q) }
func (q runQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q runQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].heapIndex = i
	q[j].heapIndex = j
}

func (q *runQueue) Push(x any) {
	e := x.(*endpoint)
	e.heapIndex = len(*q)
	*q = append(*q, e)
}

func (q *runQueue) Pop() any {
	old := *q
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.heapIndex = -1
	*q = old[:n-1]
	return e
}
