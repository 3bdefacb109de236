package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elixirscope-go/foundation/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLayout(t *testing.T) {
	assert.Equal(t, uintptr(pad.CacheLine), unsafe.Sizeof(cell{}), "counter stripe = one cache line")
	assert.Equal(t, uintptr(pad.CacheLine), unsafe.Sizeof(Gauge{}), "gauge = one cache line")
	assert.Equal(t, uintptr(1024), unsafe.Sizeof(chunk{}))
	r := NewRegistry(WithStripes(4))
	c := r.Counter("x")
	for i := range c.cells {
		assert.Zero(t, uintptr(unsafe.Pointer(&c.cells[i]))%pad.CacheLine, "cell %d aligned", i)
	}
	assert.Equal(t, uintptr(pad.FalseSharingRange), unsafe.Offsetof(r.on))
}

// seed prints and returns the seed of a randomized test.
func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return s
}

func TestGeometryMatchesHDR(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 1))
	for _, tc := range []struct {
		lowest, highest int64
		sig             int
	}{
		{1, DefaultHighest, 3},
		{1, 1_000_000, 1},
		{1000, 1e9, 2},
		{7, 1e10, 4},
		{1, 10_000_000, 5},
		{1, DefaultHighest, 5},
		{1 << 20, math.MaxInt64, 3},
		{3, 6, 1},
	} {
		t.Run("", func(t *testing.T) {
			g, err := newGeometry(tc.lowest, tc.highest, tc.sig)
			require.NoError(t, err)
			hd := hdrhistogram.New(tc.lowest, tc.highest, tc.sig)
			require.Equal(t, len(hd.Export().Counts), g.countsLen)
			ours := make([]int64, g.countsLen)
			values := []int64{0, 1, tc.lowest, tc.lowest - 1, tc.highest, tc.highest - 1, tc.highest / 2}
			for b := 0; b < 63; b++ {
				for _, d := range []int64{-1, 0, 1} {
					if v := int64(1)<<b + d; v >= 0 && v <= tc.highest {
						values = append(values, v)
					}
				}
			}
			for range 4000 {
				values = append(values, int64(rng.Uint64N(uint64(tc.highest)+1)), int64(math.Exp(rng.Float64()*math.Log(float64(tc.highest)))))
			}
			for _, v := range values {
				if v < 0 || v > tc.highest {
					continue
				}
				require.NoError(t, hd.RecordValue(v), v)
				i := g.index(v)
				ours[i]++
				require.True(t, g.lowestAt(i) <= v && v <= g.highestAt(i), "v %d idx %d [%d, %d]", v, i, g.lowestAt(i), g.highestAt(i))
				require.True(t, hd.ValuesAreEquivalent(v, g.lowestAt(i)))
				require.True(t, hd.ValuesAreEquivalent(v, g.highestAt(i)))
			}
			require.Equal(t, hd.Export().Counts, ours)
		})
	}
}

func TestCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		ok   bool
	}{
		{"stripes 0", WithStripes(0), true},
		{"stripes 3", WithStripes(3), true},
		{"stripes -1", WithStripes(-1), false},
		{"stripes huge", WithStripes(MaxStripes + 1), false},
		{"range default", WithHistogramRange(1, DefaultHighest, 3), true},
		{"range lowest 0", WithHistogramRange(0, 100, 3), false},
		{"range highest small", WithHistogramRange(10, 19, 3), false},
		{"range sig 0", WithHistogramRange(1, 100, 0), false},
		{"range sig 6", WithHistogramRange(1, 100, 6), false},
		{"range lowest huge", WithHistogramRange(1<<60, math.MaxInt64, 5), false},
		{"clock nil", WithClock(nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOptions(tc.opt)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalid)
				assert.NotPanics(t, func() { NewRegistry(tc.opt).Histogram("h").Record(1) })
			}
		})
	}
	assert.Equal(t, 4, NewRegistry(WithStripes(3)).Stripes())
	assert.Equal(t, 2, NewRegistry(WithStripes(2), WithStripes(-5)).Stripes(), "invalid ignored, earlier kept")
	assert.Equal(t, 1, NewRegistry(WithStripes(1)).Stripes())
}

