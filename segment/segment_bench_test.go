package segment

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// benchEvent has the JSON shape of the root package's Event.
type benchEvent struct {
	ID            uint64 `json:"id"`
	Type          string `json:"type"`
	Time          int64  `json:"time"`
	CorrelationID string `json:"correlation_id,omitempty"`
	ParentID      uint64 `json:"parent_id,omitempty"`
	Data          []byte `json:"data,omitempty"`
}

// benchEvents returns n JSON events. "seed" is the seed table's event:
// type.<i%16>, corr-<i/16%64>, 64 zero bytes of data. "varied" carries a
// small JSON document with per-event values, closer to real payloads.
func benchEvents(workload string, n int) []Record {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]Record, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range out {
		ev := benchEvent{ID: uint64(i + 1), Type: "type." + strconv.Itoa(i&15), Time: t0 + int64(i)*1000 + rng.Int64N(1000),
			CorrelationID: "corr-" + strconv.Itoa((i>>4)&63)}
		switch workload {
		case "seed":
			ev.Data = make([]byte, 64)
		case "varied":
			ev.ParentID = uint64(max(0, i-rng.IntN(50)))
			ev.Data = fmt.Appendf(nil, `{"user":"u%d","path":"/api/v1/items/%d","status":%d,"latency_us":%d}`,
				rng.IntN(5000), rng.IntN(100000), []int{200, 200, 200, 404, 500}[rng.IntN(5)], rng.IntN(200000))
		}
		b, _ := json.Marshal(ev)
		out[i] = Record{Time: ev.Time, Keys: []uint64{Key(ev.Type), Key(ev.CorrelationID)}, Data: b}
	}
	return out
}

// BenchmarkAppend appends JSON events with the default block size and an
// fsync per block, and reports bytes on disk per event and the compression
// ratio (JSON bytes / bytes on disk, indexes included).
func BenchmarkAppend(b *testing.B) {
	for _, workload := range []string{"seed", "varied"} {
		evs := benchEvents(workload, 1<<16)
		jsonBytes := 0
		for _, r := range evs {
			jsonBytes += len(r.Data)
		}
		for _, codec := range []Codec{None, Gzip, Zstd} {
			b.Run(fmt.Sprintf("events=%s/codec=%v", workload, codec), func(b *testing.B) {
				l, err := Open(b.TempDir(), Config{Codec: codec})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if _, err := l.Append(evs[i&(len(evs)-1)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := l.Seal(); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.StopTimer()
				st := l.Stats()
				jb := float64(jsonBytes) / float64(len(evs)) * float64(b.N)
				b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
				b.ReportMetric(float64(st.DiskBytes)/float64(b.N), "disk-B/event")
				b.ReportMetric(jb/float64(b.N), "json-B/event")
				b.ReportMetric(jb/float64(st.DiskBytes), "ratio")
			})
		}
	}
}

// BenchmarkScan reads back every record of a 100k-event log.
func BenchmarkScan(b *testing.B) {
	const n = 100_000
	evs := benchEvents("varied", n)
	for _, codec := range []Codec{None, Gzip, Zstd} {
		b.Run(fmt.Sprintf("codec=%v", codec), func(b *testing.B) {
			l, err := Open(b.TempDir(), Config{Codec: codec, NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			for _, r := range evs {
				if _, err := l.Append(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Seal(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := 0
				for _, err := range l.Scan(Query{}) {
					if err != nil {
						b.Fatal(err)
					}
					c++
				}
				if c != n {
					b.Fatalf("read %d", c)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

var keyQueryOnce sync.Once
var keyQueryDir string

// BenchmarkKeyQuery finds the 100 records carrying a rare key among N
// records on disk (zstd): N is 1M, or 10M with SEGMENT_BENCH_10M=1. The
// log is built once per process, outside the timer, and removed by
// TestMain.
func BenchmarkKeyQuery(b *testing.B) {
	n := 1_000_000
	if os.Getenv("SEGMENT_BENCH_10M") != "" {
		n = 10_000_000
	}
	rare := Key("the-rare-correlation")
	keyQueryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "segment-keyquery")
		if err != nil {
			b.Fatal(err)
		}
		keyQueryDir = dir
		l, err := Open(dir, Config{Codec: Zstd, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		evs := benchEvents("varied", 1<<16)
		start := time.Now()
		for i := 0; i < n; i++ {
			r := evs[i&(len(evs)-1)]
			if i%(n/100) == n/200 {
				r.Keys = []uint64{r.Keys[0], rare}
			}
			if _, err := l.Append(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		st, _ := dirSize(dir)
		b.Logf("built %d records, %d MB on disk, in %v", n, st>>20, time.Since(start))
	})
	l, err := Open(keyQueryDir, Config{Codec: Zstd, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			hits := 0
			for _, err := range l.Scan(Query{Key: rare}) {
				if err != nil {
					b.Fatal(err)
				}
				hits++
			}
			if hits != 100 {
				b.Fatalf("%d hits", hits)
			}
		}
	})
}

func dirSize(dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n, err
}

// BenchmarkOpen opens a directory of SEGMENT_BENCH_OPEN_MB megabytes of
// segments (default 64; the figure is 1024): incompressible data,
// 64 MiB segments, all indexed but the active one, which Open checks block
// by block. The total stops 1 MiB short so that the active segment is
// nearly full (the worst case).
func BenchmarkOpen(b *testing.B) {
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("SEGMENT_BENCH_OPEN_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := b.TempDir()
	l, err := Open(dir, Config{Codec: None, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 400)
	for l.Stats().DiskBytes < int64(mb)<<20-1<<20 {
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if _, err := l.Append(Record{Time: time.Now().UnixNano(), Keys: []uint64{rng.Uint64()}, Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	size, _ := dirSize(dir)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, err := Open(dir, Config{Codec: None, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if len(l.Recovery().Problems) != 0 {
			b.Fatal(l.Recovery().Problems)
		}
		l.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "MB")
}
