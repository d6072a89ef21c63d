package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
)

// hitShards is the number of locks the hit log spreads its paths over, so
// that concurrent requests for different paths rarely wait on each other.
const hitShards = 64

// hitLog records the arrival time of every request per path, in Unix
// nanoseconds, in memory.
type hitLog struct {
	shards [hitShards]sync.Mutex
	hits   [][]int64
}

func newHitLog(paths int) *hitLog {
	return &hitLog{hits: make([][]int64, paths)}
}

func (h *hitLog) record(path int, unixNano int64) {
	mu := &h.shards[path%hitShards]
	mu.Lock()
	h.hits[path] = append(h.hits[path], unixNano)
	mu.Unlock()
}

// reset deletes every hit recorded so far.
func (h *hitLog) reset() {
	for i := range h.shards {
		h.shards[i].Lock()
	}
	for i := range h.hits {
		h.hits[i] = nil
	}
	for i := range h.shards {
		h.shards[i].Unlock()
	}
}

// snapshot returns a sorted copy of every path's hits. Requests for one
// path can be recorded out of order when they overlap, hence the sort.
func (h *hitLog) snapshot() [][]int64 {
	out := make([][]int64, len(h.hits))
	for i := range h.hits {
		mu := &h.shards[i%hitShards]
		mu.Lock()
		out[i] = slices.Clone(h.hits[i])
		mu.Unlock()
		slices.Sort(out[i])
	}
	return out
}

// The hit dump format is little-endian: a uint32 path count, then for each
// path a uint32 hit count followed by that many int64 Unix nanoseconds.

// writeHits writes hits in the hit dump format.
func writeHits(w io.Writer, hits [][]int64) error {
	bw := bufio.NewWriter(w)
	if err := binary.Write(bw, binary.LittleEndian, uint32(len(hits))); err != nil {
		return err
	}
	for _, times := range hits {
		if err := binary.Write(bw, binary.LittleEndian, uint32(len(times))); err != nil {
			return err
		}
		if err := binary.Write(bw, binary.LittleEndian, times); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// maxDumpPaths and maxDumpHits bound what readHits allocates, so a corrupt
// dump fails instead of exhausting memory.
const (
	maxDumpPaths = 10_000_000
	maxDumpHits  = 100_000_000
)

// readHits reads a dump written by writeHits.
func readHits(r io.Reader) ([][]int64, error) {
	br := bufio.NewReader(r)
	var paths uint32
	if err := binary.Read(br, binary.LittleEndian, &paths); err != nil {
		return nil, fmt.Errorf("reading path count: %w", err)
	}
	if paths > maxDumpPaths {
		return nil, fmt.Errorf("invalid hit dump: %d paths, more than %d", paths, maxDumpPaths)
	}
	hits := make([][]int64, paths)
	total := 0
	for i := range hits {
		var n uint32
		if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("reading hit count of path %d: %w", i, err)
		}
		total += int(n)
		if total > maxDumpHits {
			return nil, fmt.Errorf("invalid hit dump: more than %d hits", maxDumpHits)
		}
		if n == 0 {
			continue
		}
		hits[i] = make([]int64, n)
		if err := binary.Read(br, binary.LittleEndian, hits[i]); err != nil {
			return nil, fmt.Errorf("reading hits of path %d: %w", i, err)
		}
	}
	return hits, nil
}
