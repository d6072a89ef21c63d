package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// statusBucket is the storage bucket of endpoint statuses. Keys are
// company + NUL + endpoint, values a Status as JSON.
const statusBucket = "endpoint_status"

func storageKey(k Key) string { return k.Company + "\x00" + k.Endpoint }

func parseStorageKey(s string) (Key, bool) {
	company, endpoint, ok := strings.Cut(s, "\x00")
	return Key{Company: company, Endpoint: endpoint}, ok
}

// restore reads the saved statuses into m.restored. A record that cannot be
// decoded is logged and skipped, so one bad record costs only its own
// endpoint's history.
func (m *Manager) restore() error {
	if m.opts.DB == nil {
		return nil
	}
	err := m.opts.DB.ForEach(statusBucket, func(k, v []byte) error {
		key, ok := parseStorageKey(string(k))
		if !ok {
			m.logger.Warn("Ignoring saved status with an invalid key", "key", fmt.Sprintf("%q", k))
			return nil
		}
		var s Status
		if err := json.Unmarshal(v, &s); err != nil {
			m.logger.Warn("Ignoring unreadable saved status", "company", key.Company, "endpoint", key.Endpoint, "err", err)
			return nil
		}
		m.restored[key] = s
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading saved endpoint statuses: %w", err)
	}
	return nil
}

// saveLoop writes urgent status changes every SaveInterval, and at once
// after a transition, and every change at least every FullSaveInterval.
// Healthy probes of endpoints that stay up change only timestamps and
// counters; writing those every SaveInterval would rewrite nearly every
// endpoint each time, for little a restart needs.
func (m *Manager) saveLoop(ctx context.Context) {
	ticker := time.NewTicker(m.opts.SaveInterval)
	defer ticker.Stop()
	var lastErr string
	var lastLogged time.Time
	lastFull := time.Now()
	for {
		all := false
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if time.Since(lastFull) >= m.opts.FullSaveInterval {
				all, lastFull = true, time.Now()
			}
		case <-m.flushNow:
		}
		err := m.saveChanges(all)
		switch {
		case err == nil && lastErr != "":
			m.logger.Info("Saving endpoint statuses works again")
			lastErr = ""
		case err != nil && (err.Error() != lastErr || time.Since(lastLogged) >= saveErrorLogInterval):
			// A full disk fails every save; log a repeated error once per
			// interval, while apiwatch_state_save_errors_total counts all.
			m.logger.Error("Saving endpoint statuses failed; retrying", "err", err)
			lastErr, lastLogged = err.Error(), time.Now()
		}
	}
}

// saveErrorLogInterval is how often a save error that repeats is logged.
const saveErrorLogInterval = 5 * time.Minute

// save writes every status changed since it was last saved.
func (m *Manager) save() error { return m.saveChanges(true) }

// saveChanges writes the statuses changed since they were last saved, all
// of them or only the urgent ones, and deletes those of removed endpoints,
// in one transaction. After a failed write the same changes are retried by
// the next save. Calls never overlap, because saveLoop ends before Run's
// last save.
func (m *Manager) saveChanges(all bool) error {
	if m.opts.DB == nil {
		return nil
	}
	m.mu.Lock()
	deletes := m.pendingDeletes
	m.pendingDeletes = map[Key]struct{}{}
	eps := make([]*endpoint, 0, len(m.endpoints))
	for _, e := range m.endpoints {
		eps = append(eps, e)
	}
	m.mu.Unlock()

	type written struct {
		e       *endpoint
		version uint64
	}
	var (
		puts      = map[string][]byte{}
		saved     []written
		encodeErr []error
	)
	for _, e := range eps {
		b, version, err := e.marshalIfChanged(all)
		if err != nil {
			encodeErr = append(encodeErr, fmt.Errorf("encoding status of %s: %w", e.key, err))
			continue
		}
		if b != nil {
			puts[storageKey(e.key)] = b
			saved = append(saved, written{e, version})
		}
	}
	dels := make([]string, 0, len(deletes))
	for k := range deletes {
		dels = append(dels, storageKey(k))
	}
	if len(puts) == 0 && len(dels) == 0 {
		return errors.Join(encodeErr...)
	}

	if err := m.opts.DB.Write(statusBucket, puts, dels); err != nil {
		m.metrics.saveErrors.Inc()
		m.mu.Lock()
		for k := range deletes {
			// A key added back since then gets its fresh status written
			// instead, which replaces the old one.
			if e, ok := m.endpoints[k]; ok {
				e.markChanged()
			} else {
				m.pendingDeletes[k] = struct{}{}
			}
		}
		m.mu.Unlock()
		err = fmt.Errorf("writing %d statuses and %d deletions: %w", len(puts), len(dels), err)
		return errors.Join(append(encodeErr, err)...)
	}
	for _, w := range saved {
		w.e.markSaved(w.version)
	}
	return errors.Join(encodeErr...)
}
