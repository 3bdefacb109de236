package bench

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/segment"
)

// warmEvent has the JSON shape of foundation.Event.
type warmEvent struct {
	ID            uint64 `json:"id"`
	Type          string `json:"type"`
	Time          int64  `json:"time"`
	CorrelationID string `json:"correlation_id,omitempty"`
	ParentID      uint64 `json:"parent_id,omitempty"`
	Data          []byte `json:"data,omitempty"`
}

// warmEvents returns n JSON events shaped like the seed table's (type.<i%16>,
// corr-<i/16%64>, 64 bytes of data) with their times.
func warmEvents(n int) ([][]byte, []int64) {
	out, times := make([][]byte, n), make([]int64, n)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range out {
		ev := warmEvent{ID: uint64(i + 1), Type: "type." + strconv.Itoa(i&15), Time: t0 + int64(i)*1000,
			CorrelationID: "corr-" + strconv.Itoa((i>>4)&63), Data: make([]byte, 64)}
		out[i], _ = json.Marshal(ev)
		times[i] = ev.Time
	}
	return out, times
}

const warmBatch = 20_000

// BenchmarkWarmAppendRead appends 20k seed-shaped JSON events to an
// embedded store and reads them back, per op: impl=segment (this module's
// segment log, fsync per 64 KiB block) against impl=jetstream (an
// in-process nats-server's JetStream file store on loopback, published
// asynchronously, read back with an ordered consumer; sync=default is
// nats-server's 2-minute background sync, sync=always an fsync per
// message). Reports events/s and bytes on disk per event.
func BenchmarkWarmAppendRead(b *testing.B) {
	evs, times := warmEvents(warmBatch)
	for _, codec := range []segment.Codec{segment.None, segment.Zstd} {
		b.Run("impl=segment/codec="+codec.String(), func(b *testing.B) {
			l, err := segment.Open(b.TempDir(), segment.Config{Codec: codec, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j, e := range evs {
					if _, err := l.Append(segment.Record{Time: times[j], Data: e}); err != nil {
						b.Fatal(err)
					}
				}
				if err := l.Flush(); err != nil {
					b.Fatal(err)
				}
				first := l.Stats().NextSeq - warmBatch
				n := 0
				for _, err := range l.Scan(segment.Query{FromSeq: first}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != warmBatch {
					b.Fatalf("read %d", n)
				}
			}
			b.ReportMetric(float64(warmBatch)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(l.Stats().DiskBytes)/float64(warmBatch*b.N), "disk-B/event")
		})
	}
	for _, c := range []struct {
		name string
		sync bool
		comp jetstream.StoreCompression
	}{{"sync=default/codec=none", false, jetstream.NoCompression}, {"sync=default/codec=s2", false, jetstream.S2Compression},
		{"sync=always/codec=none", true, jetstream.NoCompression}} {
		b.Run("impl=jetstream/"+c.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
				NoLog: true, NoSigs: true, SyncAlways: c.sync})
			if err != nil {
				b.Fatal(err)
			}
			s.Start()
			defer func() { s.Shutdown(); s.WaitForShutdown() }()
			if !s.ReadyForConnections(10 * time.Second) {
				b.Fatal("nats server not ready")
			}
			nc, err := natsgo.Connect(s.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "WARM", Subjects: []string{"warm.>"},
				Storage: jetstream.FileStorage, Compression: c.comp})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, e := range evs {
					if _, err := js.PublishAsync("warm.events", e, jetstream.WithStallWait(time.Minute)); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(time.Minute):
					b.Fatal("publish did not complete")
				}
				info, err := st.Info(ctx)
				if err != nil {
					b.Fatal(err)
				}
				cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
					DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: info.State.LastSeq - warmBatch + 1})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for n < warmBatch {
					batch, err := cons.Fetch(min(1000, warmBatch-n), jetstream.FetchMaxWait(10*time.Second))
					if err != nil {
						b.Fatal(err)
					}
					for range batch.Messages() {
						n++
					}
					if err := batch.Error(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			info, err := st.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(warmBatch)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(info.State.Bytes)/float64(info.State.Msgs), "stored-B/event")
			b.ReportMetric(float64(dirBytes(dir))/float64(info.State.Msgs), "disk-B/event")
		})
	}
}

func dirBytes(dir string) int64 {
	var n int64
	_ = walk(dir, func(size int64) { n += size })
	return n
}

// BenchmarkWarmStore: sustained Store of seed-shaped events (one
// goroutine, steady state in a 100k ring) with the warm tier off and on
// (zstd, default flush interval and batch size), in the same run: Store's
// own p50/p99 (every 16th Store timed into an HDR histogram) and events/s.
// With spill=on the events.warm task copies events on the other core; what
// the ring overwrites first is reported as warm-dropped/op.
func BenchmarkWarmStore(b *testing.B) {
	for _, spill := range []bool{false, true} {
		name := "spill=off"
		if spill {
			name = "spill=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = 100_000
			if spill {
				cfg.Storage.Warm.Enable = true
				cfg.Storage.Warm.Path = b.TempDir()
				cfg.Storage.Warm.MaxSizeMB = 256
			}
			f, err := foundation.New(foundation.WithConfig(cfg))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			es := f.Events()
			ev := foundation.Event{Type: "type.1", CorrelationID: "corr-1", Data: make([]byte, 64)}
			for i := 0; i < 100_000; i++ {
				_, _ = es.Store(ev)
			}
			h := hdrhistogram.New(1, int64(time.Second), 3)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if i&15 == 0 {
					t0 := time.Now()
					_, _ = es.Store(ev)
					_ = h.RecordValue(int64(time.Since(t0)))
					continue
				}
				_, _ = es.Store(ev)
			}
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")
			b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")
			if spill {
				b.ReportMetric(float64(es.Stats().Warm.Dropped)/float64(b.N), "warm-dropped/op")
			}
		})
	}
}