func TestCounter(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c")
	assert.Same(t, c, r.Counter("c"))
	assert.Equal(t, "c", c.Name())
	for _, tc := range []struct {
		add  uint64
		want uint64
	}{{0, 0}, {1, 1}, {41, 42}, {math.MaxUint64, math.MaxUint64}, {1, math.MaxUint64}} {
		c.Add(tc.add)
		assert.Equal(t, tc.want, c.Value(), "saturates, never wraps")
	}
	// Two stripes that each hold less than 2^64 but sum to more: Value
	// saturates too.
	r2 := NewRegistry(WithStripes(2))
	c2 := r2.Counter("c")
	c2.cells[0].v.Store(1e19)
	c2.cells[1].v.Store(1e19)
	assert.Equal(t, uint64(math.MaxUint64), c2.Value())
}

func TestGauge(t *testing.T) {
	r := NewRegistry()
	g := r.Gauge("g")
	assert.Same(t, g, r.Gauge("g"))
	for _, tc := range []struct {
		name    string
		op      func()
		want    float64
		dropped uint64
	}{
		{"set", func() { g.Set(2.5) }, 2.5, 0},
		{"add", func() { g.Add(-1) }, 1.5, 0},
		{"set NaN", func() { g.Set(math.NaN()) }, 1.5, 1},
		{"set +Inf", func() { g.Set(math.Inf(1)) }, 1.5, 2},
		{"add -Inf", func() { g.Add(math.Inf(-1)) }, 1.5, 3},
		{"add NaN", func() { g.Add(math.NaN()) }, 1.5, 4},
		{"set max", func() { g.Set(math.MaxFloat64) }, math.MaxFloat64, 4},
		{"add overflow", func() { g.Add(math.MaxFloat64) }, math.MaxFloat64, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.op()
			assert.Equal(t, tc.want, g.Value())
			assert.Equal(t, tc.dropped, g.Dropped())
		})
	}
	assert.Equal(t, uint64(5), r.Snapshot().Dropped)
}

func TestInvalidNames(t *testing.T) {
	r := NewRegistry()
	r.Counter("").Add(5)
	r.Gauge("").Set(5)
	r.Histogram("").Record(5)
	s := r.Snapshot()
	assert.Equal(t, uint64(3), s.InvalidNames)
	assert.Empty(t, s.Counters)
	assert.Empty(t, s.Gauges)
	assert.Empty(t, s.Histograms)
	assert.Zero(t, r.Counter("").Value())
	assert.Zero(t, r.Histogram("").Snapshot().Count)
}

func TestSetEnabled(t *testing.T) {
	r := NewRegistry()
	c, g, h := r.Counter("c"), r.Gauge("g"), r.Histogram("h")
	c.Inc()
	g.Set(1)
	h.Record(1)
	r.SetEnabled(false)
	assert.False(t, r.Enabled())
	c.Add(10)
	g.Set(10)
	g.Add(10)
	h.Record(10)
	assert.Equal(t, uint64(1), c.Value())
	assert.Equal(t, 1.0, g.Value())
	assert.Equal(t, uint64(1), h.Snapshot().Count)
	r.SetEnabled(true)
	c.Inc()
	h.Record(10)
	assert.Equal(t, uint64(2), c.Value())
	assert.Equal(t, uint64(2), h.Snapshot().Count)
	assert.Same(t, c, r.Counter("c"))
}

