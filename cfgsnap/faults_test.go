package cfgsnap

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// injector fails chosen operations of the store's file-system seam.
type injector struct {
	mu   sync.Mutex
	fail map[string]error // op → error
}

func (in *injector) set(op string, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail == nil {
		in.fail = map[string]error{}
	}
	if err == nil {
		delete(in.fail, op)
	} else {
		in.fail[op] = err
	}
}

func (in *injector) hook(op, name string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fail[op]
}

var errEIO = syscall.EIO

// A change whose fsync failed (its bytes are in the file: the seam fails
// after the write) and whose undo failed too is refused, never seen by
// readers, and never recovered after a restart; the store is degraded while
// it cannot repair its log, and takes changes again once it can.
func TestFaultFailedSyncNeverRecovered(t *testing.T) {
	for _, first := range []bool{false, true} { // first: the failed record is the first of its segment
		name := "mid-segment"
		if first {
			name = "first-of-segment"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := &injector{}
			opts := Config[testCfg]{fault: in.hook, SnapshotEvery: 3}
			var problems []error
			opts.OnProblem = func(err error) { problems = append(problems, err) }
			st := openDir(t, dir, opts)
			n := 2
			if first {
				n = 3 // a snapshot at 3 starts segment 4: the failed record is its first
			}
			for i := 1; i <= n; i++ {
				mustUpdate(t, st, "count", i)
			}
			in.set("sync", errEIO)
			in.set("truncate", errEIO)
			in.set("create", errEIO) // the repair fails too: the store must refuse changes
			before := st.Load()
			if _, err := st.Update("count", 999); !errors.Is(err, ErrDir) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("failed fsync: %v", err)
			}
			if st.Load() != before {
				t.Fatal("readers see the failed change")
			}
			if st.Problem() == nil || len(problems) == 0 {
				t.Fatal("no problem reported while the log is broken")
			}
			if _, err := st.Update("count", 1000); !errors.Is(err, ErrDir) {
				t.Fatalf("broken store accepted a change: %v", err)
			}
			in.set("sync", nil)
			in.set("truncate", nil)
			in.set("create", nil)
			mustUpdate(t, st, "count", 7) // repaired by itself
			if err := st.Problem(); err != nil {
				t.Fatalf("repaired store reports %v", err)
			}
			st.Close()
			st = openDir(t, dir, Config[testCfg]{})
			defer st.Close()
			s := st.Load()
			if s.Version() != uint64(n+1) || s.Value().Count != 7 {
				t.Fatalf("restart: version %d count %d, want %d and 7 (%+v)", s.Version(), s.Value().Count, n+1, st.Recovery())
			}
		})
	}
}

// The failed record cannot be cut off (truncate fails too): a new segment
// supersedes it, and a restart right after ignores it.
func TestFaultFailedSyncRestartAtOnce(t *testing.T) {
	dir := t.TempDir()
	in := &injector{}
	st := openDir(t, dir, Config[testCfg]{fault: in.hook})
	mustUpdate(t, st, "count", 1)
	in.set("sync", errEIO)
	in.set("truncate", errEIO)
	if _, err := st.Update("count", 999); err == nil {
		t.Fatal("failed fsync acknowledged")
	}
	in.set("sync", nil)
	in.set("truncate", nil)
	if st.Problem() != nil {
		t.Fatalf("repair at once failed: %v", st.Problem())
	}
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if s := st.Load(); s.Version() != 1 || s.Value().Count != 1 {
		t.Fatalf("restart recovered version %d count %d", s.Version(), s.Value().Count)
	}
	if r := st.Recovery(); r.Superseded == 0 {
		t.Fatalf("superseded record not noticed: %+v", r)
	}
}

// One flipped byte in the middle of the log: the intact later records are
// media damage, not a torn tail. The original file is kept (*.corrupt), the
// lost versions are named, the newest provable state is recovered.
func TestFaultFlippedByteMidLog(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	for i := 1; i <= 10; i++ {
		mustUpdate(t, st, "count", i*10)
	}
	st.Close()
	seg := filepath.Join(dir, segName(1))
	orig, _ := os.ReadFile(seg)
	b := bytes.Clone(orig)
	b[2*len(b)/10+12] ^= 0x01 // inside record 3
	os.WriteFile(seg, b, 0o600)

	st = openDir(t, dir, Config[testCfg]{})
	r, s := st.Recovery(), st.Load()
	if s.Version() != 2 || s.Value().Count != 20 {
		t.Fatalf("recovered version %d count %d: %+v", s.Version(), s.Value().Count, r)
	}
	if r.LostFirst != 3 || r.LostLast != 10 || !r.Degraded() || len(r.SetAside) != 1 {
		t.Fatalf("recovery %+v", r)
	}
	kept, err := os.ReadFile(seg + ".corrupt")
	if err != nil || !bytes.Equal(kept, b) {
		t.Fatalf("evidence not kept: %v", err)
	}
	if !strings.Contains(r.Problems[0], "versions 3-10 lost") {
		t.Fatal(r.Problems)
	}
	mustUpdate(t, st, "count", 1)
	st.Close()
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if r := st.Recovery(); len(r.Problems) != 0 || st.Load().Version() != 3 {
		t.Fatalf("second open: %+v", r)
	}
}

