package cfgsnap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/clock"
)

func openDir(t testing.TB, dir string, opts Config[testCfg]) *Store[testCfg] {
	t.Helper()
	opts.Dir = dir
	if opts.Validate == nil {
		opts.Validate = validPair
	}
	st, err := Open(defaults(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustUpdate(t testing.TB, st *Store[testCfg], path string, v any) {
	t.Helper()
	if _, err := st.Update(path, v); err != nil {
		t.Fatal(err)
	}
}

func files(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestDurableReopen(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	if r := st.Recovery(); r.Version != 0 || len(r.Problems) != 0 {
		t.Fatalf("fresh dir: %+v", r)
	}
	mustUpdate(t, st, "count", 1)
	mustUpdate(t, st, "mode", "fast")
	mustUpdate(t, st, "timeout", "2s")
	mustUpdate(t, st, "rate", float32(0.25))
	mustUpdate(t, st, "debug", true)
	mustUpdate(t, st, "u16", 9)
	mustUpdate(t, st, "name", "n")
	if _, err := st.UpdateFunc(func(c *testCfg) error { c.Pair = pair{4, 4}; return nil }); err != nil {
		t.Fatal(err)
	}
	want := st.Load().Value()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	s := st.Load()
	if s.Version() != 8 || s.Value() != want {
		t.Fatalf("reopened at %d: %+v\nwant %+v", s.Version(), s.Value(), want)
	}
	if r := st.Recovery(); r.Replayed != 8 || len(r.Problems) != 0 || r.Version != 8 {
		t.Fatalf("recovery %+v", r)
	}
	ch, err := st.Reset()
	if err != nil || ch.Version != 9 {
		t.Fatal(ch, err)
	}
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if s := st.Load(); s.Version() != 9 || s.Value() != defaults() {
		t.Fatalf("after reset: %d %+v", s.Version(), s.Value())
	}
}

func TestDurableTornAndCorruptTail(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, path string, size int64)
		version uint64 // recovered
	}{
		{"torn half record", func(t *testing.T, path string, size int64) {
			rec := appendRecord(nil, &record{version: 6, time: 1, kind: recUpdate, tag: tagInt, path: "count", value: make([]byte, 8)})
			appendFile(t, path, rec[:len(rec)/2])
		}, 5},
		{"zeros", func(t *testing.T, path string, size int64) { appendFile(t, path, make([]byte, 100)) }, 5},
		{"flipped byte in the last record", func(t *testing.T, path string, size int64) {
			b, _ := os.ReadFile(path)
			b[4*int(size)/5+12] ^= 0xff
			os.WriteFile(path, b, 0o644)
		}, 4},
		{"truncated inside record 5", func(t *testing.T, path string, size int64) { os.Truncate(path, size-3) }, 4},
		{"gap in versions", func(t *testing.T, path string, size int64) {
			appendFile(t, path, appendRecord(nil, &record{version: 9, time: 1, kind: recUpdate, tag: tagInt, path: "count", value: make([]byte, 8)}))
		}, 5},
		{"unknown path", func(t *testing.T, path string, size int64) {
			appendFile(t, path, appendRecord(nil, &record{version: 6, time: 1, kind: recUpdate, tag: tagInt, path: "gone", value: make([]byte, 8)}))
		}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openDir(t, dir, Config[testCfg]{})
			for i := 1; i <= 5; i++ {
				mustUpdate(t, st, "count", i*10)
			}
			st.Close()
			seg := filepath.Join(dir, segName(1))
			fi, _ := os.Stat(seg)
			c.damage(t, seg, fi.Size())
			st = openDir(t, dir, Config[testCfg]{})
			r := st.Recovery()
			s := st.Load()
			if s.Version() != c.version || s.Value().Count != int(c.version)*10 {
				t.Fatalf("recovered version %d count %d, want %d; %+v", s.Version(), s.Value().Count, c.version, r)
			}
			if r.TruncatedBytes == 0 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "cut") {
				t.Fatalf("recovery %+v", r)
			}
			t.Log(r.Problems[0])
			// The store goes on from there, and the next open is clean.
			mustUpdate(t, st, "count", 1)
			st.Close()
			st = openDir(t, dir, Config[testCfg]{})
			defer st.Close()
			if r := st.Recovery(); len(r.Problems) != 0 || st.Load().Version() != c.version+1 {
				t.Fatalf("second open: %+v at %d", r, st.Load().Version())
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
}

func TestDurableSnapshots(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{SnapshotEvery: 3})
	for i := 1; i <= 10; i++ {
		mustUpdate(t, st, "count", i)
	}
	st.Close()
	// Snapshots at 3, 6, 9: the newest two are kept, with the log since the older.
	want := []string{lockName, snapName(6), snapName(9), segName(7), segName(10)}
	sort.Strings(want)
	if got := files(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v\nwant  %v", got, want)
	}
	st = openDir(t, dir, Config[testCfg]{SnapshotEvery: 3})
	if r := st.Recovery(); r.SnapshotVersion != 9 || r.Replayed != 1 || len(r.Problems) != 0 || st.Load().Value().Count != 10 {
		t.Fatalf("recovery %+v count %d", r, st.Load().Value().Count)
	}
	st.Close()

	// A corrupt newest snapshot falls back to the previous one plus the log: nothing lost.
	b, _ := os.ReadFile(filepath.Join(dir, snapName(9)))
	b[len(b)-2] ^= 1
	os.WriteFile(filepath.Join(dir, snapName(9)), b, 0o644)
	st = openDir(t, dir, Config[testCfg]{SnapshotEvery: 3})
	r := st.Recovery()
	if r.SnapshotVersion != 6 || r.CorruptSnapshots != 1 || r.Replayed != 4 || st.Load().Version() != 10 || st.Load().Value().Count != 10 {
		t.Fatalf("fallback: %+v at %d", r, st.Load().Version())
	}
	t.Log(r.Problems)
	st.Close()

	// Every snapshot corrupt and the early log compacted: back to the initial value, reported.
	for _, name := range files(t, dir) {
		if strings.HasPrefix(name, "snap-") && strings.HasSuffix(name, ".cfg") {
			os.WriteFile(filepath.Join(dir, name), []byte("garbage"), 0o644)
		}
	}
	st = openDir(t, dir, Config[testCfg]{SnapshotEvery: 3})
	r = st.Recovery()
	if st.Load().Version() != 0 || st.Load().Value() != defaults() || r.CorruptSnapshots != 1 || len(r.Problems) < 2 {
		t.Fatalf("all corrupt: %+v at %d", r, st.Load().Version())
	}
	t.Log(r.Problems)
	mustUpdate(t, st, "count", 77)
	st.Close()
	st = openDir(t, dir, Config[testCfg]{SnapshotEvery: 3})
	defer st.Close()
	if r := st.Recovery(); len(r.Problems) != 0 || st.Load().Value().Count != 77 {
		t.Fatalf("after fallback: %+v", r)
	}
}

func TestDurableRefusedState(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	mustUpdate(t, st, "count", 50)
	st.Close()
	_, err := Open(defaults(), Config[testCfg]{Dir: dir, Validate: func(c *testCfg) error {
		if c.Count > 20 {
			return errSentinel
		}
		return nil
	}})
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, errSentinel) {
		t.Fatal(err)
	}
	st = openDir(t, dir, Config[testCfg]{}) // the lock was released
	st.Close()
}

func TestDurableDirErrors(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	_, err := Open(defaults(), Config[testCfg]{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second opener: %v", err)
	}
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	st.Close()

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(defaults(), Config[testCfg]{Dir: file}); !errors.Is(err, ErrDir) {
		t.Fatalf("dir is a file: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "a", "b")
	st = openDir(t, missing, Config[testCfg]{})
	st.Close()
	if _, err := os.Stat(filepath.Join(missing, segName(1))); err != nil {
		t.Fatal("missing dir not created:", err)
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		os.Chmod(ro, 0o555)
		defer os.Chmod(ro, 0o755)
		if _, err := Open(defaults(), Config[testCfg]{Dir: ro}); !errors.Is(err, ErrDir) || !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("read-only dir: %v", err)
		}
	}
	type fn struct{ F func() }
	if _, err := Open(fn{}, Config[fn]{Dir: t.TempDir(), Clone: func(f *fn) fn { return *f }}); !errors.Is(err, ErrOption) {
		t.Fatalf("non-JSON T: %v", err)
	}
}

func TestDurableWriteFailure(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	mustUpdate(t, st, "count", 1)
	sub := st.Subscribe(10)
	defer sub.Close()
	st.d.log.Close() // the next write fails; the store repairs its log with a new segment
	before := st.Load()
	_, err := st.Update("count", 2)
	if !errors.Is(err, ErrDir) || st.Load() != before || st.head.Load() != before {
		t.Fatalf("write failure: %v", err)
	}
	if len(sub.C()) != 0 {
		t.Fatal("failed change was announced")
	}
	mustUpdate(t, st, "count", 3)
	if st.Problem() != nil {
		t.Fatalf("repaired store still reports %v", st.Problem())
	}
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if s := st.Load(); s.Version() != 2 || s.Value().Count != 3 {
		t.Fatalf("after restart: version %d count %d", s.Version(), s.Value().Count)
	}
}

func TestDurableGroupCommit(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{SnapshotEvery: 50})
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := st.Update("count", w*1000+i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := st.Load().Version(); v != writers*each {
		t.Fatalf("version %d", v)
	}
	t.Logf("%d changes in %d fsyncs", writers*each, st.d.syncs)
	want := st.Load().Value()
	st.Close()
	st = openDir(t, dir, Config[testCfg]{SnapshotEvery: 50})
	defer st.Close()
	if st.Load().Value() != want || st.Load().Version() != writers*each || len(st.Recovery().Problems) != 0 {
		t.Fatalf("reopen %+v", st.Recovery())
	}
}

func TestDurableTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{Clock: clock.NewManual(now)})
	mustUpdate(t, st, "count", 1)
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if !st.Load().Time().Equal(now) {
		t.Fatal(st.Load().Time())
	}
}
