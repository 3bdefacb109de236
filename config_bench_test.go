package foundation_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/elixirscope-go/foundation"
)

// sink keeps results alive so that the compiler can't discard the reads.
var sink struct {
	f   float64
	v   any
	u   uint64
	cfg foundation.Config
}

func BenchmarkConfigGet(b *testing.B) {
	f, _ := foundation.New()
	defer f.Close()
	cs := f.Config()
	b.Run("field", func(b *testing.B) {
		b.ReportAllocs()
		var x float64
		for i := 0; i < b.N; i++ {
			x += cs.Get().Config().AI.Planning.SamplingRate
		}
		sink.f = x
	})
	b.Run("field/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var mu sync.Mutex
		b.RunParallel(func(pb *testing.PB) {
			var x float64
			for pb.Next() {
				x += cs.Get().Config().AI.Planning.SamplingRate
			}
			mu.Lock()
			sink.f += x
			mu.Unlock()
		})
	})
	b.Run("version", func(b *testing.B) {
		b.ReportAllocs()
		var x uint64
		for i := 0; i < b.N; i++ {
			x += cs.Get().Version()
		}
		sink.u = x
	})
	b.Run("whole-config", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sink.cfg = cs.Get().Config()
		}
	})
}

func BenchmarkConfigLookup(b *testing.B) {
	f, _ := foundation.New()
	defer f.Close()
	cs := f.Config()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v, _ := cs.Lookup("ai.planning.sampling_rate")
		sink.v = v
	}
}

func BenchmarkConfigUpdate(b *testing.B) {
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprintf("durable=%v", durable), func(b *testing.B) {
			opts := []foundation.Option{}
			if durable {
				opts = append(opts, foundation.WithDataDir(b.TempDir()))
			}
			f, err := foundation.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			cs := f.Config()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := cs.Update("interface.max_results", 1+i%1000); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestConfigGetAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	f := newF(t)
	cs := f.Config()
	if n := testing.AllocsPerRun(1000, func() { sink.f = cs.Get().Config().AI.Planning.SamplingRate }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
	tel := f.Telemetry()
	c, h := tel.Counter("c"), tel.Histogram("h")
	m := foundation.Measurements{"counter": 1, "duration": 120}
	tel.Execute("ev", m, nil) // first call binds the handles
	if n := testing.AllocsPerRun(1000, func() { c.Add(1); h.Record(5); tel.Execute("ev", m, nil) }); n != 0 {
		t.Fatalf("telemetry hot path allocates %v times", n)
	}
}

func BenchmarkConfigField(b *testing.B) {
	f, _ := foundation.New()
	defer f.Close()
	rate, err := foundation.Field[float64](f.Config(), "ai.planning.sampling_rate")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		var x float64
		for i := 0; i < b.N; i++ {
			x += rate.Get()
		}
		sink.f = x
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var mu sync.Mutex
		b.RunParallel(func(pb *testing.PB) {
			var x float64
			for pb.Next() {
				x += rate.Get()
			}
			mu.Lock()
			sink.f += x
			mu.Unlock()
		})
	})
}

// BenchmarkConfigUpdateMany prices three paths as one UpdateMany against
// three Updates (op = the three paths).
func BenchmarkConfigUpdateMany(b *testing.B) {
	vals := [2][3]any{{0.5, 100, true}, {0.25, 200, false}}
	maps := [2]map[string]any{}
	for i := range maps {
		maps[i] = map[string]any{"ai.planning.sampling_rate": vals[i][0], "interface.max_results": vals[i][1], "dev.verbose_logging": vals[i][2]}
	}
	b.Run("update-many-3", func(b *testing.B) {
		f, _ := foundation.New()
		defer f.Close()
		cs := f.Config()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := cs.UpdateMany(maps[i&1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update-x3", func(b *testing.B) {
		f, _ := foundation.New()
		defer f.Close()
		cs := f.Config()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			v := &vals[i&1]
			if cs.Update("ai.planning.sampling_rate", v[0]) != nil || cs.Update("interface.max_results", v[1]) != nil ||
				cs.Update("dev.verbose_logging", v[2]) != nil {
				b.Fatal("update failed")
			}
		}
	})
}

// An in-memory Update allocates less than once per call: its share of a
// block of snapshots and of the event store's record arena, nothing else
// (no box for the old value, no wrapper, no event Data).
func TestConfigUpdateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	cs := newF(t).Config()
	vals := [2]any{0.5, 0.25}
	i := 0
	if n := testing.AllocsPerRun(2000, func() {
		i++
		if err := cs.Update("ai.planning.sampling_rate", vals[i&1]); err != nil {
			t.Fatal(err)
		}
	}); n >= 1 {
		t.Fatalf("Update allocates %v times per call", n)
	}
}
