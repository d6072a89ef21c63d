// Package atomicfile writes files so that readers never see half of one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to a temporary file in name's directory, syncs it and
// renames it over name. A reader, a file watcher among them, sees either
// the old content or the new, and a crash leaves at most a stray temporary
// file whose name starts with "." and ends in ".tmp" and digits.
func Write(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
