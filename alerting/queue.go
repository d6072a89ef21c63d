package alerting

import (
	"container/list"
	"sync"
)

// queue holds the alerts waiting to be sent to one Alertmanager. It stores
// alert IDs, not payloads: the payload is built when the batch is sent, so
// an alert that changed while it waited (resolved, new annotations) goes out
// in its latest form, and an alert enqueued again while waiting takes one
// slot, not two. So while an Alertmanager is unreachable the queue holds at
// most one entry per active alert.
type queue struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // of *queued, oldest first
	items    map[alertID]*queued
	ready    chan struct{} // signalled when the queue becomes non-empty
}

// queued is one alert waiting in a queue.
type queued struct {
	id alertID
	// transition marks an entry that carries a state change (firing or
	// resolved) rather than a periodic resend. On overflow resends are
	// dropped first.
	transition bool
	// seq changes whenever the entry is enqueued again, so that a send that
	// started before the change does not remove it.
	seq  uint64
	elem *list.Element
}

func newQueue(capacity int) *queue {
	return &queue{
		capacity: capacity,
		order:    list.New(),
		items:    map[alertID]*queued{},
		ready:    make(chan struct{}, 1),
	}
}

// push enqueues id, or refreshes it if it is already waiting. It returns the
// ID dropped to make room, if any: the oldest resend, or the oldest entry if
// every entry is a transition.
func (q *queue) push(id alertID, transition bool, seq uint64) (dropped alertID, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, exists := q.items[id]; exists {
		it.transition = it.transition || transition
		it.seq = seq
		return alertID{}, false
	}
	if q.order.Len() >= q.capacity {
		victim := q.oldestResend()
		if victim == nil {
			victim = q.order.Front().Value.(*queued)
		}
		q.order.Remove(victim.elem)
		delete(q.items, victim.id)
		dropped, ok = victim.id, true
	}
	it := &queued{id: id, transition: transition, seq: seq}
	it.elem = q.order.PushBack(it)
	q.items[id] = it
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return dropped, ok
}

func (q *queue) oldestResend() *queued {
	for e := q.order.Front(); e != nil; e = e.Next() {
		if it := e.Value.(*queued); !it.transition {
			return it
		}
	}
	return nil
}

// batchEntry is an entry taken for sending, with the sequence number it had.
type batchEntry struct {
	id  alertID
	seq uint64
}

// peek returns up to max of the oldest entries without removing them.
func (q *queue) peek(max int) []batchEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]batchEntry, 0, min(max, q.order.Len()))
	for e := q.order.Front(); e != nil && len(out) < max; e = e.Next() {
		it := e.Value.(*queued)
		out = append(out, batchEntry{id: it.id, seq: it.seq})
	}
	return out
}

// ack removes the entries of a sent batch, except those enqueued again since
// the batch was taken, and returns the IDs removed.
func (q *queue) ack(batch []batchEntry) []alertID {
	q.mu.Lock()
	defer q.mu.Unlock()
	removed := make([]alertID, 0, len(batch))
	for _, b := range batch {
		it, ok := q.items[b.id]
		if !ok || it.seq != b.seq {
			continue
		}
		q.order.Remove(it.elem)
		delete(q.items, b.id)
		removed = append(removed, b.id)
	}
	return removed
}

// contains reports whether id is waiting.
func (q *queue) contains(id alertID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.items[id]
	return ok
}

// setCapacity changes the bound for entries pushed from now on.
func (q *queue) setCapacity(capacity int) {
	q.mu.Lock()
	q.capacity = capacity
	q.mu.Unlock()
}

func (q *queue) capacityNow() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.capacity
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.order.Len()
}
