package foundation_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/elixirscope-go/foundation"
)

// BenchmarkStoreSubscribed: Store with one subscription to every event,
// drained by a goroutine (its buffer the maximum, so that drops are rare
// and the subscriber's work is counted). The figures to compare are this
// and BenchmarkStore's impl=foundation (no subscription); received/op and
// dropped/op tell how much of the stream reached the subscriber.
func BenchmarkStoreSubscribed(b *testing.B) {
	f, err := foundation.New(foundation.WithEventCapacity(benchCap))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	es := f.Events()
	for i := 0; i < benchCap; i++ {
		_, _ = es.Store(benchEvent(i))
	}
	sub := es.Subscribe(foundation.Query{}, foundation.SubscriptionBuffer(foundation.MaxSubscriptionBuffer))
	var received int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range sub.C() {
			received++
		}
	}()
	runTimed(b, func(i int) { _, _ = es.Store(benchEvent(i)) })
	sub.Close()
	wg.Wait()
	b.ReportMetric(float64(received)/float64(b.N), "received/op")
	b.ReportMetric(float64(sub.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkSubscribeLatency: how long an event takes from the start of
// its Store to its receipt by a subscriber that waits for it, one event at
// a time (no queueing behind other events): the delivery's own latency,
// from an idle store. ns/op is the round trip; p50/p99 are the latency.
func BenchmarkSubscribeLatency(b *testing.B) {
	f, err := foundation.New(foundation.WithEventCapacity(benchCap))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	es := f.Events()
	sub := es.Subscribe(foundation.Query{Type: "ping"})
	h := hdrhistogram.New(1, int64(time.Second), 3)
	ev := foundation.Event{Type: "ping", Data: make([]byte, 8)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.LittleEndian.PutUint64(ev.Data, uint64(mono()))
		if _, err := es.Store(ev); err != nil {
			b.Fatal(err)
		}
		e := <-sub.C()
		_ = h.RecordValue(int64(mono()) - int64(binary.LittleEndian.Uint64(e.Data)))
	}
	b.StopTimer()
	b.ReportMetric(float64(h.ValueAtQuantile(50)), "p50-ns")
	b.ReportMetric(float64(h.ValueAtQuantile(99)), "p99-ns")
	b.ReportMetric(float64(h.ValueAtQuantile(99.9)), "p999-ns")
	sub.Close()
}
