// Package jsonl is a durable JSON Lines sink: it appends batches of records
// of any type E, one JSON value per line, to numbered files in a directory
// (events-000001.jsonl, events-000002.jsonl, …), rotated by size. It needs
// nothing beyond the standard library.
//
// A *Sink[E] has the method Export(ctx, []E) error, so a
// *Sink[foundation.Event] is a foundation.Exporter as it is: give it to
// foundation.New with foundation.WithExporter (see the example of [New]).
// The package imports nothing of foundation.
//
// # What an acknowledgement means
//
// Export returns nil only when the whole batch is written and fsynced to a
// file that is still reachable by its path in the directory (checked after
// the fsync: a file whose directory was deleted or replaced does not
// count), and the file's directory entry is durable (the directory is
// fsynced when a file is created, and the parent of each directory the sink
// creates or recreates when it is created). On any error the batch is not
// acknowledged: the caller retries it, so delivery is at least once and a
// retried batch may appear twice (readers can drop duplicate IDs).
//
// # What is promised on each fault
//
//	fault                                 Export returns      afterwards
//	write or fsync fails (EIO, full disk) the error           the partial batch is cut off the file; if the cut fails, the file is abandoned and the next batch starts a new one
//	rotation fails (dir not writable)     the error           the current file stays in use; the next Export retries the rotation
//	directory deleted or replaced         ErrUnreachable      the next Export recreates the directory and starts a new file
//	planted file or symlink at a new name (skipped)           files are created with O_EXCL|O_NOFOLLOW; the next number is used
//
// Files are private (0600, in a 0700 directory) unless [WithGroupReadable].
// A file holds whole lines only, unless a failed write could not be cut
// off (then the file is abandoned: readers should skip a last line that is
// not valid JSON).
package jsonl

// doccheck: the package doc's code block 1 is a table, not Go (docs_test.go
// in the repository root builds the Go ones).
//
// text: 1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/elixirscope-go/foundation/internal/fsx"
)

// Sentinel errors; the errors of this package match one of them with
// [errors.Is], and I/O errors also match the OS error.
var (
	// ErrOption: a bad argument to New or an option.
	ErrOption = errors.New("jsonl: invalid option")
	// ErrClosed: Export after Close.
	ErrClosed = errors.New("jsonl: sink closed")
	// ErrWrite: the batch could not be written and fsynced (or the sink
	// could not open a file for it).
	ErrWrite = errors.New("jsonl: write failed")
	// ErrUnreachable: the batch was fsynced to a file that is no longer
	// reachable by its path (its directory was deleted or replaced).
	ErrUnreachable = errors.New("jsonl: file no longer in its directory")
)

// Option configures [New]. A bad option makes New return an error wrapping
// [ErrOption]; the last of repeated options wins.
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	rotate int64
	keep   int
	prefix string
	dmode  os.FileMode
	fmode  os.FileMode
	err    error
	fault  func(op, name string) error // tests: fail chosen operations
}

// WithRotateSize starts a new file when the current one would grow past n
// bytes (default 64 MiB). A batch is never split, so a file holding a single
// batch may be larger. n must be > 0.
func WithRotateSize(n int64) Option {
	return optionFunc(func(s *settings) {
		if n <= 0 {
			s.err = fmt.Errorf("WithRotateSize(%d): must be > 0: %w", n, ErrOption)
		}
		s.rotate = n
	})
}

// WithKeepFiles keeps at most n files, deleting the oldest when a new one is
// started; 0 (the default) keeps all. n must be ≥ 0.
func WithKeepFiles(n int) Option {
	return optionFunc(func(s *settings) {
		if n < 0 {
			s.err = fmt.Errorf("WithKeepFiles(%d): must be >= 0: %w", n, ErrOption)
		}
		s.keep = n
	})
}

// WithPrefix names the files <prefix>-000001.jsonl, …; the default is
// "events". The prefix must be a non-empty file name without '/'.
func WithPrefix(p string) Option {
	return optionFunc(func(s *settings) {
		if p == "" || strings.ContainsAny(p, "/\x00") || p == "." || p == ".." {
			s.err = fmt.Errorf("WithPrefix(%q): %w", p, ErrOption)
		}
		s.prefix = p
	})
}

// WithGroupReadable creates the directory 0750 and the files 0640 instead
// of the private default, 0700 and 0600.
func WithGroupReadable() Option {
	return optionFunc(func(s *settings) { s.dmode, s.fmode = 0o750, 0o640 })
}

// Sink appends batches of E to JSON Lines files; see the package doc. It is
// safe for concurrent use.
type Sink[E any] struct {
	dir string
	set settings

	mu   sync.Mutex
	f    *os.File // current file; nil when none is open (a failed open or an abandoned file)
	idx  int      // number of the current (or last) file
	size int64    // bytes of the current file known good
	buf  bytes.Buffer
	shut bool
}

// New creates dir if needed and opens a new file in it, numbered after
// any already there. Errors: [ErrOption] for an empty dir or a bad option,
// [ErrWrite] wrapping the file system's error.
func New[E any](dir string, opts ...Option) (*Sink[E], error) {
	if dir == "" {
		return nil, fmt.Errorf("jsonl.New: empty directory: %w", ErrOption)
	}
	s := &Sink[E]{dir: dir, set: settings{rotate: 64 << 20, prefix: "events", dmode: 0o700, fmode: 0o600}}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("jsonl.New: nil option: %w", ErrOption)
		}
		o.apply(&s.set)
		if s.set.err != nil {
			return nil, s.set.err
		}
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink[E]) fail(op, name string) error {
	if s.set.fault != nil {
		return s.set.fault(op, name)
	}
	return nil
}