func TestCounterFunc(t *testing.T) {
	r := NewRegistry()
	var src atomic.Uint64
	src.Store(7) // counted before registration: shown
	c, err := r.CounterFunc("fc", src.Load)
	require.NoError(t, err)
	assert.Same(t, c, r.Counter("fc"), "Counter finds it by name")
	assert.Equal(t, uint64(7), c.Value())
	src.Add(3)
	c.Add(100) // no effect: the source is the count
	assert.Equal(t, uint64(10), r.Snapshot().Counters["fc"])

	r.SetEnabled(false)
	src.Add(5) // while off: never shown
	assert.Equal(t, uint64(10), c.Value())
	r.SetEnabled(false) // no transition
	src.Add(5)
	r.SetEnabled(true)
	assert.Equal(t, uint64(10), c.Value())
	src.Add(2)
	assert.Equal(t, uint64(12), c.Value())
	assert.Equal(t, uint64(12), r.Snapshot().Counters["fc"])

	_, err = r.CounterFunc("fc", src.Load)
	assert.ErrorIs(t, err, ErrInvalidName, "name taken")
	r.Counter("plain")
	_, err = r.CounterFunc("plain", src.Load)
	assert.ErrorIs(t, err, ErrInvalidName, "name taken by a plain counter")
	_, err = r.CounterFunc("", src.Load)
	assert.ErrorIs(t, err, ErrInvalidName)
	_, err = r.CounterFunc("nil", nil)
	assert.ErrorIs(t, err, ErrInvalid)

	r.SetEnabled(false)
	src.Store(50)
	late, err := r.CounterFunc("late", src.Load) // registered while off
	require.NoError(t, err)
	src.Add(1)
	assert.Equal(t, uint64(50), late.Value())
	r.SetEnabled(true)
	src.Add(1)
	assert.Equal(t, uint64(51), late.Value())
}

func TestCounterStress(t *testing.T) {
	const goroutines, adds = 16, 20000
	r := NewRegistry()
	c := r.Counter("c")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var reads sync.WaitGroup
	reads.Add(1)
	go func() { // the folded value only grows
		defer reads.Done()
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			v := c.Value()
			if v < last {
				t.Errorf("value went back: %d < %d", v, last)
				return
			}
			last = v
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range adds {
				c.Add(uint64(1 + (g+i)%3))
			}
		}()
	}
	wg.Wait()
	close(stop)
	reads.Wait()
	var want uint64
	for g := range goroutines {
		for i := range adds {
			want += uint64(1 + (g+i)%3)
		}
	}
	assert.Equal(t, want, c.Value())
}

func TestHistogramBasics(t *testing.T) {
	r := NewRegistry(WithHistogramRange(1, 1_000_000, 3))
	h := r.Histogram("h")
	assert.Same(t, h, r.Histogram("h"))
	empty := h.Snapshot()
	assert.Zero(t, empty.Count)
	assert.Zero(t, empty.Max)
	assert.Zero(t, h.Quantile(0.5))
	assert.Zero(t, empty.Quantile(0.5))
	for _, v := range []int64{-5, 0, 1, 10, 100, 1000, 1_000_000, 2_000_000, math.MaxInt64, math.MinInt64} {
		h.Record(v)
	}
	h.RecordN(500, 3)
	s := h.Snapshot()
	assert.Equal(t, uint64(13), s.Count)
	assert.Equal(t, uint64(4), s.Clamped, "-5, 2e6, MaxInt64, MinInt64")
	assert.Equal(t, int64(0), h.Quantile(0.2), "3 of 13 clamped to 0")
	assert.Equal(t, int64(0), s.Min)
	assert.True(t, h.g.lowestAt(h.g.index(1_000_000)) <= s.Max && s.Max >= 1_000_000)
	var sum uint64
	bs := s.Buckets()
	for i, b := range bs {
		sum += b.Count
		if i > 0 {
			assert.Less(t, bs[i-1].UpperBound, b.UpperBound)
		}
	}
	assert.Equal(t, s.Count, sum, "count = sum of buckets")
	assert.Equal(t, s.P50, s.Quantile(0.5))
	assert.Equal(t, s.P99, h.Quantile(0.99))
	assert.Equal(t, []uint64{3, 4, 5, 6, 9, 9, 13}, s.CumulativeCounts([]int64{0, 1, 10, 100, 500, 999, math.MaxInt64}))
	for _, q := range []float64{math.NaN(), -1, 0, 2, math.Inf(1)} {
		assert.NotPanics(t, func() { h.Quantile(q); s.Quantile(q) })
	}
	hd := s.Histogram()
	assert.Equal(t, int64(13), hd.TotalCount())
	assert.Nil(t, HistogramSnapshot{}.Histogram())
}

