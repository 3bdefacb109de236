package foundation_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/metrics"
)

func ExampleNew() {
	f, err := foundation.New(foundation.WithEventCapacity(10_000))
	if err != nil {
		panic(err)
	}
	defer f.Close()

	cfg := f.Config().Get().Config() // one atomic load
	fmt.Println(cfg.Storage.Hot.MaxEvents, cfg.AI.Planning.SamplingRate)
	fmt.Println(f.Health().Status)
	// Output:
	// 10000 1
	// running
}

func ExampleConfigService_Update() {
	f, _ := foundation.New()
	defer f.Close()
	cs := f.Config()

	if err := cs.Update("ai.planning.sampling_rate", 0.25); err != nil {
		panic(err)
	}
	err := cs.Update("ai.planning.sampling_rate", 1.5)
	fmt.Println(errors.Is(err, foundation.ErrRange), errors.Is(err, foundation.ErrValidation))
	err = cs.Update("ai.provider", "openai")
	fmt.Println(errors.Is(err, foundation.ErrUpdateForbidden))

	snap := cs.Get()
	fmt.Println(snap.Version(), snap.Config().AI.Planning.SamplingRate)
	// Output:
	// true true
	// true
	// 1 0.25
}

func ExampleConfigService_Subscribe() {
	f, _ := foundation.New()
	defer f.Close()
	sub := f.Config().Subscribe()
	defer sub.Close()

	_ = f.Config().Update("interface.max_results", 50)
	_ = f.Config().Reset()
	for i := 0; i < 2; i++ {
		c := <-sub.C()
		fmt.Println(c.Kind, c.Path, c.Version)
	}
	// Output:
	// updated interface.max_results 1
	// reset  2
}

func ExampleFoundation_Go() {
	f, _ := foundation.New()
	done := make(chan struct{})
	_ = f.Go("worker", func(ctx context.Context) error {
		close(done)
		<-ctx.Done() // cancelled by Close
		return nil
	}, foundation.WithRestart(foundation.Transient))
	<-done
	_ = f.Close() // waits for the worker
	fmt.Println(f.Health().Tasks["worker"].State)
	// Output:
	// stopped
}

// A labelled histogram, declared the way telemetry_metrics declares one:
// the event's measurement "duration" (ns) goes to the series picked by the
// metadata's "route" and "status".
func ExampleTelemetry_HistogramVec() {
	f, _ := foundation.New()
	defer f.Close()
	tel := f.Telemetry()

	lat, err := tel.HistogramVec("http.request.stop.duration",
		foundation.MetricDesc{Tags: []string{"route", "status"}, Unit: metrics.Nanoseconds})
	if err != nil {
		panic(err)
	}
	tel.Execute("http.request.stop", foundation.Measurements{"duration": 2e6},
		foundation.Metadata{"route": "/users", "status": 200})
	tel.Execute("http.request.stop", foundation.Measurements{"duration": 3e6},
		foundation.Metadata{"route": "/users", "status": 200})

	users := lat.With("/users", "200") // bound once: no lookup per Record
	users.Record(4_000_000)
	s := users.Snapshot()
	fmt.Println(s.Count, s.Unit)
	// Output: 3 ns
}
