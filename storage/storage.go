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
)

// FileName is the database file inside the storage directory.
const FileName = "apiwatch.db"

// DB is an open state database.
type DB struct {
	bolt *bolt.DB
}

// Open opens or creates the database in dir, creating dir if needed. It
// fails after a few seconds if another process holds the database.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating storage directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("opening %s: locked by another process; is another apiwatch using this --storage.path?", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &DB{bolt: db}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.bolt.Close() }

// ForEach calls fn for every key in bucket, in key order. A missing bucket
// has no keys.
func (db *DB) ForEach(bucket string, fn func(key, value []byte) error) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(fn)
	})
}

// Write stores puts and removes deletes in bucket in one transaction.
func (db *DB) Write(bucket string, puts map[string][]byte, deletes []string) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for k, v := range puts {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}