func TestHistogramFoldCache(t *testing.T) {
	r := NewRegistry()
	h := r.Histogram("h")
	h.Record(10)
	s1 := h.Snapshot()
	s2 := h.Snapshot()
	assert.Same(t, s1.counts, s2.counts, "unchanged: not refolded")
	h.Record(20)
	s3 := h.Snapshot()
	assert.Equal(t, uint64(2), s3.Count)
	assert.Equal(t, uint64(1), s1.Count, "an older snapshot is immutable")
	assert.Equal(t, []Bucket{{UpperBound: 10, Count: 1}}, s1.Buckets())
	assert.Equal(t, []Bucket{{UpperBound: 10, Count: 1}, {UpperBound: 20, Count: 1}}, s3.Buckets())
}

// TestHistogramPercentiles checks the percentiles against exact ones computed
// from the recorded values, within the HDR precision (10^-sig relative).
func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 2))
	for _, tc := range []struct {
		name string
		gen  func() int64
		sig  int
	}{
		{"uniform", func() int64 { return rng.Int64N(1_000_000) }, 3},
		{"lognormal", func() int64 { return int64(math.Exp(rng.NormFloat64()*2 + 10)) }, 3},
		{"exp sig2", func() int64 { return int64(rng.ExpFloat64() * 5e6) }, 2},
		{"constant", func() int64 { return 12345 }, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry(WithHistogramRange(1, DefaultHighest, tc.sig), WithStripes(4))
			h := r.Histogram("h")
			vals := make([]int64, 50000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			s := h.Snapshot()
			require.Equal(t, uint64(len(vals)), s.Count)
			tol := math.Pow10(-tc.sig)
			near := func(what string, got, want int64) {
				t.Helper()
				assert.InDelta(t, float64(want), float64(got), float64(want)*tol+1, what)
			}
			exact := func(q float64) int64 { // nearest rank, as HDR
				k := int(math.Ceil(q*float64(len(vals)))) - 1
				return vals[max(k, 0)]
			}
			near("min", s.Min, vals[0])
			near("max", s.Max, vals[len(vals)-1])
			near("p50", s.P50, exact(0.5))
			near("p90", s.P90, exact(0.9))
			near("p99", s.P99, exact(0.99))
			near("p999", s.P999, exact(0.999))
			near("p75", h.Quantile(0.75), exact(0.75))
			var sum float64
			for _, v := range vals {
				sum += float64(v)
			}
			assert.InDelta(t, sum/float64(len(vals)), s.Mean, sum/float64(len(vals))*tol+1)
		})
	}
}

