package segment

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func rec(i int) Record {
	return Record{Time: int64(i) * 10, Keys: []uint64{Key(fmt.Sprintf("k%d", i%7)), Key(fmt.Sprintf("id%d", i))},
		Data: []byte(fmt.Sprintf(`{"id":%d,"type":"t%d","payload":"%s"}`, i, i%5, bytes.Repeat([]byte("x"), i%50)))}
}

func collect(t testing.TB, l *Log, q Query) []Record {
	t.Helper()
	var out []Record
	for r, err := range l.Scan(q) {
		require.NoError(t, err)
		out = append(out, Record{Seq: r.Seq, Time: r.Time, Keys: slices.Clone(r.Keys), Data: slices.Clone(r.Data)})
	}
	return out
}

func TestRoundTripCodecs(t *testing.T) {
	for _, c := range []Codec{None, Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir, Config{Codec: c, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, NoSync: true})
			require.NoError(t, err)
			const n = 3000
			for i := 1; i <= n; i++ {
				seq, err := l.Append(rec(i))
				require.NoError(t, err)
				require.Equal(t, uint64(i), seq)
			}
			check := func(l *Log) {
				got := collect(t, l, Query{})
				require.Equal(t, n, len(got))
				for i, r := range got {
					want := rec(i + 1)
					require.Equal(t, uint64(i+1), r.Seq)
					require.Equal(t, want.Time, r.Time)
					require.Equal(t, want.Keys, r.Keys)
					require.Equal(t, want.Data, r.Data)
				}
				// Key query: every 7th record.
				got = collect(t, l, Query{Key: Key("k3")})
				require.Equal(t, (n+3)/7, len(got))
				for _, r := range got {
					require.Equal(t, uint64(3), r.Seq%7)
				}
				got = collect(t, l, Query{Key: Key("id1234")})
				require.Equal(t, 1, len(got))
				require.Equal(t, uint64(1234), got[0].Seq)
				// Sequence and time ranges.
				got = collect(t, l, Query{FromSeq: 100, ToSeq: 200})
				require.Equal(t, 100, len(got))
				require.Equal(t, uint64(100), got[0].Seq)
				got = collect(t, l, Query{FromTime: 5000, ToTime: 6000})
				require.Equal(t, 100, len(got))
				require.Equal(t, int64(5000), got[0].Time)
				// Backwards, with a key.
				got = collect(t, l, Query{Key: Key("k3"), Reverse: true, ToSeq: 2000})
				require.Equal(t, 286, len(got)) // 3, 10, ..., 1998
				for i, r := range got {
					require.Equal(t, uint64(1998-7*i), r.Seq)
					require.Equal(t, rec(int(r.Seq)).Data, r.Data)
				}
			}
			check(l) // pending block included
			st := l.Stats()
			require.Greater(t, st.Segments, 1)
			require.Equal(t, int64(n), st.Records)
			require.NoError(t, l.Close())
			l, err = Open(dir, Config{Codec: c, NoSync: true})
			require.NoError(t, err)
			defer l.Close()
			require.Empty(t, l.Recovery().Problems)
			check(l)
			seq, err := l.Append(rec(n + 1))
			require.NoError(t, err)
			require.Equal(t, uint64(n+1), seq)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Config{})
	require.NoError(t, err)
	_, err = Open(dir, Config{})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	_, err = l.Append(rec(1))
	require.ErrorIs(t, err, ErrClosed)

	for _, c := range []Config{{BlockSize: 10}, {SegmentSize: 1}, {MaxBytes: 5}, {Codec: 9}} {
		_, err := Open(t.TempDir(), c)
		require.ErrorIs(t, err, ErrConfig)
	}
	_, err = ParseCodec("lz4")
	require.ErrorIs(t, err, ErrConfig)

	// A symlink as the directory, a file as the directory.
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(dir, link))
	_, err = Open(link, Config{})
	require.ErrorIs(t, err, ErrDir)
	fileDir := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(fileDir, nil, 0o600))
	_, err = Open(fileDir, Config{})
	require.ErrorIs(t, err, ErrDir)

	l, err = Open(dir, Config{})
	require.NoError(t, err)
	_, err = l.Append(Record{Data: make([]byte, MaxRecordBytes+1)})
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = l.Append(Record{Keys: make([]uint64, MaxKeys+1)})
	require.ErrorIs(t, err, ErrTooLarge)
	require.NoError(t, l.Close())
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "warm")
	l, err := Open(dir, Config{BlockSize: MinBlockSize})
	require.NoError(t, err)
	for i := 0; i < 200; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Seal())
	require.NoError(t, l.DeleteBefore(2))
	require.NoError(t, l.Close())
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	for _, e := range ents {
		info, err := e.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), e.Name())
	}
}

func TestDeleteBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Codec: Zstd, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, NoSync: true}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	for i := 1; i <= 5000; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	segs := l.Stats().Segments
	require.NoError(t, l.DeleteBefore(2500))
	got := collect(t, l, Query{})
	require.Equal(t, 2501, len(got))
	require.Equal(t, uint64(2500), got[0].Seq)
	require.Less(t, l.Stats().Segments, segs)
	require.NoError(t, l.DeleteBeforeTime(30000)) // seq 3000 has time 30000
	got = collect(t, l, Query{})
	require.Equal(t, uint64(3000), got[0].Seq)
	require.NoError(t, l.Close())

	l, err = Open(dir, cfg)
	require.NoError(t, err)
	got = collect(t, l, Query{})
	require.Equal(t, 2001, len(got))
	require.Equal(t, uint64(3000), got[0].Seq)
	// Deleting past the end moves the next sequence; the last record stays
	// readable with Hidden until its segment is reclaimed.
	require.NoError(t, l.DeleteBefore(9000))
	require.Empty(t, collect(t, l, Query{}))
	last := collect(t, l, Query{Hidden: true, Reverse: true})
	require.Equal(t, uint64(5000), last[0].Seq)
	seq, err := l.Append(rec(1))
	require.NoError(t, err)
	require.Equal(t, uint64(9000), seq)
	require.NoError(t, l.Close())
}

func TestMaxBytes(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Codec: None, BlockSize: MinBlockSize, MaxBytes: MinMaxBytes, NoSync: true}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	n := 0
	for l.Stats().DroppedSegments < 3 {
		n++
		_, err := l.Append(rec(n))
		require.NoError(t, err)
		require.LessOrEqual(t, l.Stats().DiskBytes, cfg.MaxBytes)
	}
	st := l.Stats()
	got := collect(t, l, Query{})
	require.Equal(t, int64(n)-st.DroppedRecords, int64(len(got)))
	require.Equal(t, uint64(st.DroppedRecords+1), got[0].Seq)
	require.Equal(t, uint64(n), got[len(got)-1].Seq)
}

func TestCorruptLowWater(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Config{NoSync: true})
	require.NoError(t, err)
	for i := 1; i <= 10; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.DeleteBefore(5))
	require.NoError(t, l.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, lowName), []byte("garbage"), 0o600))
	l, err = Open(dir, Config{NoSync: true})
	require.NoError(t, err)
	defer l.Close()
	require.NotEmpty(t, l.Recovery().Problems)
	// Nothing is lost: the hidden records reappear rather than vanish.
	require.Equal(t, 10, len(collect(t, l, Query{})))
	_, err = os.Stat(filepath.Join(dir, lowName+".corrupt"))
	require.NoError(t, err)
}

