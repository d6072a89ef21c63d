package alerting

import (
	"encoding/json"
	"sync"
)

// alertBucket is the storage bucket of alerts.
const alertBucket = "alerts"

// saver orders the writes of alerts to the database. Only one write runs at
// a time. Each writes the current form of every alert marked dirty since
// the previous write began, so the last write of an alert is its latest
// form even when two changes to it are saved concurrently.
// Changes that arrive during a write are merged into the next one, which
// saves a disk sync per change when many endpoints fail at once.
type saver struct {
	// writeMu is held for a whole write.
	writeMu sync.Mutex

	mu    sync.Mutex
	dirty map[alertID]struct{}
	// lastErr is the result of the latest write, returned to callers
	// whose changes that write took.
	lastErr error
}

// save writes the current form of each alert, or deletes it if it is gone,
// and returns once that is on disk.
func (n *Notifier) save(ids []alertID) error {
	if n.opts.DB == nil {
		return nil
	}
	s := &n.saver
	s.mu.Lock()
	for _, id := range ids {
		s.dirty[id] = struct{}{}
	}
	s.mu.Unlock()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	dirty := s.dirty
	s.dirty = map[alertID]struct{}{}
	if len(dirty) == 0 {
		// A write that began after ids were marked has taken them and
		// finished, because it held writeMu until then.
		err := s.lastErr
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()

	err := n.write(dirty)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	return err
}

// write stores the current form of the dirty alerts in one transaction.
func (n *Notifier) write(dirty map[alertID]struct{}) error {
	puts := map[string][]byte{}
	var deletes []string
	n.mu.Lock()
	for id := range dirty {
		a, ok := n.alerts[id]
		if !ok {
			deletes = append(deletes, id.storageKey())
			continue
		}
		b, err := json.Marshal(a)
		if err != nil {
			n.mu.Unlock()
			return err
		}
		puts[id.storageKey()] = b
	}
	n.mu.Unlock()
	// Write rather than Batch: writes are already serialised and merged
	// here, and Batch would add its collection delay to each of them.
	return n.opts.DB.Write(alertBucket, puts, deletes)
}

// restore loads the saved alerts. They are all sent when Run starts, so
// each Alertmanager gets a fresh lease.
func (n *Notifier) restore() error {
	if n.opts.DB == nil {
		return nil
	}
	return n.opts.DB.ForEach(alertBucket, func(k, v []byte) error {
		a := &alert{}
		if err := json.Unmarshal(v, a); err != nil || a.ID.storageKey() != string(k) {
			n.logger.Warn("Ignoring unreadable saved alert", "key", string(k), "err", err)
			return nil
		}
		n.alerts[a.ID] = a
		return nil
	})
}
