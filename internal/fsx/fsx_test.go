package fsx

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("SyncDir of a missing dir: %v, want not-exist", err)
	}
}

func TestUnlockReleases(t *testing.T) {
	name := filepath.Join(t.TempDir(), "LOCK")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	g, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		t.Fatal("a second flock succeeded while the first was held")
	}
	if err := Unlock(f); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("flock after Unlock: %v", err)
	}
}

// MkdirAll fsyncs the parent of every directory it creates, and only those;
// a failing fsync is its error.
func TestMkdirAllSyncsParents(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c")
	var synced []string
	rec := func(d string) error { synced = append(synced, d); return SyncDir(d) }
	if err := MkdirAll(dir, 0o700, rec); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "a", "b"), filepath.Join(root, "a"), root}
	if len(synced) != len(want) {
		t.Fatalf("synced %v, want %v", synced, want)
	}
	for i := range want {
		if synced[i] != want[i] {
			t.Fatalf("synced %v, want %v", synced, want)
		}
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("%s not made: %v", dir, err)
	}
	synced = nil
	if err := MkdirAll(dir, 0o700, rec); err != nil || len(synced) != 0 {
		t.Fatalf("existing dir: err %v, synced %v", err, synced)
	}
	os.Remove(dir)
	if err := MkdirAll(dir, 0o700, func(string) error { return syscall.EIO }); err != syscall.EIO {
		t.Fatalf("failing fsync: %v", err)
	}
	if err := MkdirAll(filepath.Join(root, "x"), 0o700, nil); err != nil {
		t.Fatal(err)
	}
}
