package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// logFollower reads the lines that a child appends to its log file.
type logFollower struct {
	f       *os.File
	partial []byte   // the start of a line not yet ended by a newline
	pending []string // lines read but not yet handled
	// applied holds the counts of the last "Endpoints applied" line, which
	// apiwatch logs just before "Configuration reloaded".
	applied map[string]string
}

// followLog opens the log at path and skips what it holds so far.
func followLog(path string) (*logFollower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	return &logFollower{f: f}, nil
}

func (l *logFollower) close() { l.f.Close() }

// read adds the lines completed since the last call to l.pending.
func (l *logFollower) read() error {
	b, err := io.ReadAll(l.f)
	if err != nil {
		return err
	}
	b = append(l.partial, b...)
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		l.partial = b
		return nil
	}
	l.partial = bytes.Clone(b[end+1:])
	l.pending = append(l.pending, strings.Split(string(b[:end]), "\n")...)
	return nil
}

// reloadEvent is one successful reload as apiwatch logged it.
type reloadEvent struct {
	logged   time.Time // the line's time, to the millisecond
	seen     time.Time // when the harness read the line
	duration time.Duration
	// added, kept and removed are -1 when no "Endpoints applied" line
	// came before the reload's line.
	added, kept, removed int
}

// waitReload waits until deadline for apiwatch to log a successful reload
// that ended at or after since. It fails at once when apiwatch logs that a
// reload failed. Reloads that ended before since are skipped.
func (l *logFollower) waitReload(ctx context.Context, since, deadline time.Time) (reloadEvent, error) {
	for {
		if err := l.read(); err != nil {
			return reloadEvent{}, err
		}
		for len(l.pending) > 0 {
			line := l.pending[0]
			l.pending = l.pending[1:]
			ev, ok, err := l.handle(line)
			if err != nil {
				return reloadEvent{}, err
			}
			if ok && !ev.logged.Before(since.Truncate(time.Millisecond)) {
				ev.seen = time.Now()
				return ev, nil
			}
		}
		if time.Now().After(deadline) {
			return reloadEvent{}, fmt.Errorf("apiwatch logged no successful reload within %v; see %s",
				reloadWait, l.f.Name())
		}
		if err := sleep(ctx, logPollInterval); err != nil {
			return reloadEvent{}, err
		}
	}
}

// countReloads returns the number of successful reloads logged and not yet
// handled, and fails on a failed reload.
func (l *logFollower) countReloads() (int, error) {
	if err := l.read(); err != nil {
		return 0, err
	}
	n := 0
	for _, line := range l.pending {
		_, ok, err := l.handle(line)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	l.pending = nil
	return n, nil
}

// handle parses one line of apiwatch's log. It returns the reload event of
// a "Configuration reloaded" line, and an error for a failed reload.
func (l *logFollower) handle(line string) (reloadEvent, bool, error) {
	kv := parseLogfmt(line)
	switch msg := kv["msg"]; msg {
	case "Endpoints applied":
		l.applied = kv
	case "Configuration reloaded":
		ev, err := parseReloadEvent(kv, l.applied)
		l.applied = nil
		return ev, err == nil, err
	case "Invalid configuration, keeping the previous one",
		"Reloading the configuration failed, keeping the previous one":
		return reloadEvent{}, false, fmt.Errorf("apiwatch rejected the generated configuration: %s", line)
	}
	return reloadEvent{}, false, nil
}

// parseReloadEvent reads the time and duration of a "Configuration
// reloaded" line, and the counts of the "Endpoints applied" line before it,
// if any.
func parseReloadEvent(kv, applied map[string]string) (reloadEvent, error) {
	ev := reloadEvent{added: -1, kept: -1, removed: -1}
	var err error
	if ev.logged, err = time.Parse(time.RFC3339Nano, kv["time"]); err != nil {
		return ev, fmt.Errorf("invalid time in apiwatch's reload line: %w", err)
	}
	if ev.duration, err = time.ParseDuration(kv["duration"]); err != nil {
		return ev, fmt.Errorf("invalid duration in apiwatch's reload line: %w", err)
	}
	if applied != nil {
		for key, dst := range map[string]*int{"added": &ev.added, "kept": &ev.kept, "removed": &ev.removed} {
			n, err := strconv.Atoi(applied[key])
			if err != nil {
				return ev, fmt.Errorf("invalid %s count in apiwatch's %q line: %w", key, "Endpoints applied", err)
			}
			*dst = n
		}
	}
	return ev, nil
}

// parseLogfmt splits a logfmt line, as log/slog's text handler writes it,
// into keys and values. Quoted values are unquoted, and a key without a
// value maps to "".
func parseLogfmt(line string) map[string]string {
	out := map[string]string{}
	i := 0
	for i < len(line) {
		if line[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != '=' && line[j] != ' ' {
			j++
		}
		key := line[i:j]
		if j == len(line) || line[j] == ' ' {
			out[key] = ""
			i = j
			continue
		}
		value, rest := cutLogfmtValue(line[j+1:])
		out[key] = value
		i = len(line) - len(rest)
	}
	return out
}

// cutLogfmtValue returns the value at the start of s and what follows it.
func cutLogfmtValue(s string) (value, rest string) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			return s, ""
		}
		return s[:end], s[end:]
	}
	for k := 1; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case '"':
			if v, err := strconv.Unquote(s[:k+1]); err == nil {
				return v, s[k+1:]
			}
			return s[1:k], s[k+1:]
		}
	}
	return s[1:], "" // an unterminated quote runs to the end of the line
}

// startupTime returns the time from started to apiwatch's "Starting
// apiwatch" line in the log at path, which apiwatch writes once it has
// loaded and applied its configuration and opened its storage. It returns
// 0 when the log has no such line, as at --log.level=warn.
func startupTime(path string, started time.Time) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		kv := parseLogfmt(sc.Text())
		if kv["msg"] != "Starting apiwatch" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, kv["time"])
		if err != nil {
			return 0, fmt.Errorf("invalid time in apiwatch's start line: %w", err)
		}
		return t.Sub(started), nil
	}
	return 0, sc.Err()
}
