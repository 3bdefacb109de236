package cfgsnap_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/elixirscope-go/foundation/cfgsnap"
	"github.com/elixirscope-go/foundation/clock"
)

type Strategy string

func (Strategy) EnumValues() []string { return []string{"fast", "balanced", "thorough"} }

type Planning struct {
	SamplingRate float64
	Strategy     Strategy `cfg:"default_strategy"`
}

type AppConfig struct {
	Planning     Planning
	BatchSize    int
	QueryTimeout time.Duration
	Debug        bool
}

var defaults = AppConfig{
	Planning:     Planning{SamplingRate: 1, Strategy: "balanced"},
	BatchSize:    100,
	QueryTimeout: 10 * time.Second,
}

func validate(c *AppConfig) error {
	if r := c.Planning.SamplingRate; r < 0 || r > 1 {
		return fmt.Errorf("sampling_rate %v not within [0, 1]", r)
	}
	if c.BatchSize <= 0 {
		return errors.New("batch_size must be > 0")
	}
	return nil
}

// fixed is a clock that does not move, so the output is deterministic.
var fixed = clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

func Example() {
	st, err := cfgsnap.Open(defaults, cfgsnap.Config[AppConfig]{
		Validate:  validate,
		Updatable: []string{"planning.sampling_rate", "batch_size", "query_timeout", "debug"},
		Clock:     fixed,
	})
	if err != nil {
		panic(err)
	}
	defer st.Close()

	sub := st.Subscribe(8)
	ch, err := st.Update("planning.sampling_rate", 0.5)
	fmt.Println(ch.Path, ch.Old, "->", ch.New, "version", ch.Version, err)

	_, err = st.Update("planning.sampling_rate", 1.5)
	fmt.Println(errors.Is(err, cfgsnap.ErrInvalid))
	_, err = st.Update("batch_size", "ten")
	fmt.Println(err)
	_, err = st.Update("planning.default_strategy", "fast")
	fmt.Println(errors.Is(err, cfgsnap.ErrForbidden))
	_, err = st.Update("query_timeout", "250ms")
	fmt.Println(err)

	snap := st.Load()
	fmt.Println(snap.Version(), snap.Ptr().Planning.SamplingRate, snap.Ptr().QueryTimeout)
	got := <-sub.C()
	fmt.Println("subscriber saw version", got.Version, "at", got.Time.Format(time.DateOnly))
	// Output:
	// planning.sampling_rate 1 -> 0.5 version 1 <nil>
	// true
	// cfgsnap: update "batch_size": type mismatch: want int, got string (value "ten")
	// true
	// <nil>
	// 2 0.5 250ms
	// subscriber saw version 1 at 2026-01-01
}

func ExampleField() {
	st, _ := cfgsnap.Open(defaults, cfgsnap.Config[AppConfig]{})
	defer st.Close()
	// Bind once at setup ...
	rate, err := cfgsnap.Field[AppConfig, float64](st, "planning.sampling_rate")
	if err != nil {
		panic(err)
	}
	_, err = cfgsnap.Field[AppConfig, int64](st, "batch_size")
	fmt.Println(errors.Is(err, cfgsnap.ErrTypeMismatch))
	// ... then read per request: no lookup, no allocation.
	st.Update("planning.sampling_rate", 0.125)
	fmt.Println(rate.Get(st.Load()))
	// Output:
	// true
	// 0.125
}

func ExampleStore_CompareAndUpdate() {
	st, _ := cfgsnap.Open(defaults, cfgsnap.Config[AppConfig]{})
	defer st.Close()
	seen := st.Load()
	st.Update("debug", true) // someone else gets in first
	_, err := st.CompareAndUpdate(seen.Version(), "batch_size", seen.Ptr().BatchSize*2)
	var pe *cfgsnap.PathError
	fmt.Println(errors.Is(err, cfgsnap.ErrVersionConflict), errors.As(err, &pe) && pe.Got == "version 1")
	// Output: true true
}

func ExampleStore_UpdateFunc() {
	st, _ := cfgsnap.Open(defaults, cfgsnap.Config[AppConfig]{Validate: validate})
	defer st.Close()
	ch, err := st.UpdateFunc(func(c *AppConfig) error {
		c.BatchSize, c.Debug = 500, true
		return nil
	})
	fmt.Println(ch.Version, ch.Path == "", ch.New.(AppConfig).BatchSize, err)
	ch, _ = st.Reset()
	fmt.Println(ch.Kind, ch.Version, st.Load().Ptr().BatchSize)
	// Output:
	// 1 true 500 <nil>
	// reset 2 100
}

// A durable store: every change is fsynced to the log before Update returns,
// and Open recovers it.
func Example_durable() {
	dir, err := os.MkdirTemp("", "cfgsnap-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	opts := cfgsnap.Config[AppConfig]{Dir: dir, Validate: validate, Clock: fixed}
	st, err := cfgsnap.Open(defaults, opts)
	if err != nil {
		panic(err)
	}
	st.Update("batch_size", 250)
	st.Update("planning.default_strategy", "thorough")
	_, err = cfgsnap.Open(defaults, opts)
	fmt.Println("second opener:", errors.Is(err, cfgsnap.ErrLocked))
	st.Close()

	st, err = cfgsnap.Open(defaults, opts)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	s := st.Load()
	r := st.Recovery()
	fmt.Println(s.Version(), s.Ptr().BatchSize, s.Ptr().Planning.Strategy)
	fmt.Println("replayed", r.Replayed, "problems", len(r.Problems))
	// Output:
	// second opener: true
	// 2 250 thorough
	// replayed 2 problems 0
}