func (s *Sink[E]) name(i int) string { return fmt.Sprintf("%s-%06d.jsonl", s.set.prefix, i) }

// files returns the numbers of the sink's files in the directory, ascending.
func (s *Sink[E]) files() ([]int, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, de := range ents {
		n, ok := strings.CutPrefix(de.Name(), s.set.prefix+"-")
		if !ok {
			continue
		}
		n, ok = strings.CutSuffix(n, ".jsonl")
		if !ok {
			continue
		}
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out, nil
}

// open creates the next file (O_EXCL|O_NOFOLLOW: a planted name is skipped),
// makes its directory entry durable, and only then retires the current one
// and prunes old files. On error the current file stays as it was. Under mu.
func (s *Sink[E]) open() error {
	werr := func(what string, err error) error {
		return fmt.Errorf("jsonl: %s in %s: %w: %w", what, s.dir, ErrWrite, err)
	}
	if err := s.fail("mkdir", s.dir); err != nil {
		return werr("create directory", err)
	}
	if err := s.mkdir(); err != nil {
		return werr("create directory", err)
	}
	files, err := s.files()
	if err != nil {
		return werr("list directory", err)
	}
	next := s.idx + 1
	if len(files) > 0 && files[len(files)-1] >= next {
		next = files[len(files)-1] + 1
	}
	var f *os.File
	for tries := 0; ; tries++ {
		name := s.name(next)
		if err = s.fail("create", name); err == nil {
			f, err = os.OpenFile(filepath.Join(s.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, s.set.fmode)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || tries == 100 {
			return werr("create file", err)
		}
		next++
	}
	if err := s.syncDir(); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return werr("sync directory", err)
	}
	if s.f != nil {
		s.f.Close() // every acknowledged byte in it was fsynced already
	}
	s.f, s.idx, s.size = f, next, 0
	if s.set.keep > 0 {
		if files, err := s.files(); err == nil && len(files) > s.set.keep {
			for _, i := range files[:len(files)-s.set.keep] {
				_ = os.Remove(filepath.Join(s.dir, s.name(i)))
			}
		}
	}
	return nil
}

// mkdir creates the directory and any missing parents, and fsyncs the
// parent of each one it created, so that a file acknowledged in a new (or
// recreated) directory is reachable after a crash. Under mu.
func (s *Sink[E]) mkdir() error {
	return fsx.MkdirAll(s.dir, s.set.dmode, func(parent string) error {
		if err := s.fail("syncparent", parent); err != nil {
			return err
		}
		return fsx.SyncDir(parent)
	})
}

func (s *Sink[E]) syncDir() error {
	if err := s.fail("syncdir", s.dir); err != nil {
		return err
	}
	return fsx.SyncDir(s.dir)
}

// abandon closes the current file; the next Export starts a new one.
func (s *Sink[E]) abandon() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// reachable reports whether the current file is still the one its path
// names.
func (s *Sink[E]) reachable() error {
	if err := s.fail("stat", s.f.Name()); err != nil {
		return err
	}
	held, err := s.f.Stat()
	if err != nil {
		return err
	}
	now, err := os.Stat(s.f.Name())
	if err != nil {
		return err
	}
	if !os.SameFile(held, now) {
		return errors.New("the path names another file")
	}
	return nil
}

// Export writes the batch as JSON lines (one per element, in order) and
// returns nil once it is fsynced to a file still reachable by its path. It
// starts a new file first if the current one would grow past the rotate
// size, or if there is none (a previous failure). On error nothing is
// acknowledged; see the package doc. ctx is checked before the write.
func (s *Sink[E]) Export(ctx context.Context, batch []E) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return ErrClosed
	}
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	for i := range batch {
		if err := enc.Encode(&batch[i]); err != nil {
			return fmt.Errorf("jsonl: encode element %d: %w", i, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	err := s.write()
	if errors.Is(err, ErrUnreachable) {
		// The bytes went to a file nobody can reach: start a new file (and
		// directory) and write the batch there once more.
		if oerr := s.open(); oerr != nil {
			return errors.Join(err, oerr)
		}
		err = s.write()
	}
	return err
}

// write appends s.buf to the current file (opening or rotating first) and
// fsyncs it. Under mu.
func (s *Sink[E]) write() error {
	if s.f == nil || s.size > 0 && s.size+int64(s.buf.Len()) > s.set.rotate {
		if err := s.open(); err != nil {
			return err
		}
	}
	name := s.f.Name()
	n, err := 0, s.fail("write", name)
	if err == nil {
		n, err = s.f.Write(s.buf.Bytes())
	}
	if err == nil {
		if err = s.fail("sync", name); err == nil {
			err = s.f.Sync()
		}
	}
	if err != nil {
		// Cut the batch off (a failed fsync may have left it in the file),
		// so the file holds whole lines; a file that cannot be cut is
		// abandoned. O_APPEND: the next write goes to the new end.
		terr := s.fail("truncate", name)
		if terr == nil {
			terr = s.f.Truncate(s.size)
		}
		if terr != nil {
			s.abandon()
		}
		return fmt.Errorf("jsonl: write %s: %w: %w", name, ErrWrite, err)
	}
	if err := s.reachable(); err != nil {
		s.abandon()
		return fmt.Errorf("jsonl: %s: %w: %v", name, ErrUnreachable, err)
	}
	s.size += int64(n)
	return nil
}

// Files returns the paths of the sink's files in the directory, oldest
// first.
func (s *Sink[E]) Files() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, _ := s.files()
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = filepath.Join(s.dir, s.name(n))
	}
	return out
}

// Close syncs and closes the current file. It is idempotent; Export after
// Close returns [ErrClosed].
func (s *Sink[E]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return nil
	}
	s.shut = true
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}
