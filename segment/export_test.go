package segment

import (
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// withFS returns cfg using fsys.
func withFS(cfg Config, fsys fileSystem) Config { cfg.fs = fsys; return cfg }

// crash abandons l as a killed process would: pending records are not
// written, files and the lock are released.
func crash(l *Log) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, s := range l.segs {
		s.release()
	}
	l.segs = nil
	l.c.Close()
	_ = unlockDir(l.lock)
}

// blockLoc is where one written block lives.
type blockLoc struct {
	Path  string
	Off   int64
	Size  int64
	First uint64
	Count uint32
}

func layout(l *Log) []blockLoc {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []blockLoc
	for _, s := range l.segs {
		for _, b := range s.blocks {
			out = append(out, blockLoc{s.path, b.off, int64(b.size), b.firstSeq, b.count})
		}
	}
	return out
}

// faultFS is the OS file system with injectable failures.
type faultFS struct {
	osFS
	mu        sync.Mutex
	writeErr  error // every WriteAt writes half its bytes, then fails with it
	syncErr   error // every file Sync fails with it
	dirErr    error // every SyncDir fails with it
	createErr error // every O_CREATE open fails with it
	truncErr  error // every Truncate fails with it
	space     int64 // bytes left before ENOSPC; < 0: unlimited
}

func newFaultFS() *faultFS { return &faultFS{space: -1} }

func (f *faultFS) set(fn func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f.mu.Lock()
	err := f.createErr
	f.mu.Unlock()
	if err != nil && flag&os.O_CREATE != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: h, fs: f}, nil
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	err := f.dirErr
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.osFS.SyncDir(dir)
}

type faultFile struct {
	file
	fs *faultFS
}

func (h *faultFile) WriteAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	werr, space := h.fs.writeErr, h.fs.space
	if space >= 0 {
		h.fs.space = max(0, space-int64(len(p)))
	}
	h.fs.mu.Unlock()
	if werr != nil {
		n, _ := h.file.WriteAt(p[:len(p)/2], off)
		return n, werr
	}
	if space >= 0 && int64(len(p)) > space {
		n, _ := h.file.WriteAt(p[:space], off)
		return n, syscall.ENOSPC
	}
	return h.file.WriteAt(p, off)
}

func (h *faultFile) Sync() error {
	h.fs.mu.Lock()
	err := h.fs.syncErr
	h.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return h.file.Sync()
}

func (h *faultFile) Truncate(size int64) error {
	h.fs.mu.Lock()
	err := h.fs.truncErr
	h.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return h.file.Truncate(size)
}

func clearFaults(f *faultFS) {
	f.writeErr, f.syncErr, f.dirErr, f.createErr, f.truncErr, f.space = nil, nil, nil, nil, nil, -1
}
