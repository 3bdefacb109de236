package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/elixirscope-go/foundation/internal/fsx"
)

// file is what the log needs of an open file. *os.File implements it; tests
// wrap it to inject failures.
type file interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// fileSystem is the seam between the log and the OS. osFS is the real one;
// tests substitute a wrapper that fails chosen calls.
type fileSystem interface {
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	Rename(from, to string) error
	Remove(name string) error
	SyncDir(dir string) error
}

type osFS struct{}

// OpenFile opens name without following a symlink and refuses anything but
// a regular file (O_NONBLOCK keeps a planted FIFO from blocking the open).
func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	return f, nil
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }
func (osFS) Remove(name string) error     { return os.Remove(name) }

func (osFS) SyncDir(dir string) error { return fsx.SyncDir(dir) }

var errNotRegular = errors.New("not a regular file")

// prepareDir creates dir (0700; its parent fsynced) if missing and refuses a symlink or a
// non-directory.
func prepareDir(dir string) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := fsx.MkdirAll(dir, 0o700, nil); err != nil { // durable in its parent: what is acknowledged in it survives a crash
			return fmt.Errorf("%w: %s: %w", ErrDir, dir, err)
		}
		st, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDir, dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory (mode %v)", ErrDir, dir, st.Mode())
	}
	return nil
}

// lockDir takes an exclusive, non-blocking flock on dir/LOCK (created 0600,
// never through a symlink). The lock dies with the process.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, name, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, name, errNotRegular)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, name, err)
	}
	return f, nil
}

func unlockDir(f *os.File) error { return fsx.Unlock(f) }