func TestScanReportsCorruptBlock(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Codec: Zstd, BlockSize: MinBlockSize, NoSync: true}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	for i := 1; i <= 500; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Seal())
	_, err = l.Append(rec(501))
	require.NoError(t, err)
	lay := layout(l)
	b := lay[2]
	f, err := os.OpenFile(b.Path, os.O_RDWR, 0)
	require.NoError(t, err)
	one := []byte{0}
	_, err = f.ReadAt(one, b.Off+b.Size/2)
	require.NoError(t, err)
	one[0] ^= 0x40
	_, err = f.WriteAt(one, b.Off+b.Size/2)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var errs, n int
	for r, err := range l.Scan(Query{}) {
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			errs++
			continue
		}
		require.False(t, r.Seq >= b.First && r.Seq < b.First+uint64(b.Count))
		n++
	}
	require.Equal(t, 1, errs)
	require.Equal(t, 501-int(b.Count), n)
	require.Equal(t, int64(1), l.Stats().CorruptBlocks)
	require.NoError(t, l.Close())

	// The next open repairs the segment and sets the original aside.
	l, err = Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	rc := l.Recovery()
	require.Equal(t, 1, len(rc.CorruptFiles))
	require.Greater(t, rc.LostBytes, int64(0))
	require.Equal(t, 501-int(b.Count), len(collect(t, l, Query{})))
	_, err = os.Stat(filepath.Join(dir, rc.CorruptFiles[0]))
	require.NoError(t, err)
}

func TestIndexRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Codec: None, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, NoSync: true}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	for i := 1; i <= 3000; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	idx, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
	require.Greater(t, len(idx), 1)
	require.NoError(t, os.Remove(idx[0]))
	require.NoError(t, os.WriteFile(idx[1], []byte("SGI1 broken"), 0o600))
	l, err = Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, 2, l.Recovery().RebuiltIndexes)
	require.Equal(t, 3000, len(collect(t, l, Query{})))
	require.Equal(t, 1, len(collect(t, l, Query{Key: Key("id77")})))
	_, err = os.Stat(idx[0])
	require.NoError(t, err)
}

func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Config{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	// A symlink planted as a segment.
	target := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.WriteFile(target, nil, 0o600))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, segFile(1))))
	_, err = Open(dir, Config{})
	require.ErrorIs(t, err, ErrDir)
	require.NoError(t, os.Remove(filepath.Join(dir, segFile(1))))
	// A symlink planted as the lock file.
	require.NoError(t, os.Remove(filepath.Join(dir, lockName)))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, lockName)))
	_, err = Open(dir, Config{})
	require.ErrorIs(t, err, ErrDir)
	require.True(t, errors.Is(err, ErrDir))
}

// TestScanAcrossClose: a scan that started before Close reads to its end
// (files and coders stay open for it) and reports nothing corrupt.
func TestScanAcrossClose(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Codec: Zstd, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, NoSync: true}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	for i := 1; i <= 3000; i++ {
		_, err := l.Append(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, l.Seal())
	n := 0
	for r, err := range l.Scan(Query{}) {
		require.NoError(t, err)
		require.Equal(t, rec(int(r.Seq)).Data, r.Data)
		if n++; n == 10 {
			require.NoError(t, l.Close())
		}
	}
	require.Equal(t, 3000, n)
	require.Equal(t, int64(0), l.Stats().CorruptBlocks)
	for _, err := range l.Scan(Query{}) {
		require.ErrorIs(t, err, ErrClosed)
	}
	l, err = Open(dir, cfg)
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, 0, l.Recovery().RebuiltIndexes)
}

// TestNarrow: blocks outside the range Narrow returns are not read; the
// records of the blocks it admits are all yielded.
func TestNarrow(t *testing.T) {
	l, err := Open(t.TempDir(), Config{Codec: Zstd, BlockSize: MinBlockSize, NoSync: true})
	require.NoError(t, err)
	defer l.Close()
	for i := 1; i <= 3000; i++ {
		_, err := l.Append(rec(i)) // Time = 10 * seq
		require.NoError(t, err)
	}
	calls := 0
	q := Query{Narrow: func() (int64, int64) { calls++; return 10_000, 12_000 }}
	var got []uint64
	for r, err := range l.Scan(q) {
		require.NoError(t, err)
		got = append(got, r.Seq)
	}
	require.Greater(t, calls, 1)
	require.Subset(t, got, iota1(1200)[999:])                // every record of [10000, 12000)
	require.Less(t, len(got), 600, "blocks outside skipped") // blocks hold ~20 records
	for i := 1; i < len(got); i++ {
		require.Equal(t, got[i-1]+1, got[i])
	}
}
