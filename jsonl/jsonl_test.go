package jsonl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

type rec struct {
	ID  uint64 `json:"id"`
	Msg string `json:"msg"`
}

func batch(from, n int) []rec {
	b := make([]rec, n)
	for i := range b {
		b[i] = rec{ID: uint64(from + i), Msg: "hello"}
	}
	return b
}

// readAll returns every record in the sink's files, in file order, and
// fails on a line that is not valid JSON.
func readAll(t *testing.T, dir string) []rec {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "events-*.jsonl"))
	var out []rec
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r rec
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %q: %v", p, sc.Text(), err)
			}
			out = append(out, r)
		}
		f.Close()
	}
	return out
}

// checkIDs checks that the records are 1..n in order, each once.
func checkIDs(t *testing.T, got []rec, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d records on disk, want %d", len(got), n)
	}
	for i, r := range got {
		if r.ID != uint64(i+1) {
			t.Fatalf("record %d has id %d", i, r.ID)
		}
	}
}

type injector struct {
	mu   sync.Mutex
	fail map[string]error
}

func (in *injector) set(op string, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail == nil {
		in.fail = map[string]error{}
	}
	in.fail[op] = err
}

func (in *injector) hook(op, name string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fail[op]
}

func withFaults(in *injector) Option { return optionFunc(func(s *settings) { s.fault = in.hook }) }

