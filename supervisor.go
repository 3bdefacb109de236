package foundation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// RestartPolicy says when the supervisor restarts a task, as OTP's child
// restart types do.
type RestartPolicy uint8

// The restart policies.
const (
	// Permanent tasks are always restarted, whether they return nil, an
	// error, or panic (the default).
	Permanent RestartPolicy = iota
	// Transient tasks are restarted only when they fail: an error or a panic.
	Transient
	// Temporary tasks are never restarted.
	Temporary
)

// String returns the policy's name.
func (p RestartPolicy) String() string {
	switch p {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return "unknown"
}

// TaskOption configures a task started with [Foundation.Go].
type TaskOption interface{ apply(*taskSettings) }

type taskOptionFunc func(*taskSettings)

func (f taskOptionFunc) apply(s *taskSettings) { f(s) }

type taskSettings struct {
	policy      RestartPolicy
	maxRestarts int
	within      time.Duration
	minBackoff  time.Duration
	maxBackoff  time.Duration
	err         error
}

func defaultTaskSettings() taskSettings {
	return taskSettings{policy: Permanent, maxRestarts: 3, within: 5 * time.Second,
		minBackoff: 10 * time.Millisecond, maxBackoff: time.Second}
}

// WithRestart sets the task's restart policy (default [Permanent]).
func WithRestart(p RestartPolicy) TaskOption {
	return taskOptionFunc(func(s *taskSettings) {
		if p > Temporary {
			s.err = newError(kInvalidArgument, nil, fmt.Sprintf("WithRestart(%d): unknown policy", p))
		}
		s.policy = p
	})
}

// WithRestartIntensity allows at most max restarts within period (OTP's
// intensity and period; default 3 in 5s). One more and the supervisor gives
// the task up: it stays stopped and Health reports it degraded.
func WithRestartIntensity(max int, period time.Duration) TaskOption {
	return taskOptionFunc(func(s *taskSettings) {
		if max < 0 || period <= 0 {
			s.err = newError(kInvalidArgument, nil,
				fmt.Sprintf("WithRestartIntensity(%d, %s): need max >= 0 and period > 0", max, period))
		}
		s.maxRestarts, s.within = max, period
	})
}

// WithBackoff sets the delay before a restart: min doubled per restart
// counted in the intensity period, capped at max, then jittered to a
// uniform value in [d/2, d] (default 10ms to 1s).
func WithBackoff(min, max time.Duration) TaskOption {
	return taskOptionFunc(func(s *taskSettings) {
		if min <= 0 || max < min {
			s.err = newError(kInvalidArgument, nil,
				fmt.Sprintf("WithBackoff(%s, %s): need 0 < min <= max", min, max))
		}
		s.minBackoff, s.maxBackoff = min, max
	})
}

// TaskState is where a supervised task is in its life.
type TaskState uint8

// The task states.
const (
	TaskRunning   TaskState = iota + 1 // running, or waiting to be restarted
	TaskCompleted                      // returned and is not restarted
	TaskFailed                         // failed and is not restarted, or was given up
	TaskStopped                        // stopped by Close
	// TaskAbandoned: Close cancelled the task's context and it did not
	// return within the shutdown timeout; it may still be running.
	TaskAbandoned
)

// String returns the state's name.
func (s TaskState) String() string {
	switch s {
	case TaskRunning:
		return "running"
	case TaskCompleted:
		return "completed"
	case TaskFailed:
		return "failed"
	case TaskStopped:
		return "stopped"
	case TaskAbandoned:
		return "abandoned"
	}
	return "unknown"
}

// TaskHealth is the state of one supervised task.
type TaskHealth struct {
	State     TaskState
	Restarts  int    // restarts so far
	LastError string // the last failure (error or panic), "" if none
	GivenUp   bool   // true when the restart intensity was exceeded
}

// supervisor runs tasks one_for_one: each task is restarted on its own.
type supervisor struct {
	ctx    context.Context
	cancel context.CancelFunc
	clock  Clock
	log    *slog.Logger
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	tasks  map[string]*task
}

type task struct {
	name string
	fn   func(context.Context) error
	set  taskSettings

	// guarded by supervisor.mu
	done     bool // the loop has ended
	health   TaskHealth
	restarts []time.Time // restart times inside the intensity period
}

func newSupervisor(c Clock, log *slog.Logger) *supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	return &supervisor{ctx: ctx, cancel: cancel, clock: c, log: log, tasks: make(map[string]*task)}
}

