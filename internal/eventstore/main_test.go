package eventstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/ring"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tasks runs the store's supervised tasks as plain goroutines, stopped and
// joined by stop.
type tasks struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (ts *tasks) start(_ string, fn func(context.Context) error) error {
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		_ = fn(ts.ctx)
	}()
	return nil
}

func (ts *tasks) stop() { ts.cancel(); ts.wg.Wait() }

// testStore is a store with a real clock (or clk), its pruner running, closed
// at the end of the test.
func testStore(t testing.TB, cfg Config, clk clock.Clock) *Store {
	t.Helper()
	if clk == nil {
		clk = clock.Real()
	}
	ts := &tasks{}
	ts.ctx, ts.cancel = context.WithCancel(context.Background())
	lim := Limits{MaxResults: 1000, QueryTimeout: 10 * time.Second, PruneInterval: time.Hour, MaxAge: time.Hour}
	s, err := New(cfg, cfg.Policy.String(), Deps{Clock: clk, Go: ts.start, Limits: func() Limits { return lim }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.stop(); s.Close() })
	return s
}

func capacity(n int) Config { return Config{Capacity: n, Policy: ring.DropOldest} }