// TestFoldMatchesHDR checks that the fold's Min, Max and Mean equal
// hdrhistogram-go's, and that its counts equal those of the library fed the
// same values, after every one of several incremental folds.
func TestFoldMatchesHDR(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 5))
	for _, tc := range []struct {
		lowest, highest int64
		sig             int
	}{{1, DefaultHighest, 3}, {1000, 1e10, 2}, {1, 1e6, 5}} {
		r := NewRegistry(WithHistogramRange(tc.lowest, tc.highest, tc.sig), WithStripes(4))
		h := r.Histogram("h")
		ref := hdrhistogram.New(tc.lowest, tc.highest, tc.sig)
		for round := range 3 {
			for range 1000 * (round + 1) {
				v := int64(math.Exp(rng.Float64() * math.Log(float64(tc.highest))))
				h.Record(v)
				require.NoError(t, ref.RecordValue(v))
			}
			s := h.Snapshot()
			require.Equal(t, uint64(ref.TotalCount()), s.Count)
			require.Equal(t, ref.Min(), s.Min)
			require.Equal(t, ref.Max(), s.Max)
			require.InEpsilon(t, ref.Mean(), s.Mean, 1e-12)
			require.Equal(t, ref.ValueAtPercentile(99.9), s.P999)
			require.Equal(t, ref.Export().Counts, s.Histogram().Export().Counts)
			for _, q := range []float64{0, 0.001, 0.5, 0.77, 1} {
				require.Equal(t, ref.ValueAtQuantile(q*100), h.Quantile(q), "q=%v", q)
			}
		}
	}
}

func TestHistogramStress(t *testing.T) {
	const goroutines, records = 8, 20000
	r := NewRegistry(WithStripes(2)) // fewer stripes than goroutines: shared stripes
	h := r.Histogram("h")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() { // concurrent folds: count rises, equals the sum of buckets
		defer readers.Done()
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := h.Snapshot()
			var sum uint64
			for _, b := range s.Buckets() {
				sum += b.Count
			}
			if s.Count != sum || s.Count < last {
				t.Errorf("count %d, sum of buckets %d, previous %d", s.Count, sum, last)
				return
			}
			last = s.Count
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range records {
				h.Record(rng.Int64N(1 << 40))
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	assert.Equal(t, uint64(goroutines*records), h.Snapshot().Count)
}

func TestRegistrySnapshot(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := NewRegistry(WithClock(clock.NewManual(now)))
	r.Counter("c").Add(3)
	r.Gauge("g").Set(-2)
	r.Histogram("h").Record(7)
	s := r.Snapshot()
	assert.Equal(t, now, s.Time)
	assert.Equal(t, map[string]uint64{"c": 3}, s.Counters)
	assert.Equal(t, map[string]float64{"g": -2}, s.Gauges)
	assert.Equal(t, uint64(1), s.Histograms["h"].Count)
	assert.Equal(t, int64(7), s.Histograms["h"].P50)

	// Later snapshots see the changes; earlier ones keep their values, and a
	// caller writing into its maps changes nothing else.
	r.Counter("c").Add(1)
	r.Counter("d").Add(1)
	r.Gauge("g").Set(5)
	r.Histogram("h").Record(9)
	s.Counters["c"] = 1000
	s2 := r.Snapshot()
	assert.Equal(t, map[string]uint64{"c": 4, "d": 1}, s2.Counters)
	assert.Equal(t, map[string]float64{"g": 5}, s2.Gauges)
	assert.Equal(t, uint64(2), s2.Histograms["h"].Count)
	assert.Equal(t, uint64(1), s.Histograms["h"].Count)
	s2.Counters["d"] = 7
	assert.Equal(t, map[string]uint64{"c": 4, "d": 1}, r.Snapshot().Counters)
}

func TestRegistryConcurrentCreate(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	got := make([]*Counter, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				r.Counter(string(rune('a' + j%26))).Inc()
				r.Histogram(string(rune('a' + j%26))).Record(int64(j))
				_ = r.Snapshot()
			}
			got[i] = r.Counter("a")
		}()
	}
	wg.Wait()
	for _, c := range got {
		assert.Same(t, got[0], c)
	}
	s := r.Snapshot()
	assert.Len(t, s.Counters, 26)
	var total uint64
	for _, v := range s.Counters {
		total += v
	}
	assert.Equal(t, uint64(8*200), total)
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := NewRegistry()
	c, g, h := r.Counter("c"), r.Gauge("g"), r.Histogram("h")
	for v := range int64(1 << 16) { // create the chunks first
		h.Record(v * 7919 % 1_000_000)
	}
	h.Snapshot()
	d := NewDispatcher()
	var n int
	require.NoError(t, d.Attach("a", []string{"e2"}, func(string, Measurements, Metadata) { n++ }))
	require.NoError(t, d.Attach("b", []string{"e2"}, func(string, Measurements, Metadata) { n++ }))
	m := Measurements{"x": 1}
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"Counter.Add", func() { c.Add(3) }},
		{"Gauge.Set", func() { g.Set(1.5) }},
		{"Gauge.Add", func() { g.Add(1.5) }},
		{"Histogram.Record", func() { h.Record(12345) }},
		{"Histogram.Quantile unchanged", func() { h.Quantile(0.9) }},
		{"Histogram.Snapshot unchanged", func() { h.Snapshot() }},
		{"Registry.Counter lookup", func() { r.Counter("c").Inc() }},
		{"Execute no handlers", func() { d.Execute("e0", m, nil) }},
		{"Execute two handlers", func() { d.Execute("e2", m, nil) }},
		{"Handlers", func() { d.Handlers("e2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "Histogram.Quantile unchanged" || tc.name == "Histogram.Snapshot unchanged" {
				h.Snapshot()
			}
			assert.Zero(t, testing.AllocsPerRun(1000, tc.fn))
		})
	}
}

