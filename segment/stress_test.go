package segment

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentScans runs scanners against a writer that appends, flushes,
// seals, deletes by sequence and is bounded by size, so segments are
// created and removed under the scans. Every scan must see strictly rising
// sequences without a gap inside what it read, each record intact (its
// data is its sequence), and no error; at the end the log holds exactly the
// sequences from the low-water mark (or the first kept) to the last.
func TestConcurrentScans(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Config{Codec: None, BlockSize: MinBlockSize, MaxBytes: MinMaxBytes, NoSync: true})
	require.NoError(t, err)
	defer l.Close()
	n := 60000
	if raceEnabled {
		n = 15000
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	var scans atomic.Int64
	errs := make(chan error, 4)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for !done.Load() {
				var prev uint64
				q := Query{}
				if g == 1 {
					q.Key = Key("even")
				}
				for r, err := range l.Scan(q) {
					if err != nil {
						errs <- err
						return
					}
					if got := binary.LittleEndian.Uint64(r.Data); got != r.Seq || r.Time != int64(r.Seq) {
						errs <- errorf("record %d holds %d", r.Seq, got)
						return
					}
					if prev != 0 && (r.Seq <= prev || (g != 1 && r.Seq != prev+1)) {
						errs <- errorf("scan %d: %d after %d", g, r.Seq, prev)
						return
					}
					if g == 1 && r.Seq%2 != 0 {
						errs <- errorf("key scan returned odd %d", r.Seq)
						return
					}
					prev = r.Seq
				}
				scans.Add(1)
			}
		}(g)
	}
	data := make([]byte, 64)
	for i := 1; i <= n; i++ {
		binary.LittleEndian.PutUint64(data, uint64(i))
		keys := []uint64{Key("odd")}
		if i%2 == 0 {
			keys[0] = Key("even")
		}
		seq, err := l.Append(Record{Time: int64(i), Keys: keys, Data: data})
		require.NoError(t, err)
		require.Equal(t, uint64(i), seq)
		switch {
		case i%997 == 0:
			require.NoError(t, l.Seal())
		case i%301 == 0:
			require.NoError(t, l.Flush())
		case i%5003 == 0:
			require.NoError(t, l.DeleteBefore(uint64(i-2000)))
		}
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Greater(t, scans.Load(), int64(0))
	st := l.Stats()
	require.Greater(t, st.DroppedSegments, int64(0))
	var first, last, count uint64
	for r, err := range l.Scan(Query{}) {
		require.NoError(t, err)
		if first == 0 {
			first = r.Seq
		}
		last = r.Seq
		count++
	}
	require.Equal(t, uint64(n), last)
	require.Equal(t, last-first+1, count)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
