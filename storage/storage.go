// Package storage keeps apiwatch's state on disk, so that a restart, even
// after a crash, knows which endpoints were down and which alerts were
// firing. It wraps a bbolt database: every write is one atomic, durable
// transaction, and the file lock keeps two daemons off one directory.
package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the storage directory.
const FileName = "apiwatch.db"

// DefaultLockTimeout is how long Open waits for another process to release
// the database.
const DefaultLockTimeout = 5 * time.Second

// ErrLocked is returned by Open when another process, or another DB in this
// process, holds the database.
var ErrLocked = errors.New("database is locked by another process")

// ErrRemoved is returned by writes after the database file was deleted or
// replaced while open: the writes would go to a file no restart can read.
var ErrRemoved = errors.New("database file was removed or replaced while apiwatch was running")

// ErrCorrupt is returned by Open when the file is not a readable bbolt
// database.
var ErrCorrupt = errors.New("database file is corrupt or not an apiwatch database")

// Options configures Open.
type Options struct {
	// LockTimeout is how long to wait for the file lock. Zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// DB is an open state database.
type DB struct {
	bolt *bolt.DB
	// info identifies the file opened, to notice when the path no longer
	// leads to it.
	info os.FileInfo
}

// Open opens or creates the database in dir with default options.
func Open(dir string) (*DB, error) { return OpenWithOptions(dir, Options{}) }

// OpenWithOptions opens or creates the database in dir, creating dir if
// needed. It fails with ErrLocked after opts.LockTimeout if another process
// holds the database, and with ErrCorrupt if the file cannot be read.
func OpenWithOptions(dir string, opts Options) (*DB, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating storage directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("opening %s: %w after waiting %s: stop the other apiwatch that uses this --storage.path, or choose another directory",
			path, ErrLocked, opts.LockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid),
		errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, fmt.Errorf("opening %s: %w (%v): move the file away to start with no saved state",
			path, ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &DB{bolt: db, info: info}, nil
}

// checkFile reports ErrRemoved when the database's path no longer leads to
// the open file, for example after the storage directory was deleted.
func (db *DB) checkFile() error {
	info, err := os.Stat(db.bolt.Path())
	if err != nil || !os.SameFile(info, db.info) {
		return fmt.Errorf("%w: %s; restart apiwatch to create a new one, the state since the last restart is lost", ErrRemoved, db.bolt.Path())
	}
	return nil
}

// Close closes the database and releases its file lock.
func (db *DB) Close() error { return db.bolt.Close() }

// ForEach calls fn for every key in bucket, in key order, and stops at the
// first error fn returns. A missing bucket has no keys. The slices passed to
// fn are valid only until fn returns.
func (db *DB) ForEach(bucket string, fn func(key, value []byte) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
}

// Write removes deletes and then stores puts in bucket, in one durable
// transaction: either all of it is on disk when Write returns nil, or none
// of it. A key in both lists ends up stored.
func (db *DB) Write(bucket string, puts map[string][]byte, deletes []string) error {
	if err := db.checkFile(); err != nil {
		return err
	}
	return db.bolt.Update(func(tx *bolt.Tx) error { return write(tx, bucket, puts, deletes) })
}

// Batch does what Write does, but lets bbolt merge calls made at the same
// time from several goroutines into one transaction, which saves a disk sync
// per call. A call waits up to bbolt's MaxBatchDelay (10ms by default)
// for others to join.
func (db *DB) Batch(bucket string, puts map[string][]byte, deletes []string) error {
	if err := db.checkFile(); err != nil {
		return err
	}
	// bbolt may run the function twice when another call in the batch
	// fails. Deleting and storing the same keys again is harmless.
	return db.bolt.Batch(func(tx *bolt.Tx) error { return write(tx, bucket, puts, deletes) })
}

func write(tx *bolt.Tx, bucket string, puts map[string][]byte, deletes []string) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("creating bucket %q: %w", bucket, err)
	}
	for _, k := range deletes {
		if err := b.Delete([]byte(k)); err != nil {
			return fmt.Errorf("deleting %q from bucket %q: %w", k, bucket, err)
		}
	}
	for k, v := range puts {
		if err := b.Put([]byte(k), v); err != nil {
			return fmt.Errorf("storing %q in bucket %q: %w", k, bucket, err)
		}
	}
	return nil
}
