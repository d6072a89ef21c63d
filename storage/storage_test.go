package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readBucket returns the contents of bucket as strings.
func readBucket(t *testing.T, db *DB, bucket string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.ForEach(bucket, func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatalf("ForEach(%q): %v", bucket, err)
	}
	return out
}

func checkBucket(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("bucket holds %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("bucket[%q] = %q, want %q (bucket %v)", k, got[k], v, got)
		}
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatalf("database file: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("database file mode %v, want 0600", mode)
	}
}

func TestWriteAndForEach(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	if got := readBucket(t, db, "missing"); len(got) != 0 {
		t.Errorf("missing bucket holds %v, want nothing", got)
	}
	steps := []struct {
		name    string
		puts    map[string]string
		deletes []string
		want    map[string]string
	}{
		{"puts", map[string]string{"a": "1", "b": "2", "c": "3"}, nil, map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"overwrite and delete", map[string]string{"a": "10"}, []string{"b", "absent"}, map[string]string{"a": "10", "c": "3"}},
		{"put wins over delete", map[string]string{"c": "30"}, []string{"c"}, map[string]string{"a": "10", "c": "30"}},
		{"nothing", nil, nil, map[string]string{"a": "10", "c": "30"}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			puts := map[string][]byte{}
			for k, v := range step.puts {
				puts[k] = []byte(v)
			}
			if err := db.Write("b1", puts, step.deletes); err != nil {
				t.Fatalf("Write: %v", err)
			}
			checkBucket(t, readBucket(t, db, "b1"), step.want)
		})
	}
	if got := readBucket(t, db, "b2"); len(got) != 0 {
		t.Errorf("other bucket holds %v, want nothing", got)
	}
}

func TestForEachStopsAtError(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write("b", map[string][]byte{"a": nil, "b": nil, "c": nil}, nil); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var seen []string
	err = db.ForEach("b", func(k, _ []byte) error {
		seen = append(seen, string(k))
		if string(k) == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("ForEach error = %v, want the callback's error", err)
	}
	if strings.Join(seen, ",") != "a,b" {
		t.Errorf("visited %v, want a,b in key order", seen)
	}
}

func TestWriteSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Write("b", map[string][]byte{"k": []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkBucket(t, readBucket(t, db, "b"), map[string]string{"k": "v"})
}

func TestOpenLockedDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	second, err := OpenWithOptions(dir, Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		second.Close()
		db.Close()
		t.Fatalf("second Open of a locked database succeeded")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second Open waited %v despite a 200ms lock timeout", waited)
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v is not ErrLocked", err)
	}
	path := filepath.Join(dir, FileName)
	for _, want := range []string{path, "locked by another process", "200ms", "--storage.path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// Closing releases the lock.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = OpenWithOptions(dir, Options{LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db.Close()
}

func TestOpenCorruptFile(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
	}{
		{"text", []byte(strings.Repeat("not a database\n", 1000))},
		{"zeros", make([]byte, 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(dir)
			if err == nil {
				db.Close()
				t.Fatalf("Open of a corrupt file succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v is not ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move the file away") {
				t.Errorf("error %q does not name the file and the remedy", err)
			}
		})
	}
}

func TestOpenDirectoryIsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(file); err == nil {
		db.Close()
		t.Fatalf("Open with a file as the directory succeeded")
	} else if !strings.Contains(err.Error(), "creating storage directory") {
		t.Errorf("error %q does not say the directory could not be created", err)
	}
}

func TestBatchConcurrentWriters(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("k%02d", i)
			errs <- db.Batch("b", map[string][]byte{key: []byte(key)}, []string{"gone"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Batch: %v", err)
		}
	}
	got := readBucket(t, db, "b")
	if len(got) != writers {
		t.Fatalf("bucket holds %d keys, want %d: %v", len(got), writers, got)
	}
	for k, v := range got {
		if k != v {
			t.Errorf("bucket[%q] = %q, want %q", k, v, k)
		}
	}
}

func TestWriteAfterFileRemoved(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(dir string) error
	}{
		{"directory deleted", os.RemoveAll},
		{"file replaced", func(dir string) error {
			path := filepath.Join(dir, FileName)
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.WriteFile(path, nil, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Write("b", map[string][]byte{"k": []byte("v")}, nil); err != nil {
				t.Fatalf("Write before removal: %v", err)
			}
			if err := tc.remove(dir); err != nil {
				t.Fatal(err)
			}
			if err := db.Write("b", map[string][]byte{"k": []byte("w")}, nil); !errors.Is(err, ErrRemoved) {
				t.Errorf("Write after removal = %v, want ErrRemoved", err)
			}
			if err := db.Batch("b", map[string][]byte{"k": []byte("w")}, nil); !errors.Is(err, ErrRemoved) {
				t.Errorf("Batch after removal = %v, want ErrRemoved", err)
			}
		})
	}
}
