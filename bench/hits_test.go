package main

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestHitDumpRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		hits [][]int64
	}{
		{"no paths", [][]int64{}},
		{"paths without hits", [][]int64{nil, nil, nil}},
		{"mixed", [][]int64{{1, 2, 3}, nil, {-5, 1 << 62}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeHits(&buf, tt.hits); err != nil {
				t.Fatalf("writeHits: %v", err)
			}
			got, err := readHits(&buf)
			if err != nil {
				t.Fatalf("readHits: %v", err)
			}
			if len(got) != len(tt.hits) {
				t.Fatalf("readHits returned %d paths, want %d", len(got), len(tt.hits))
			}
			for i := range got {
				if len(got[i]) != len(tt.hits[i]) || (len(got[i]) > 0 && !reflect.DeepEqual(got[i], tt.hits[i])) {
					t.Errorf("path %d = %v, want %v", i, got[i], tt.hits[i])
				}
			}
		})
	}
}

func TestReadHitsRejects(t *testing.T) {
	var valid bytes.Buffer
	writeHits(&valid, [][]int64{{1, 2, 3}})
	huge := binary.LittleEndian.AppendUint32(nil, maxDumpPaths+1)
	tests := []struct {
		name    string
		dump    []byte
		wantErr string
	}{
		{"empty", nil, "reading path count"},
		{"truncated hits", valid.Bytes()[:valid.Len()-4], "reading hits of path 0"},
		{"missing hit count", binary.LittleEndian.AppendUint32(nil, 2), "reading hit count of path 0"},
		{"too many paths", huge, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readHits(bytes.NewReader(tt.dump))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("readHits error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHitLogSnapshotSortsAndReset(t *testing.T) {
	h := newHitLog(3)
	h.record(2, 30)
	h.record(2, 10)
	h.record(2, 20)
	h.record(0, 5)
	got := h.snapshot()
	want := [][]int64{{5}, {}, {10, 20, 30}}
	for i := range want {
		if len(got[i]) != len(want[i]) || (len(want[i]) > 0 && !reflect.DeepEqual(got[i], want[i])) {
			t.Errorf("snapshot path %d = %v, want %v", i, got[i], want[i])
		}
	}
	h.reset()
	for i, times := range h.snapshot() {
		if len(times) != 0 {
			t.Errorf("after reset, path %d has hits %v", i, times)
		}
	}
}

func TestHitLogConcurrentRecords(t *testing.T) {
	const paths, perPath = 200, 50
	h := newHitLog(paths)
	var wg sync.WaitGroup
	for p := range paths {
		wg.Go(func() {
			for i := range perPath {
				h.record(p, int64(perPath-i))
			}
		})
	}
	wg.Wait()
	for p, times := range h.snapshot() {
		if len(times) != perPath {
			t.Fatalf("path %d has %d hits, want %d", p, len(times), perPath)
		}
		if times[0] != 1 || times[perPath-1] != perPath {
			t.Fatalf("path %d hits not sorted: first %d, last %d", p, times[0], times[perPath-1])
		}
	}
}