func (s *supervisor) start(name string, fn func(context.Context) error, opts []TaskOption) error {
	if name == "" {
		return newError(kInvalidArgument, nil, "task name is empty")
	}
	if fn == nil {
		return newError(kInvalidArgument, nil, fmt.Sprintf("task %q: nil function", name), "task", name)
	}
	set := defaultTaskSettings()
	for _, o := range opts {
		if o == nil {
			return newError(kInvalidArgument, nil, fmt.Sprintf("task %q: nil option", name), "task", name)
		}
		o.apply(&set)
		if set.err != nil {
			return set.err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return newError(kClosed, nil, fmt.Sprintf("task %q not started", name), "task", name)
	}
	if t, ok := s.tasks[name]; ok && t.health.State == TaskRunning {
		return newError(kTaskExists, nil, fmt.Sprintf("task %q is already running", name), "task", name)
	}
	t := &task{name: name, fn: fn, set: set, health: TaskHealth{State: TaskRunning}}
	s.tasks[name] = t
	s.wg.Add(1)
	go s.loop(t)
	return nil
}

// loop runs t until it is not restarted or the supervisor stops.
func (s *supervisor) loop(t *task) {
	defer s.wg.Done()
	for {
		err := s.runOnce(t)
		if s.ctx.Err() != nil {
			s.setState(t, TaskStopped, err)
			return
		}
		failed := err != nil
		restart := t.set.policy == Permanent || (t.set.policy == Transient && failed)
		if !restart {
			if failed {
				s.setState(t, TaskFailed, err)
			} else {
				s.setState(t, TaskCompleted, nil)
			}
			return
		}
		delay, ok := s.recordRestart(t, err)
		if !ok {
			return
		}
		tm := s.clock.NewTimer(delay)
		select {
		case <-tm.C():
		case <-s.ctx.Done():
			tm.Stop()
			s.setState(t, TaskStopped, err)
			return
		}
	}
}

// errGoexit is the failure of a task that called runtime.Goexit.
var errGoexit = errors.New("task called runtime.Goexit")

// runOnce runs the task's function once, on a goroutine of its own, turning
// a panic into an error and a runtime.Goexit into errGoexit: Goexit ends the
// goroutine that calls it, which must not be the supervising loop's.
func (s *supervisor) runOnce(t *task) error {
	res := make(chan error, 1)
	go func() {
		returned := false
		defer func() {
			if returned {
				return
			}
			if r := recover(); r != nil {
				stack := debug.Stack()
				s.log.Error("supervised task panicked", "task", t.name, "panic", fmt.Sprint(r), "stack", string(stack))
				res <- fmt.Errorf("panic: %v", r)
				return
			}
			s.log.Error("supervised task called runtime.Goexit", "task", t.name)
			res <- errGoexit
		}()
		err := t.fn(s.ctx)
		returned = true
		res <- err
	}()
	return <-res
}

func (s *supervisor) setState(t *task, st TaskState, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.health.State = st
	t.done = true
	if err != nil {
		t.health.LastError = err.Error()
	}
}

// recordRestart counts a restart against the intensity and returns the delay
// before it; ok is false when the task is given up.
func (s *supervisor) recordRestart(t *task, cause error) (time.Duration, bool) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cause != nil {
		t.health.LastError = cause.Error()
	}
	kept := t.restarts[:0]
	for _, at := range t.restarts {
		if now.Sub(at) < t.set.within {
			kept = append(kept, at)
		}
	}
	t.restarts = kept
	if len(t.restarts) >= t.set.maxRestarts {
		t.health.State = TaskFailed
		t.health.GivenUp = true
		t.done = true
		s.log.Error("supervised task given up", "task", t.name,
			"restarts", len(t.restarts), "period", t.set.within.String(), "error", t.health.LastError)
		return 0, false
	}
	t.restarts = append(t.restarts, now)
	t.health.Restarts++
	d := t.set.minBackoff << (len(t.restarts) - 1)
	if d > t.set.maxBackoff || d <= 0 {
		d = t.set.maxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	s.log.Warn("restarting supervised task", "task", t.name, "in", d.String(), "error", t.health.LastError)
	return d, true
}

// health returns the state of every task, by name.
func (s *supervisor) health() map[string]TaskHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]TaskHealth, len(s.tasks))
	for name, t := range s.tasks {
		out[name] = t.health
	}
	return out
}

// stop cancels every task's context and waits for all of them to return,
// at most timeout. It returns the names of the tasks still running then
// (sorted), which it marks TaskAbandoned.
func (s *supervisor) stop(timeout time.Duration) []string {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	tm := s.clock.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-done:
		return nil
	case <-tm.C():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var stuck []string
	for name, t := range s.tasks {
		if !t.done {
			t.health.State = TaskAbandoned
			t.health.LastError = fmt.Sprintf("did not stop within the shutdown timeout (%s)", timeout)
			stuck = append(stuck, name)
		}
	}
	slices.Sort(stuck)
	return stuck
}
