package nats_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/elixirscope-go/foundation"
	fnats "github.com/elixirscope-go/foundation/nats"
)

// BenchmarkExport measures events exported per second: Export calls of one
// batch each, every event acknowledged by a file-backed stream.
func BenchmarkExport(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			s := startServer(b, server.Options{})
			_, js := connect(b, s.ClientURL())
			ctx := context.Background()
			exp, err := fnats.NewExporter(ctx, js, fnats.ExporterConfig{})
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]foundation.Event, size)
			data := []byte(`{"user":"u-1234","action":"login","ok":true}`)
			var id uint64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += size {
				for j := range batch {
					id++
					batch[j] = foundation.Event{ID: id, Type: "user.login", Time: int64(id), Data: data}
				}
				if err := exp.Export(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(id)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkConfigPropagation measures the delay from Replicator.Update on
// one instance to the change reaching a subscriber of another instance's
// ConfigService, p50 and p99.
func BenchmarkConfigPropagation(b *testing.B) {
	s := startServer(b, server.Options{})
	newInst := func(js jetstream.JetStream) (*foundation.Foundation, *fnats.Replicator) {
		f, err := foundation.New(foundation.WithEventCapacity(1000))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		r, err := fnats.NewReplicator(context.Background(), f, js, fnats.ReplicatorConfig{Paths: []string{"capture.processing.batch_size"}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		return f, r
	}
	_, jsa := connect(b, s.ClientURL())
	_, jsb := connect(b, s.ClientURL())
	_, ra := newInst(jsa)
	fb, _ := newInst(jsb)
	sub := fb.Config().Subscribe()
	defer sub.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v := 1 + i%1000
		if v == 100 { // the default: no change would be seen
			v = 1001
		}
		start := time.Now()
		if err := ra.Update(ctx, "capture.processing.batch_size", v); err != nil {
			b.Fatal(err)
		}
		for ch := range sub.C() {
			if ch.New == v {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