// stepClock is a manual clock that moves by step on every reading.
type stepClock struct {
	*clock.Manual
	step time.Duration
}

func (c stepClock) Now() time.Time {
	c.Add(c.step)
	return c.Manual.Now()
}

var _ = errors.Is

// TestHistogramMemory measures an idle and a lightly used histogram: made,
// fed 100 clustered values from one goroutine, snapshotted twice (each
// fold's buffers kept alive by holding the snapshots).
func TestHistogramMemory(t *testing.T) {
	const n = 500
	r := NewRegistry(WithMaxMetrics(2 * n))
	hs := make([]*Histogram, 0, n)
	snaps := make([]HistogramSnapshot, 0, n)
	var before, idle, used runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		hs = append(hs, r.Histogram("h"+strconv.Itoa(i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&idle)
	for _, h := range hs {
		for v := range 100 {
			h.Record(int64(100_000 + 50*v)) // 100 µs to 105 µs
		}
		_ = h.Snapshot()
		h.Record(101_000)
		snaps = append(snaps, h.Snapshot())
	}
	runtime.GC()
	runtime.ReadMemStats(&used)
	perIdle := (int64(idle.HeapAlloc) - int64(before.HeapAlloc)) / n
	perUsed := (int64(used.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("per histogram (%d stripes): idle %d B, lightly used and folded %d B", r.Stripes(), perIdle, perUsed)
	assert.LessOrEqual(t, perUsed, int64(16<<10))
	runtime.KeepAlive(hs)
	runtime.KeepAlive(snaps)
}

func TestRegistryCap(t *testing.T) {
	var refused []string
	r := NewRegistry(WithMaxMetrics(3), OnRefused(func(name string) { refused = append(refused, name) }))
	a, b := r.Counter("a"), r.Histogram("b")
	v, err := r.HistogramVec("v", Desc{Tags: []string{"k"}})
	require.NoError(t, err)
	assert.Same(t, r.discardC, r.Counter("c"), "the fourth name is refused")
	assert.Same(t, r.discardG, r.Gauge("g"))
	x := v.With("x")
	assert.Same(t, v.v.overflow.m, x, "a series beyond the registry cap overflows")
	a.Add(1)
	b.Record(1)
	_, err = r.CounterVec("w", Desc{})
	assert.ErrorIs(t, err, ErrInvalidName)
	assert.Equal(t, []string{"c"}, refused, "reported once")
	assert.Equal(t, uint64(4), r.Refused(), "c, g, the series x, w")
	assert.Equal(t, uint64(4), r.Snapshot().Refused)
	assert.ErrorIs(t, CheckOptions(WithMaxMetrics(0)), ErrInvalid)
}
