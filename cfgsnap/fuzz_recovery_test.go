package cfgsnap

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// recoveryTemplate is a real data directory made once per test binary: 14
// acknowledged changes (leaf updates and whole-value records, snapshots
// every 4, so two snapshots, pruned segments and a live one), plus one
// change whose fsync failed (its record is in the file and superseded by a
// new segment). want[v] is the state acknowledged at version v.
type recoveryTemplate struct {
	dir    string
	files  []string // base names, sorted (LOCK excluded)
	acked  uint64
	want   map[uint64]crashCfg
	bounds map[int64]bool // record boundaries of the newest segment
	last   string         // the newest segment's name
}

var (
	tmplOnce sync.Once
	tmpl     recoveryTemplate
	tmplErr  error
)

func recoveryFixture(tb testing.TB) *recoveryTemplate {
	tmplOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cfgsnap-fuzz-")
		if err != nil {
			tmplErr = err
			return
		}
		tmpl = recoveryTemplate{dir: dir, want: map[uint64]crashCfg{0: {}}, bounds: map[int64]bool{0: true}}
		failSync := false
		opts := crashOpts(dir)
		opts.SnapshotEvery = 4
		opts.fault = func(op, name string) error {
			if failSync && op == "sync" {
				return errors.New("injected EIO")
			}
			return nil
		}
		st, err := Open(crashCfg{}, opts)
		if err != nil {
			tmplErr = err
			return
		}
		for i := 1; i <= 14; i++ {
			var ch Change
			if i%3 == 0 {
				ch, err = st.Update("seq", int64(i))
			} else {
				ch, err = st.UpdateFunc(func(c *crashCfg) error { c.Seq, c.A, c.B = int64(i), int64(i), int64(i); return nil })
			}
			if err != nil {
				tmplErr = err
				return
			}
			tmpl.want[ch.Version] = st.Load().Value()
			if i == 10 {
				failSync = true
				if _, err := st.Update("seq", int64(999)); err == nil {
					tmplErr = errors.New("injected fsync failure not reported")
					return
				}
				failSync = false
			}
		}
		tmpl.acked = st.Load().Version()
		st.Close()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != lockName {
				tmpl.files = append(tmpl.files, e.Name())
			}
		}
		sort.Strings(tmpl.files)
		for _, n := range tmpl.files {
			if strings.HasPrefix(n, "wal-") {
				tmpl.last = n
			}
		}
		b, _ := os.ReadFile(filepath.Join(dir, tmpl.last))
		for off := 0; off < len(b); {
			_, n, err := decodeRecord(b[off:])
			if err != nil {
				break
			}
			off += n
			tmpl.bounds[int64(off)] = true
		}
	})
	if tmplErr != nil {
		tb.Fatal(tmplErr)
	}
	return &tmpl
}

// FuzzRecovery damages a copy of a real data directory (up to two byte
// flips and a truncation, in any of its files) and opens it. Recovery never
// panics or fails, never recovers a version that was not acknowledged (nor
// the change whose fsync failed), recovers exactly the state acknowledged at
// the version it reports, reports every acknowledged version it drops
// (except when a truncation falls exactly on a record boundary of the
// newest segment, which looks like changes never made), and a second Open
// finds the same state with nothing more to repair.
func FuzzRecovery(f *testing.F) {
	tp := recoveryFixture(f)
	f.Add(uint8(0), uint32(0), uint8(0), uint8(0), uint32(0), uint8(0), uint8(0), uint32(0))
	for i := range tp.files {
		f.Add(uint8(i), uint32(40), uint8(1), uint8(i), uint32(90), uint8(0x80), uint8(0), uint32(0))
		f.Add(uint8(i), uint32(0), uint8(0), uint8(0), uint32(0), uint8(0), uint8(i), uint32(50))
		f.Add(uint8(i), uint32(200), uint8(4), uint8(0), uint32(0), uint8(0), uint8(i), uint32(1))
	}
	f.Fuzz(func(t *testing.T, f1 uint8, o1 uint32, x1 uint8, f2 uint8, o2 uint32, x2 uint8, ft uint8, cut uint32) {
		dir := t.TempDir()
		data := map[string][]byte{}
		for _, n := range tp.files {
			b, err := os.ReadFile(filepath.Join(tp.dir, n))
			if err != nil {
				t.Fatal(err)
			}
			data[n] = b
		}
		flip := func(fi uint8, off uint32, x uint8) {
			b := data[tp.files[int(fi)%len(tp.files)]]
			if len(b) > 0 && x != 0 {
				b[int(off)%len(b)] ^= x
			}
		}
		flip(f1, o1, x1)
		flip(f2, o2, x2)
		silentOK := false
		if cut != 0 {
			n := tp.files[int(ft)%len(tp.files)]
			b := data[n]
			c := int(cut) % (len(b) + 1)
			data[n] = b[:c]
			silentOK = n == tp.last && tp.bounds[int64(c)]
		}
		for n, b := range data {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		st, err := Open(crashCfg{}, crashOpts(dir))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		s, r := st.Load(), st.Recovery()
		st.Close()
		v := s.Version()
		want, ok := tp.want[v]
		switch {
		case v > tp.acked || !ok:
			t.Fatalf("recovered version %d, acknowledged %d", v, tp.acked)
		case s.Value() != want:
			t.Fatalf("version %d: recovered %+v, acknowledged %+v", v, s.Value(), want)
		case v < tp.acked && len(r.Problems) == 0 && !silentOK:
			t.Fatalf("dropped versions %d-%d without a report", v+1, tp.acked)
		case r.LostLast != 0 && (r.LostFirst != v+1 || r.LostLast < r.LostFirst):
			t.Fatalf("lost %d-%d at version %d", r.LostFirst, r.LostLast, v)
		}
		st, err = Open(crashCfg{}, crashOpts(dir))
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		s2, r2 := st.Load(), st.Recovery()
		st.Close()
		if s2.Version() != v || s2.Value() != want || r2.LostLast != 0 || r2.CorruptSnapshots != 0 {
			t.Fatalf("second open: version %d (first %d), %+v", s2.Version(), v, r2)
		}
	})
}
