package segment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// model is what the log must hold: every record by sequence, the low-water
// mark, and the records that damage may have destroyed (suspect).
type model struct {
	recs    map[uint64]Record
	lowSeq  uint64
	lowTime int64
	suspect map[uint64]bool
}

func (m *model) visible(seq uint64) bool {
	r, ok := m.recs[seq]
	return ok && seq >= m.lowSeq && r.Time >= m.lowTime
}

func (m *model) sorted() []uint64 {
	var out []uint64
	for s := range m.recs {
		if m.visible(s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// TestModel runs random appends, flushes, seals, deletions by sequence,
// time and size, clean and crashed reopens, torn tails and flipped bytes
// against a map model. After each reopen and every few steps the whole log
// is compared with the model: each record read equals the model's, in
// order; a record may be missing only if damage touched its block (then it
// leaves the model) or it is a prefix dropped by MaxBytes. SEED replays a
// run; SEGMENT_MODEL_STEPS sets the steps per run.
func TestModel(t *testing.T) {
	seed := uint64(rand.Int64())
	if v, err := strconv.ParseUint(os.Getenv("SEED"), 10, 64); err == nil {
		seed = v
	}
	steps := 1500
	if raceEnabled {
		steps = 600
	}
	if v, err := strconv.Atoi(os.Getenv("SEGMENT_MODEL_STEPS")); err == nil {
		steps = v
	}
	for run, codec := range []Codec{Zstd, Gzip, None, Zstd} {
		t.Run(fmt.Sprintf("%v-%d", codec, run), func(t *testing.T) {
			s := seed + uint64(run)
			t.Logf("SEED=%d (this run: %d)", seed, s)
			runModel(t, rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)), codec, run == 3, steps)
		})
	}
}

func runModel(t *testing.T, rng *rand.Rand, codec Codec, bounded bool, steps int) {
	dir := t.TempDir()
	cfg := Config{Codec: codec, BlockSize: MinBlockSize, SegmentSize: MinSegmentSize, NoSync: true}
	if bounded {
		cfg.MaxBytes = MinMaxBytes
	}
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	defer func() { l.Close() }()
	m := &model{recs: map[uint64]Record{}, suspect: map[uint64]bool{}}
	now := int64(1_000_000)
	keys := []uint64{Key("a"), Key("b"), Key("c"), Key("d")}
	// durable is the first sequence still pending: a crash loses it and
	// everything after.
	durable := func() uint64 { st := l.Stats(); return st.NextSeq - uint64(st.Pending) }

	verify := func() {
		t.Helper()
		want := m.sorted()
		var got []Record
		for r, err := range l.Scan(Query{}) {
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				continue
			}
			got = append(got, Record{Seq: r.Seq, Time: r.Time, Keys: slices.Clone(r.Keys), Data: slices.Clone(r.Data)})
		}
		gi := 0
		dropped := false
		for _, seq := range want {
			if gi < len(got) && got[gi].Seq == seq {
				w := m.recs[seq]
				require.Equal(t, w.Time, got[gi].Time, "seq %d", seq)
				require.True(t, slices.Equal(w.Keys, got[gi].Keys), "seq %d keys", seq)
				require.True(t, bytes.Equal(w.Data, got[gi].Data), "seq %d data", seq)
				gi++
				delete(m.suspect, seq)
				continue
			}
			switch {
			case m.suspect[seq]:
			case cfg.MaxBytes > 0 && gi == 0:
				dropped = true // a prefix removed by the size bound
			default:
				require.Failf(t, "record missing", "seq %d (of %d wanted, %d read)", seq, len(want), len(got))
			}
			delete(m.recs, seq)
			delete(m.suspect, seq)
		}
		require.Equal(t, len(got), gi, "records read that the model does not hold")
		if dropped {
			require.Greater(t, l.Stats().DroppedSegments, int64(0))
		}
		if cfg.MaxBytes > 0 {
			require.LessOrEqual(t, l.Stats().DiskBytes, cfg.MaxBytes)
		}
	}
	query := func() {
		t.Helper()
		want := m.sorted()
		if len(want) == 0 {
			return
		}
		var q Query
		switch rng.IntN(3) {
		case 0:
			q.FromSeq = want[rng.IntN(len(want))]
			q.ToSeq = q.FromSeq + uint64(rng.IntN(300))
		case 1:
			q.FromTime = m.recs[want[rng.IntN(len(want))]].Time
			q.ToTime = q.FromTime + int64(rng.IntN(5000))
		case 2:
			q.Key = keys[rng.IntN(len(keys))]
		}
		q.Reverse = rng.IntN(2) == 0
		var exp []uint64
		for _, seq := range want {
			r := m.recs[seq]
			if seq < q.FromSeq || (q.ToSeq != 0 && seq >= q.ToSeq) || r.Time < q.FromTime ||
				(q.ToTime != 0 && r.Time >= q.ToTime) || (q.Key != 0 && !slices.Contains(r.Keys, q.Key)) {
				continue
			}
			exp = append(exp, seq)
		}
		if q.Reverse {
			slices.Reverse(exp)
		}
		var got []uint64
		for r, err := range l.Scan(q) {
			if err != nil {
				// A block verify already found damaged (its records left
				// the model); it is repaired at the next open.
				require.ErrorIs(t, err, ErrCorrupt)
				continue
			}
			got = append(got, r.Seq)
		}
		require.Equal(t, exp, got, "query %+v", q)
	}
	reopen := func() {
		t.Helper()
		var err error
		l, err = Open(dir, cfg)
		require.NoError(t, err)
		verify()
	}
	// damage marks as suspect every record of the blocks that overlap
	// [off, off+n) of path, and every record of later blocks of path when
	// cut is set.
	damage := func(lay []blockLoc, path string, off, n int64, cut bool) {
		for _, b := range lay {
			if b.Path == path && (b.Off < off+n && b.Off+b.Size > off || cut && b.Off >= off) {
				for s := b.First; s < b.First+uint64(b.Count); s++ {
					m.suspect[s] = true
				}
			}
		}
	}

	for step := 0; step < steps; step++ {
		switch p := rng.IntN(100); {
		case p < 70:
			now += int64(rng.IntN(1000)) - 100
			r := Record{Time: now, Data: bytes.Repeat([]byte{byte(step)}, rng.IntN(200))}
			if rng.IntN(50) == 0 {
				r.Data = bytes.Repeat([]byte("big"), 1000+rng.IntN(2000))
			}
			for _, k := range keys {
				if rng.IntN(3) == 0 {
					r.Keys = append(r.Keys, k)
				}
			}
			seq, err := l.Append(r)
			require.NoError(t, err)
			m.recs[seq] = r
		case p < 76:
			require.NoError(t, l.Flush())
		case p < 79:
			require.NoError(t, l.Seal())
		case p < 81:
			want := m.sorted()
			if len(want) > 0 {
				s := want[rng.IntN(len(want))]
				require.NoError(t, l.DeleteBefore(s))
				m.lowSeq = max(m.lowSeq, s)
			}
		case p < 82:
			want := m.sorted()
			if len(want) > 0 {
				tm := m.recs[want[rng.IntN(len(want))]].Time
				require.NoError(t, l.DeleteBeforeTime(tm))
				m.lowTime = max(m.lowTime, tm)
			}
		case p < 85:
			require.NoError(t, l.Close())
			reopen()
		case p < 88:
			// Crash: the pending block is lost.
			d := durable()
			crash(l)
			for s := range m.recs {
				if s >= d {
					delete(m.recs, s)
				}
			}
			reopen()
		case p < 91:
			// Torn tail: cut the last segment anywhere.
			lay, d := layout(l), durable()
			crash(l)
			for s := range m.recs {
				if s >= d {
					delete(m.recs, s)
				}
			}
			if len(lay) > 0 {
				last := lay[len(lay)-1]
				st, err := os.Stat(last.Path)
				require.NoError(t, err)
				if st.Size() > 0 {
					at := rng.Int64N(st.Size())
					require.NoError(t, os.Truncate(last.Path, at))
					damage(lay, last.Path, at, st.Size()-at, true)
				}
			}
			reopen()
		case p < 94:
			// A flipped byte in a random segment or index.
			require.NoError(t, l.Flush())
			lay := layout(l)
			require.NoError(t, l.Close())
			files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			idx, _ := filepath.Glob(filepath.Join(dir, "*.idx"))
			files = append(files, idx...)
			if len(files) > 0 {
				f := files[rng.IntN(len(files))]
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				if len(b) > 0 {
					at := rng.IntN(len(b))
					b[at] ^= byte(1 << rng.IntN(8))
					require.NoError(t, os.WriteFile(f, b, 0o600))
					if filepath.Ext(f) == segExt {
						damage(lay, f, int64(at), 1, false)
					}
				}
			}
			reopen()
		default:
			query()
		}
		if step%50 == 0 {
			verify()
		}
	}
	verify()
	for i := 0; i < 20; i++ {
		query()
	}
}