// A data dir deleted (or replaced) while the store runs: changes fail with
// ErrDirGone, Problem says so, and a second Open of the path is refused.
func TestFaultDeletedDir(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(map[bool]string{false: "deleted", true: "replaced"}[replace], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			st := openDir(t, dir, Config[testCfg]{})
			defer st.Close()
			mustUpdate(t, st, "count", 1)
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if replace {
				os.Mkdir(dir, 0o700)
			}
			before := st.Load()
			_, err := st.Update("count", 2)
			if !errors.Is(err, ErrDirGone) || st.Load() != before {
				t.Fatalf("update after the dir went: %v", err)
			}
			if _, err := st.Update("count", 3); !errors.Is(err, ErrDirGone) {
				t.Fatalf("second update: %v", err)
			}
			if p := st.Problem(); !errors.Is(p, ErrDirGone) {
				t.Fatalf("problem %v", p)
			}
			if _, err := Open(defaults(), Config[testCfg]{Dir: dir}); !errors.Is(err, ErrLocked) {
				t.Fatalf("second open of the path: %v", err)
			}
		})
	}
}

// chattrImmutable makes dir immutable (root cannot write into it either) or
// skips the test.
func chattrImmutable(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not installed")
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i not supported here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	if f, err := os.Create(filepath.Join(dir, "probe")); err == nil {
		f.Close()
		t.Skip("chattr +i did not stop a write")
	}
}

// An immutable data dir: the log (an existing file) still takes changes,
// snapshots fail and the store says so; once the dir is writable again the
// next snapshot clears it.
func TestFaultImmutableDir(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var problems []error
	opts := Config[testCfg]{SnapshotEvery: 2, OnProblem: func(err error) { mu.Lock(); problems = append(problems, err); mu.Unlock() }}
	st := openDir(t, dir, opts)
	defer st.Close()
	chattrImmutable(t, dir)
	mustUpdate(t, st, "count", 1)
	mustUpdate(t, st, "count", 2) // snapshot due: fails
	if p := st.Problem(); p == nil || !strings.Contains(p.Error(), "snapshot") || !errors.Is(p, fs.ErrPermission) {
		t.Fatalf("problem %v", p)
	}
	mu.Lock()
	n := len(problems)
	mu.Unlock()
	if n == 0 {
		t.Fatal("OnProblem not called")
	}
	exec.Command("chattr", "-i", dir).Run()
	mustUpdate(t, st, "count", 3)
	if p := st.Problem(); p != nil {
		t.Fatalf("problem after the dir is writable again: %v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, snapName(3))); err != nil {
		t.Fatal(err)
	}
}

// Planted symlinks in the data dir are never followed: the file they point
// to is unchanged, the store refuses them (a failed snapshot, a refused
// segment) instead.
func TestFaultPlantedSymlinks(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("precious"), 0o600)
	st := openDir(t, dir, Config[testCfg]{SnapshotEvery: 2})
	os.Symlink(outside, filepath.Join(dir, snapName(2)+".tmp"))
	os.Symlink(outside, filepath.Join(dir, segName(3)))
	mustUpdate(t, st, "count", 1)
	mustUpdate(t, st, "count", 2) // snapshot: temp file and new segment are planted
	if st.Problem() == nil {
		t.Fatal("planted segment not reported")
	}
	mustUpdate(t, st, "count", 3)
	st.Close()
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("file outside the dir was written: %q", b)
	}
	// A symlink in place of the log itself is refused at Open.
	dir2 := t.TempDir()
	st = openDir(t, dir2, Config[testCfg]{})
	st.Close()
	os.Remove(filepath.Join(dir2, segName(1)))
	os.Symlink(outside, filepath.Join(dir2, segName(1)))
	if _, err := Open(defaults(), Config[testCfg]{Dir: dir2}); !errors.Is(err, ErrDir) {
		t.Fatalf("symlinked log: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("file outside the dir was written: %q", b)
	}
}