func TestRoundTripRotationKeep(t *testing.T) {
	dir := t.TempDir()
	s, err := New[rec](dir, WithRotateSize(300))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := s.Export(context.Background(), batch(i*3+1, 3)); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Files()) < 3 {
		t.Fatalf("no rotation: %v", s.Files())
	}
	s.Close()
	if err := s.Export(context.Background(), batch(1, 1)); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	checkIDs(t, readAll(t, dir), 30)

	s, err = New[rec](dir, WithRotateSize(100), WithKeepFiles(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 5; i++ {
		s.Export(context.Background(), batch(100+i, 1))
	}
	if n := len(s.Files()); n != 2 {
		t.Fatalf("kept %d files", n)
	}
	for _, bad := range [][]Option{{WithRotateSize(0)}, {WithKeepFiles(-1)}, {nil}, {WithPrefix("a/b")}} {
		if _, err := New[rec](t.TempDir(), bad...); !errors.Is(err, ErrOption) {
			t.Fatalf("bad option: %v", err)
		}
	}
	if _, err := New[rec](""); !errors.Is(err, ErrOption) {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Export(ctx, batch(1, 1)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// A rotation that fails (the directory refuses new files) fails that
// Export only: the next one retries and resumes, nothing is lost or
// duplicated.
func TestRotationFailureResumes(t *testing.T) {
	dir := t.TempDir()
	in := &injector{}
	s, err := New[rec](dir, WithRotateSize(200), withFaults(in))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := 1
	export := func() error {
		err := s.Export(context.Background(), batch(id, 2))
		if err == nil {
			id += 2
		}
		return err
	}
	for i := 0; i < 4; i++ {
		if err := export(); err != nil {
			t.Fatal(err)
		}
	}
	in.set("create", syscall.EACCES)
	failed := 0
	for i := 0; i < 5; i++ {
		if err := export(); err != nil {
			if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.EACCES) {
				t.Fatal(err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no rotation was due")
	}
	in.set("create", nil)
	for i := 0; i < 6; i++ {
		if err := export(); err != nil {
			t.Fatalf("after the dir is writable again: %v", err)
		}
	}
	checkIDs(t, readAll(t, dir), id-1)
}

// The same with a real immutable directory (chattr +i: root cannot create
// files in it either).
func TestRotationImmutableDir(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not installed")
	}
	dir := t.TempDir()
	s, err := New[rec](dir, WithRotateSize(50))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Export(context.Background(), batch(1, 2)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i not supported here: %v %s", err, out)
	}
	defer exec.Command("chattr", "-i", dir).Run()
	if err := s.Export(context.Background(), batch(3, 2)); !errors.Is(err, ErrWrite) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("rotation into an immutable dir: %v", err)
	}
	exec.Command("chattr", "-i", dir).Run()
	if err := s.Export(context.Background(), batch(3, 2)); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, readAll(t, dir), 4)
}

// The directory deleted under the sink: an acknowledged batch is on disk,
// in a file reachable by its path (the sink recreates the directory).
func TestDeletedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "events")
	s, err := New[rec](dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Export(context.Background(), batch(1, 2)); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	for i := 0; i < 10; i++ {
		if err := s.Export(context.Background(), batch(3+2*i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	checkIDs(t, append(batch(1, 2), readAll(t, dir)...), 22)

	// When the directory cannot be recreated, nothing is acknowledged.
	in := &injector{}
	dir2 := filepath.Join(t.TempDir(), "events")
	s2, err := New[rec](dir2, withFaults(in))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	os.RemoveAll(dir2)
	in.set("mkdir", syscall.EROFS)
	if err := s2.Export(context.Background(), batch(1, 2)); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("export into a deleted dir acknowledged: %v", err)
	}
	in.set("mkdir", nil)
	if err := s2.Export(context.Background(), batch(1, 2)); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, readAll(t, dir2), 2)
}

// A directory the sink creates, or recreates after it was deleted, has its
// entry made durable (its parent fsynced) before a batch in it is
// acknowledged: a failing fsync of the parent fails the Export.
func TestRecreatedDirParentSynced(t *testing.T) {
	in := &injector{}
	dir := filepath.Join(t.TempDir(), "a", "events")
	in.set("syncparent", syscall.EIO)
	if _, err := New[rec](dir, withFaults(in)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("New in a new directory whose parent cannot be synced: %v", err)
	}
	in.set("syncparent", nil)
	s, err := New[rec](dir, withFaults(in))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.RemoveAll(dir)
	in.set("syncparent", syscall.EIO)
	if err := s.Export(context.Background(), batch(1, 2)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("export into a recreated dir whose parent was not synced acknowledged: %v", err)
	}
	in.set("syncparent", nil)
	if err := s.Export(context.Background(), batch(1, 2)); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, readAll(t, dir), 2)
}

// A failed fsync (its bytes may be in the file) is cut off; when the cut
// fails too the file is abandoned and the next batch starts a new one.
func TestFailedSync(t *testing.T) {
	dir := t.TempDir()
	in := &injector{}
	s, err := New[rec](dir, withFaults(in))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Export(context.Background(), batch(1, 2))
	in.set("sync", syscall.EIO)
	if err := s.Export(context.Background(), batch(3, 2)); !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	in.set("sync", nil)
	if err := s.Export(context.Background(), batch(3, 2)); err != nil {
		t.Fatal(err)
	}
	checkIDs(t, readAll(t, dir), 4)

	in.set("sync", syscall.EIO)
	in.set("truncate", syscall.EIO)
	before := len(s.Files())
	if err := s.Export(context.Background(), batch(5, 2)); err == nil {
		t.Fatal("acknowledged")
	}
	in.set("sync", nil)
	in.set("truncate", nil)
	if err := s.Export(context.Background(), batch(5, 2)); err != nil {
		t.Fatal(err)
	}
	if len(s.Files()) != before+1 {
		t.Fatal("abandoned file reused")
	}
	got := readAll(t, dir) // the abandoned file holds the unacknowledged copy: at least once
	if len(got) != 8 || got[7].ID != 6 {
		t.Fatalf("%+v", got)
	}
}

// Planted files and symlinks at the next names are never followed.
func TestPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	os.Symlink(victim, filepath.Join(dir, "events-000001.jsonl"))
	os.Symlink(victim, filepath.Join(dir, "events-000003.jsonl"))
	s, err := New[rec](dir, WithRotateSize(10))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.Export(context.Background(), batch(i+1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("victim written: %q", b)
	}
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, group := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "d")
		var opts []Option
		wantD, wantF := fs.FileMode(0o700), fs.FileMode(0o600)
		if group {
			opts, wantD, wantF = []Option{WithGroupReadable()}, 0o750, 0o640
		}
		s, err := New[rec](dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		di, _ := os.Stat(dir)
		fi, _ := os.Stat(s.Files()[0])
		if di.Mode().Perm() != wantD || fi.Mode().Perm() != wantF {
			t.Fatalf("group %v: dir %v file %v", group, di.Mode(), fi.Mode())
		}
	}
}
