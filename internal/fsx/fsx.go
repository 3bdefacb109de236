// Package fsx holds the file-system steps that the durable packages
// (cfgsnap, jsonl, segment) share: fsyncing a directory and releasing a
// directory lock. Each package keeps its own fault seam around them.
package fsx

import (
	"os"
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