// What the store creates is private by default, group-readable on request.
func TestFaultPermissions(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, group := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "d")
		st := openDir(t, dir, Config[testCfg]{SnapshotEvery: 1, GroupReadable: group})
		mustUpdate(t, st, "count", 1)
		st.Close()
		wantD, wantF := fs.FileMode(0o700), fs.FileMode(0o600)
		if group {
			wantD, wantF = 0o750, 0o640
		}
		fi, _ := os.Stat(dir)
		if fi.Mode().Perm() != wantD {
			t.Fatalf("group %v: dir mode %v", group, fi.Mode())
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			fi, _ := e.Info()
			if fi.Mode().Perm() != wantF {
				t.Fatalf("group %v: %s mode %v", group, e.Name(), fi.Mode())
			}
		}
	}
}

// Secrets are never written to the directory; the value given to Open is
// authoritative after a restart; a secret is not updatable in durable mode.
func TestFaultSecretsNotPersisted(t *testing.T) {
	dir := t.TempDir()
	const key = "sk-live-0123456789abcdef"
	init := defaults()
	init.APIKey = key
	opts := Config[testCfg]{Dir: dir, SnapshotEvery: 2, Validate: validPair}
	st, err := Open(init, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		mustUpdate(t, st, "count", i)
	}
	if _, err := st.UpdateFunc(func(c *testCfg) error { c.Count = 9; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update("api_key", "other"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("secret updatable in durable mode: %v", err)
	}
	if _, err := st.UpdateFunc(func(c *testCfg) error { c.APIKey = "other"; return nil }); !errors.Is(err, ErrForbidden) {
		t.Fatalf("UpdateFunc changed a secret: %v", err)
	}
	if st.Load().Value().APIKey != key {
		t.Fatal("key lost in memory")
	}
	st.Close()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, []byte(key)) {
			t.Fatalf("%s holds the secret in clear", e.Name())
		}
	}
	init.APIKey = "sk-rotated"
	st, err = Open(init, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s := st.Load(); s.Value().APIKey != "sk-rotated" || s.Version() != 7 {
		t.Fatalf("restart: key %q version %d", s.Value().APIKey, s.Version())
	}
	bad := opts
	bad.Dir, bad.Updatable = t.TempDir(), []string{"api_key"}
	if _, err := Open(init, bad); !errors.Is(err, ErrOption) {
		t.Fatalf("secret in Updatable of a durable store: %v", err)
	}
}

// A recMulti record (several leaves as one version, the format a change of
// many paths uses) replays all its leaves or, when one fails, none: the
// record is then damage like any other.
func TestMultiRecordReplay(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, Config[testCfg]{})
	mustUpdate(t, st, "count", 1)
	st.Close()
	leaves := func(count int64, path string) []byte {
		var v [8]byte
		for i := range v {
			v[i] = byte(uint64(count) >> (8 * i))
		}
		return appendMulti(nil, []leafValue{
			{path: "count", tag: tagInt, value: v[:]},
			{path: "pair.a", tag: tagInt, value: v[:]},
			{path: path, tag: tagInt, value: v[:]},
		})
	}
	appendFile(t, filepath.Join(dir, segName(1)), appendRecord(nil, &record{version: 2, time: 1, kind: recMulti, tag: tagMulti, value: leaves(7, "pair.b")}))
	st = openDir(t, dir, Config[testCfg]{})
	if c := st.Load().Value(); st.Load().Version() != 2 || c.Count != 7 || c.Pair.A != 7 || c.Pair.B != 7 {
		t.Fatalf("multi record: version %d %+v", st.Load().Version(), c)
	}
	st.Close()
	appendFile(t, filepath.Join(dir, segName(1)), appendRecord(nil, &record{version: 3, time: 1, kind: recMulti, tag: tagMulti, value: leaves(9, "nope")}))
	st = openDir(t, dir, Config[testCfg]{})
	defer st.Close()
	if c := st.Load().Value(); st.Load().Version() != 2 || c.Count != 7 {
		t.Fatalf("half-applied multi record: version %d %+v", st.Load().Version(), c)
	}
	if _, err := decodeMulti(leaves(1, "x")[:5]); !errors.Is(err, ErrCorrupt) {
		t.Fatal(err)
	}
}

// A durable T that does not survive encoding/json is refused, naming the
// field.
func TestCheckJSONNamesTheField(t *testing.T) {
	type cfg struct {
		Name string
		Key  redacting
	}
	_, err := Open(cfg{Name: "a", Key: "k"}, Config[cfg]{Dir: t.TempDir()})
	if !errors.Is(err, ErrOption) || !strings.Contains(err.Error(), `"key"`) {
		t.Fatalf("%v", err)
	}
	type ok struct {
		Name string
		Key  redacting `cfg:",secret"`
	}
	st, err := Open(ok{Name: "a", Key: "k"}, Config[ok]{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// redacting always marshals as "x", like a secret type.
type redacting string

func (redacting) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }
