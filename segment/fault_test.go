package segment

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// fill appends records until one triggers a block write, returning the
// sequences appended (the last one is the record whose Append wrote).
func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
}

func seqs(t *testing.T, l *Log) []uint64 {
	t.Helper()
	var out []uint64
	for r, err := range l.Scan(Query{}) {
		require.NoError(t, err)
		out = append(out, r.Seq)
	}
	return out
}

func iota1(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

// TestWriteFaults: a failed write, a failed fsync and a full disk each fail
// the call with ErrWrite and the OS error, change nothing (the file is cut
// back, the records stay pending), show in Health, and the log goes on once
// the fault clears; a reopen finds nothing torn and nothing lost.
func TestWriteFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault func(*faultFS)
		want  error
	}{
		{"write", func(f *faultFS) { f.writeErr = syscall.EIO }, syscall.EIO},
		{"fsync", func(f *faultFS) { f.syncErr = syscall.EIO }, syscall.EIO},
		{"full-disk", func(f *faultFS) { f.space = 100 }, syscall.ENOSPC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			cfg := withFS(Config{Codec: Zstd}, fsys)
			l, err := Open(dir, cfg)
			require.NoError(t, err)
			appendN(t, l, 1, 50)
			require.NoError(t, l.Flush())
			size := l.Stats().DiskBytes
			appendN(t, l, 51, 10)

			fsys.set(c.fault)
			err = l.Flush()
			require.ErrorIs(t, err, ErrWrite)
			require.ErrorIs(t, err, c.want)
			require.ErrorIs(t, l.Health(), ErrWrite)
			st := l.Stats()
			require.Equal(t, size, st.DiskBytes)
			require.Equal(t, 10, st.Pending)
			require.Equal(t, int64(1), st.WriteErrors)
			fi, err := os.Stat(filepath.Join(dir, segFile(1)))
			require.NoError(t, err)
			require.Equal(t, size, fi.Size(), "file cut back")
			// A full block failing inside Append: that record is refused.
			for i := 61; ; i++ {
				_, err := l.Append(rec(i))
				if err != nil {
					require.ErrorIs(t, err, ErrWrite)
					break
				}
			}
			pending := l.Stats().Pending
			require.Equal(t, iota1(50+pending), seqs(t, l))

			fsys.set(clearFaults)
			require.NoError(t, l.Flush())
			require.NoError(t, l.Health())
			seq, err := l.Append(rec(1))
			require.NoError(t, err)
			require.Equal(t, uint64(51+pending), seq)
			require.NoError(t, l.Close())

			l, err = Open(dir, cfg)
			require.NoError(t, err)
			defer l.Close()
			require.Empty(t, l.Recovery().Problems)
			require.Equal(t, iota1(51+pending), seqs(t, l))
		})
	}
}

// TestCutBackFails: when the file cannot be cut back after a failed write,
// the log refuses writes (ErrFailed) until reopened; the reopen cuts the
// partial block off and keeps every flushed record.
func TestCutBackFails(t *testing.T) {
	dir := t.TempDir()
	fsys := newFaultFS()
	cfg := withFS(Config{Codec: Gzip}, fsys)
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	appendN(t, l, 1, 30)
	require.NoError(t, l.Flush())
	appendN(t, l, 31, 5)
	fsys.set(func(f *faultFS) { f.writeErr, f.truncErr = syscall.EIO, syscall.EIO })
	require.ErrorIs(t, l.Flush(), ErrFailed)
	_, err = l.Append(rec(1))
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, l.DeleteBefore(3), ErrFailed)
	require.ErrorIs(t, l.Health(), ErrFailed)
	require.Equal(t, iota1(35), seqs(t, l), "reads go on")
	require.NoError(t, l.Close())

	fsys.set(clearFaults)
	l, err = Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	require.Greater(t, l.Recovery().TornBytes, int64(0))
	require.Equal(t, iota1(30), seqs(t, l))
}

