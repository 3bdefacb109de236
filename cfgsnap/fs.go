package cfgsnap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// faultFunc, when set through Config.fault (tests only), is called before
// each file-system operation the store makes on its directory: op is one of
// "write", "sync", "truncate", "create", "rename", "remove", "syncdir", name
// the base name of the file. A non-nil error fails the operation as if the
// OS had returned it; the operation is then not made.
type faultFunc func(op, name string) error

// ErrDirGone: the data directory was deleted or replaced while the store had
// it open. The store refuses every later change (until it is reopened), so
// that nothing is acknowledged that a restart would not find.
var ErrDirGone = errors.New("data directory deleted or replaced")

// Modes of what a store creates: private by default, group-readable with
// [Config.GroupReadable].
const (
	dirMode       = 0o700
	fileMode      = 0o600
	groupDirMode  = 0o750
	groupFileMode = 0o640
)

// held is the set of directories (cleaned absolute paths) open by a Store
// of this process. flock alone cannot refuse a second opener of a path
// whose directory was deleted and recreated (the new LOCK is another file);
// this set refuses it within the process, and the first store refuses every
// later change once it sees its directory gone.
var held sync.Map

func (d *disk) fail(op, name string) error {
	if d.fault != nil {
		return d.fault(op, name)
	}
	return nil
}

func (d *disk) path(name string) string { return filepath.Join(d.dir, name) }

// create makes a new regular file: O_EXCL|O_NOFOLLOW, so a planted file or
// symlink is never followed or overwritten.
func (d *disk) create(name string, extra int) (*os.File, error) {
	if err := d.fail("create", name); err != nil {
		return nil, err
	}
	return os.OpenFile(d.path(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|extra, d.fmode)
}

// openExisting opens a file the store made, refusing a symlink or anything
// that is not a regular file.
func openExisting(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readRegular reads a file the store made (no symlinks, regular files only).
func readRegular(path string) ([]byte, error) {
	f, err := openExisting(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func (d *disk) rename(from, to string) error {
	if err := d.fail("rename", from); err != nil {
		return err
	}
	return os.Rename(d.path(from), d.path(to))
}

func (d *disk) remove(name string) error {
	if err := d.fail("remove", name); err != nil {
		return err
	}
	return os.Remove(d.path(name))
}

func (d *disk) syncDir() error {
	if d.nosync {
		return nil
	}
	if err := d.fail("syncdir", "."); err != nil {
		return err
	}
	return d.dirf.Sync()
}

// checkDir reports [ErrDirGone] when the directory the store opened has
// been removed (its link count is 0) or its path now names another
// directory. Two stat calls, once per group commit.
func (d *disk) checkDir() error {
	var held, now syscall.Stat_t
	if err := syscall.Fstat(int(d.dirf.Fd()), &held); err != nil {
		return fmt.Errorf("fstat %s: %v: %w", d.dir, err, ErrDirGone)
	}
	if held.Nlink == 0 {
		return fmt.Errorf("%s: %w", d.dir, ErrDirGone)
	}
	if err := syscall.Stat(d.dir, &now); err != nil {
		return fmt.Errorf("%s: %v: %w", d.dir, err, ErrDirGone)
	}
	if now.Dev != held.Dev || now.Ino != held.Ino {
		return fmt.Errorf("%s now names another directory: %w", d.dir, ErrDirGone)
	}
	return nil
}

// writeLog appends buf to the active segment and fsyncs it.
func (d *disk) writeLog(buf []byte) error {
	if d.fault != nil {
		if err := d.fail("write", segName(d.start)); err != nil {
			return err
		}
	}
	if _, err := d.log.Write(buf); err != nil {
		return err
	}
	if d.nosync {
		return nil
	}
	if d.fault != nil {
		if err := d.fail("sync", segName(d.start)); err != nil {
			return err
		}
	}
	return d.log.Sync()
}

// newSegment creates the empty segment wal-<start>.log and makes its
// directory entry durable.
func (d *disk) newSegment(start uint64) (*os.File, error) {
	f, err := d.create(segName(start), os.O_APPEND)
	if err != nil {
		return nil, err
	}
	if err := d.syncDir(); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
