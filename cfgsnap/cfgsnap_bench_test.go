package cfgsnap

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

type provider string

func (provider) EnumValues() []string { return []string{"mock", "openai", "anthropic", "gemini"} }

// bigCfg has 35 leaves, the shape of the default schema of the root package.
type bigCfg struct {
	AI struct {
		Provider provider
		APIKey   string `cfg:",secret"`
		Model    string
		Analysis struct {
			MaxFileSize int
			Timeout     time.Duration
			CacheTTL    time.Duration
		}
		Planning struct {
			PerformanceTarget float64
			SamplingRate      float64
			DefaultStrategy   mode
		}
	} `cfg:"ai"`
	Capture struct {
		RingBuffer struct {
			Size, MaxEvents  int
			OverflowStrategy string
			NumBuffers       int
		}
		Processing struct {
			BatchSize     int
			FlushInterval time.Duration
			MaxQueueSize  int
		}
		VMTracing struct {
			EnableSpawnTrace, EnableExitTrace, EnableMessageTrace, TraceChildren bool
		} `cfg:"vm_tracing"`
	}
	Storage struct {
		Hot struct {
			MaxEvents, MaxAgeSeconds int
			PruneInterval            time.Duration
		}
		Warm struct {
			Enable      bool
			Path        string
			MaxSizeMB   int `cfg:"max_size_mb"`
			Compression string
		}
		Cold struct{ Enable bool }
	}
	Interface struct {
		QueryTimeout    time.Duration
		MaxResults      int
		EnableStreaming bool
	}
	Dev struct {
		DebugMode, VerboseLogging, PerformanceMonitoring bool
	}
}

func bigDefaults() bigCfg {
	var c bigCfg
	c.AI.Provider, c.AI.Model = "mock", "gpt-4"
	c.AI.Analysis.MaxFileSize, c.AI.Analysis.Timeout, c.AI.Analysis.CacheTTL = 1000000, 30*time.Second, time.Hour
	c.AI.Planning.PerformanceTarget, c.AI.Planning.SamplingRate, c.AI.Planning.DefaultStrategy = 0.01, 1, "balanced"
	c.Capture.RingBuffer.Size, c.Capture.RingBuffer.MaxEvents, c.Capture.RingBuffer.OverflowStrategy = 1024, 1000, "drop_oldest"
	c.Capture.Processing.BatchSize, c.Capture.Processing.FlushInterval, c.Capture.Processing.MaxQueueSize = 100, 50*time.Millisecond, 1000
	c.Storage.Hot.MaxEvents, c.Storage.Hot.MaxAgeSeconds, c.Storage.Hot.PruneInterval = 100000, 3600, time.Minute
	c.Storage.Warm.Path, c.Storage.Warm.MaxSizeMB, c.Storage.Warm.Compression = "./data", 100, "zstd"
	c.Interface.QueryTimeout, c.Interface.MaxResults, c.Interface.EnableStreaming = 10*time.Second, 1000, true
	c.Dev.PerformanceMonitoring = true
	return c
}

func validateBig(c *bigCfg) error {
	switch {
	case c.AI.Analysis.MaxFileSize <= 0, c.AI.Analysis.Timeout <= 0, c.AI.Analysis.CacheTTL <= 0:
		return errors.New("analysis")
	case c.AI.Planning.PerformanceTarget < 0:
		return errors.New("performance_target")
	case c.AI.Planning.SamplingRate < 0 || c.AI.Planning.SamplingRate > 1:
		return errors.New("sampling_rate")
	case c.Capture.RingBuffer.Size <= 0, c.Capture.Processing.BatchSize <= 0, c.Interface.MaxResults <= 0:
		return errors.New("sizes")
	}
	return nil
}

func openBig(b *testing.B, opts Config[bigCfg]) *Store[bigCfg] {
	opts.Validate = validateBig
	st, err := Open(bigDefaults(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

var (
	sinkF float64
	sinkU uint64
)

func BenchmarkLoad(b *testing.B) {
	st := openBig(b, Config[bigCfg]{})
	rate, _ := Field[bigCfg, float64](st, "ai.planning.sampling_rate")
	b.Run("load", func(b *testing.B) {
		b.ReportAllocs()
		var n uint64
		for range b.N { // not b.Loop, so that what is measured is the inlined load
			n += st.Load().Version()
		}
		sinkU = n
	})
	b.Run("handle", func(b *testing.B) {
		b.ReportAllocs()
		var s float64
		for range b.N {
			s += rate.Get(st.Load())
		}
		sinkF = s
	})
	b.Run("lookup", func(b *testing.B) { // the unbound form, for comparison
		b.ReportAllocs()
		for b.Loop() {
			v, _ := st.Lookup("ai.planning.sampling_rate")
			sinkF += v.(float64)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s float64
			for pb.Next() {
				s += rate.Get(st.Load())
			}
			atomic.AddUint64(new(uint64), uint64(s)) // keep s alive
		})
	})
	b.Run("parallel/reads=99%", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			var s float64
			for i := 0; pb.Next(); i++ {
				if i%100 == 99 {
					st.Update("capture.processing.batch_size", int(n.Add(1)%1000+1))
					continue
				}
				s += rate.Get(st.Load())
			}
			atomic.AddUint64(new(uint64), uint64(s))
		})
	})
}

func BenchmarkUpdate(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		st := openBig(b, Config[bigCfg]{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := st.Update("capture.processing.batch_size", i%1000+1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memory/parallel", func(b *testing.B) {
		st := openBig(b, Config[bigCfg]{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := st.Update("interface.max_results", i%1000+1); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("memory/func", func(b *testing.B) {
		st := openBig(b, Config[bigCfg]{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.UpdateFunc(func(c *bigCfg) error { c.Dev.DebugMode = !c.Dev.DebugMode; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("durable", func(b *testing.B) {
		st := openBig(b, Config[bigCfg]{Dir: b.TempDir()})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := st.Update("capture.processing.batch_size", i%1000+1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("durable/parallel=8", func(b *testing.B) { // group commit
		st := openBig(b, Config[bigCfg]{Dir: b.TempDir()})
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := st.Update("interface.max_results", i%1000+1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.StopTimer()
		st.commitMu.Lock()
		b.ReportMetric(float64(st.Load().Version())/float64(max(st.d.syncs, 1)), "changes/fsync")
		st.commitMu.Unlock()
	})
	b.Run("durable/nosync", func(b *testing.B) {
		st := openBig(b, Config[bigCfg]{Dir: b.TempDir(), NoSync: true})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := st.Update("capture.processing.batch_size", i%1000+1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReopen opens a directory holding 100,000 log records (and no
// snapshot): the recovery cost.
func BenchmarkReopen(b *testing.B) {
	const records = 100_000
	dir := b.TempDir()
	opts := Config[bigCfg]{Dir: dir, NoSync: true, SnapshotEvery: 1 << 30, Validate: validateBig}
	st, err := Open(bigDefaults(), opts)
	if err != nil {
		b.Fatal(err)
	}
	for i := range records {
		if _, err := st.Update("capture.processing.batch_size", i%1000+1); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	fi, _ := os.Stat(dir + "/" + segName(1))
	b.ReportAllocs()
	for b.Loop() {
		st, err := Open(bigDefaults(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if r := st.Recovery(); r.Replayed != records || len(r.Problems) != 0 {
			b.Fatalf("%+v", r)
		}
		st.Close()
	}
	b.ReportMetric(float64(fi.Size())/records, "bytes/record")
}
