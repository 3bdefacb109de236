// Package fsx holds the file-system steps that the durable packages
// (cfgsnap, segment, jsonl) share: creating a directory durably, fsyncing a
// directory and releasing a directory lock. Each package keeps its own
// fault seam around them. It imports the standard library only.
package fsx

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// SyncDir fsyncs the directory dir, so that the names created, renamed or
// removed in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Unlock releases the flock held on f and closes f; it returns the first
// error of the two.
func Unlock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// MkdirAll creates dir and any missing parents with mode perm, as
// os.MkdirAll does, then fsyncs the parent of each directory it created
// (with syncDir; nil means [SyncDir]), so that the new entries, and the
// files that are later made durable in dir, survive a crash.
func MkdirAll(dir string, perm os.FileMode, syncDir func(string) error) error {
	if syncDir == nil {
		syncDir = SyncDir
	}
	var made []string // missing directories, deepest first
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for _, d := range made {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}