// TestIndexAndCreateFaults: a seal whose index cannot be written, or a new
// segment that cannot be created or whose directory entry cannot be synced,
// fails with ErrWrite and changes nothing.
func TestIndexAndCreateFaults(t *testing.T) {
	for _, name := range []string{"create", "dirsync"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fsys := newFaultFS()
			cfg := withFS(Config{BlockSize: MinBlockSize}, fsys)
			l, err := Open(dir, cfg)
			require.NoError(t, err)
			defer l.Close()
			appendN(t, l, 1, 40)
			require.NoError(t, l.Flush())
			segs := l.Stats().Segments
			fsys.set(func(f *faultFS) {
				if name == "create" {
					f.createErr = syscall.EACCES
				} else {
					f.dirErr = syscall.EIO
				}
			})
			require.ErrorIs(t, l.Seal(), ErrWrite)
			_, err = os.Stat(filepath.Join(dir, "00000000000000000001.idx"))
			require.ErrorIs(t, err, os.ErrNotExist)
			require.Equal(t, segs, l.Stats().Segments)
			appendN(t, l, 41, 5)
			require.NoError(t, l.Flush(), "still appends to the unsealed segment")
			fsys.set(clearFaults)
			require.NoError(t, l.Seal())
			appendN(t, l, 46, 5)
			require.NoError(t, l.Flush())
			require.Equal(t, segs+1, l.Stats().Segments)
			require.Equal(t, iota1(50), seqs(t, l))
		})
	}
}

// TestDeletedDir: writes after the directory is deleted fail (the segment
// file has no name any more) instead of pretending to be durable; Health
// says so; a reopen starts over in a new directory.
func TestDeletedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "warm")
	l, err := Open(dir, Config{})
	require.NoError(t, err)
	appendN(t, l, 1, 10)
	require.NoError(t, l.Flush())
	require.NoError(t, os.RemoveAll(dir))
	appendN(t, l, 11, 3)
	err = l.Flush()
	require.ErrorIs(t, err, ErrWrite)
	require.ErrorIs(t, l.Health(), ErrWrite)
	require.ErrorIs(t, l.Seal(), ErrWrite)
	require.ErrorIs(t, l.Close(), ErrWrite, "the pending block cannot be made durable")

	l, err = Open(dir, Config{})
	require.NoError(t, err)
	defer l.Close()
	require.Empty(t, seqs(t, l))
}

// TestPlantedSymlink: a symlink planted where the next segment or an index
// temp file will be created is not followed; its target is untouched.
func TestPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(victim, []byte("precious"), 0o600))
	l, err := Open(dir, Config{BlockSize: MinBlockSize})
	require.NoError(t, err)
	defer l.Close()
	appendN(t, l, 1, 20)
	require.NoError(t, l.Flush())
	next := l.Stats().NextSeq
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "00000000000000000001.idx.tmp")))
	require.NoError(t, l.Seal(), "the stale temp name is removed, not followed")
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, segFile(next))))
	appendN(t, l, 21, 3)
	err = l.Flush()
	require.ErrorIs(t, err, ErrWrite)
	require.True(t, errors.Is(err, os.ErrExist), "%v", err)
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	require.Equal(t, "precious", string(b))
	require.NoError(t, os.Remove(filepath.Join(dir, segFile(next))))
	require.NoError(t, l.Flush())
	require.Equal(t, iota1(23), seqs(t, l))
}

// TestRealFullDisk fills a small tmpfs (skipped where mounting is not
// allowed): the write fails with ENOSPC and nothing flushed is lost.
func TestRealFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	l, err := Open(dir, Config{Codec: None})
	require.NoError(t, err)
	defer l.Close()
	flushed := 0
	for i := 1; ; i++ {
		_, err := l.Append(Record{Time: int64(i), Data: make([]byte, 4000)})
		if err == nil && i%5 == 0 {
			err = l.Flush()
			if err == nil {
				flushed = i
			}
		}
		if err != nil {
			require.ErrorIs(t, err, ErrWrite)
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	got := seqs(t, l)
	require.GreaterOrEqual(t, len(got), flushed)
	require.Equal(t, iota1(len(got)), got)
}
