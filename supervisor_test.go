package foundation_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// waitFor polls cond with a generous guard; it never asserts on timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// clockSleepers is the number of timers the Foundation itself keeps pending:
// one per built-in background task (telemetry aggregator, event pruner),
// each asleep on the clock between rounds. Set by newClocked. The
// subscriptions' delivery (events.subscriptions) is not one: idle, it
// sleeps until a Store wakes it.
var clockSleepers int

func builtinClockSleepers(f *foundation.Foundation) int {
	n := 0
	for name := range f.Health().Tasks {
		if name != "events.subscriptions" {
			n++
		}
	}
	return n
}

func newClocked(t *testing.T) (*foundation.Foundation, *foundation.ManualClock) {
	clk := foundation.NewManualClock(t0)
	f := newF(t, foundation.WithClock(clk))
	clockSleepers = builtinClockSleepers(f)
	waitFor(t, "built-in tasks asleep", func() bool { return clk.Waiters() >= clockSleepers })
	return f, clk
}

func TestSupervisorRestartsWithBackoff(t *testing.T) {
	f, clk := newClocked(t)
	var runs atomic.Int32
	require.NoError(t, f.Go("flaky", func(ctx context.Context) error {
		if runs.Add(1) < 3 {
			return errors.New("boom")
		}
		<-ctx.Done()
		return nil
	}, foundation.WithBackoff(100*time.Millisecond, time.Second)))

	for want := int32(2); want <= 3; want++ {
		// The task failed and sleeps on the clock: nothing happens until it moves.
		waitFor(t, "backoff timer", func() bool { return clk.Waiters() >= clockSleepers+1 })
		assert.Equal(t, want-1, runs.Load())
		clk.Add(time.Second) // past any jittered backoff
		waitFor(t, "restart", func() bool { return runs.Load() >= want })
	}
	h := f.Health().Tasks["flaky"]
	assert.Equal(t, foundation.TaskRunning, h.State)
	assert.Equal(t, 2, h.Restarts)
	assert.Equal(t, "boom", h.LastError)
}

func TestSupervisorRecoversPanics(t *testing.T) {
	f, clk := newClocked(t)
	var runs atomic.Int32
	require.NoError(t, f.Go("panicky", func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			panic("kaboom")
		}
		<-ctx.Done()
		return nil
	}))
	waitFor(t, "backoff", func() bool { return clk.Waiters() >= clockSleepers+1 })
	assert.Contains(t, f.Health().Tasks["panicky"].LastError, "kaboom")
	clk.Add(time.Second)
	waitFor(t, "restart", func() bool { return runs.Load() == 2 })
}

func TestSupervisorIntensityGivesUp(t *testing.T) {
	f, clk := newClocked(t)
	var runs atomic.Int32
	require.NoError(t, f.Go("doomed", func(ctx context.Context) error {
		runs.Add(1)
		return errors.New("always")
	}, foundation.WithRestartIntensity(2, time.Minute), foundation.WithBackoff(time.Millisecond, time.Millisecond)))
	for i := 0; i < 2; i++ {
		waitFor(t, "backoff", func() bool { return clk.Waiters() >= clockSleepers+1 })
		clk.Add(time.Millisecond)
	}
	waitFor(t, "given up", func() bool { return f.Health().Tasks["doomed"].GivenUp })
	assert.Equal(t, int32(3), runs.Load())
	h := f.Health()
	assert.Equal(t, foundation.TaskFailed, h.Tasks["doomed"].State)
	assert.Equal(t, foundation.StatusDegraded, h.Status)
}

func TestSupervisorPolicies(t *testing.T) {
	f, _ := newClocked(t)
	done := make(chan struct{}, 2)
	require.NoError(t, f.Go("temp", func(context.Context) error { done <- struct{}{}; return errors.New("x") },
		foundation.WithRestart(foundation.Temporary)))
	require.NoError(t, f.Go("trans", func(context.Context) error { done <- struct{}{}; return nil },
		foundation.WithRestart(foundation.Transient)))
	<-done
	<-done
	waitFor(t, "states", func() bool {
		h := f.Health().Tasks
		return h["temp"].State == foundation.TaskFailed && h["trans"].State == foundation.TaskCompleted
	})
	assert.Equal(t, 0, f.Health().Tasks["temp"].Restarts)
}

func TestSupervisorCloseDuringBackoff(t *testing.T) {
	clk := foundation.NewManualClock(t0)
	f, err := foundation.New(foundation.WithClock(clk))
	require.NoError(t, err)
	clockSleepers = builtinClockSleepers(f)
	waitFor(t, "built-in tasks asleep", func() bool { return clk.Waiters() >= clockSleepers })
	require.NoError(t, f.Go("sleeper", func(context.Context) error { return errors.New("fail") },
		foundation.WithBackoff(time.Hour, time.Hour)))
	waitFor(t, "backoff", func() bool { return clk.Waiters() >= clockSleepers+1 })
	require.NoError(t, f.Close()) // returns without the clock moving: backoff is cancelled
	assert.Equal(t, foundation.TaskStopped, f.Health().Tasks["sleeper"].State)
}

func TestSupervisorCloseWaitsForTasks(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	var finished atomic.Bool
	started := make(chan struct{})
	require.NoError(t, f.Go("worker", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		time.Sleep(10 * time.Millisecond)
		finished.Store(true)
		return ctx.Err()
	}))
	<-started
	require.NoError(t, f.Close())
	assert.True(t, finished.Load())
}

func TestSupervisorBadInput(t *testing.T) {
	f := newF(t)
	noop := func(ctx context.Context) error { <-ctx.Done(); return nil }
	assert.ErrorIs(t, f.Go("", noop), foundation.ErrInvalidArgument)
	assert.ErrorIs(t, f.Go("x", nil), foundation.ErrInvalidArgument)
	assert.ErrorIs(t, f.Go("x", noop, nil), foundation.ErrInvalidArgument)
	assert.ErrorIs(t, f.Go("x", noop, foundation.WithBackoff(0, 1)), foundation.ErrInvalidArgument)
	assert.ErrorIs(t, f.Go("x", noop, foundation.WithRestartIntensity(-1, time.Second)), foundation.ErrInvalidArgument)
	require.NoError(t, f.Go("x", noop))
	assert.ErrorIs(t, f.Go("x", noop), foundation.ErrTaskExists)
}
