package foundation

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/elixirscope-go/foundation/internal/clock"
)

// Status is the state of a service.
type Status uint8

// The statuses, from best to worst.
const (
	StatusRunning  Status = iota + 1 // working as configured
	StatusDegraded                   // working, with a problem that Reason names
	StatusStopped                    // closed
)

// String returns the status's name: running, degraded or stopped.
func (s Status) String() string {
	switch s {
	case StatusRunning:
		return "running"
	case StatusDegraded:
		return "degraded"
	case StatusStopped:
		return "stopped"
	}
	return "unknown"
}

// ServiceHealth is the health of one service: its status and, unless it is
// running, why.
type ServiceHealth struct {
	Status Status
	Reason string
}

// Health is the health of a Foundation, per service. Status is the worst of
// the services' and the tasks' (a given-up task makes it degraded).
type Health struct {
	Status     Status
	Config     ServiceHealth
	Events     ServiceHealth
	Telemetry  ServiceHealth
	Tasks      map[string]TaskHealth    // supervised tasks by name
	Components map[string]ServiceHealth // reported by integrations, see [Foundation.ReportHealth]
}

// Foundation is the embedded foundation layer: a [ConfigService], an
// [EventStore] and a [Telemetry], with a supervisor for goroutine tasks.
// Make one with [New] and stop it with [Foundation.Close]. Several may live in
// one process; they share nothing. All methods are safe for concurrent use.
type Foundation struct {
	log    *slog.Logger
	level  *slog.LevelVar // moved by dev.debug_mode and dev.verbose_logging
	clock  Clock
	sup    *supervisor
	closed atomic.Bool
	once   sync.Once

	config    *ConfigService
	events    *EventStore
	telemetry *Telemetry

	compMu     sync.Mutex
	components map[string]ServiceHealth
}

// New starts a Foundation. The services are ready when it returns. The
// starting config is [DefaultConfig], or the one given by [WithConfig]
// (validated: an invalid one is refused with its validation error), with the
// options' overrides applied. With [WithDataDir], changes recorded there are
// replayed over it.
func New(opts ...Option) (*Foundation, error) {
	s := settings{maxEventSize: 1_000_000, shards: -1}
	for _, o := range opts {
		if o == nil {
			return nil, newError(kInvalidArgument, nil, "nil option")
		}
		o.apply(&s)
	}
	if len(s.errs) > 0 {
		return nil, s.errs[0]
	}
	cfg := DefaultConfig()
	if s.config != nil {
		cfg = *s.config
	}
	if s.capacity > 0 {
		cfg.Storage.Hot.MaxEvents = s.capacity
	}
	if s.shards >= 0 {
		cfg.Capture.RingBuffer.NumBuffers = s.shards
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = clock.Real()
	}

	level := new(slog.LevelVar)
	f := &Foundation{log: slog.New(levelHandler{level, s.logger.Handler()}), level: level,
		clock: s.clock, components: make(map[string]ServiceHealth)}
	f.sup = newSupervisor(s.clock, s.logger)
	f.telemetry = newTelemetry(f, cfg, s.metricsExp)
	cs, err := newConfigService(f, cfg, s.dataDir, s.groupReadable)
	if err != nil {
		f.sup.stop()
		return nil, err
	}
	f.config = cs
	// The event store is sized by the config in effect (after recovery).
	es, err := newEventStore(f, *cs.Get().cfg, s.maxEventSize, s.exporter)
	if err != nil {
		f.sup.stop()
		cs.close()
		return nil, err
	}
	f.events = es
	f.telemetry.start()
	return f, nil
}

// Config returns the config service.
func (f *Foundation) Config() *ConfigService { return f.config }

// Events returns the event store.
func (f *Foundation) Events() *EventStore { return f.events }

// Telemetry returns the telemetry service.
func (f *Foundation) Telemetry() *Telemetry { return f.telemetry }

// Go starts fn as a supervised task named name (one_for_one, as in OTP): a
// task that returns an error or panics is restarted with exponential backoff
// and jitter, according to its [RestartPolicy] and restart intensity (see
// [WithRestart], [WithRestartIntensity], [WithBackoff]). Panics are recovered
// and logged with their stack. fn's context is cancelled by Close, which
// waits for fn to return.
//
// Go returns an error matching [ErrClosed] after Close, [ErrInvalidArgument]
// for an empty name, a nil fn or a bad option, and [ErrTaskExists] when a
// task of that name is still running.
func (f *Foundation) Go(name string, fn func(ctx context.Context) error, opts ...TaskOption) error {
	return f.sup.start(name, fn, opts)
}

// ReportHealth records the health of a component outside the three services
// (an integration, say); it shows in [Health.Components] and counts in the
// overall status. Reporting StatusRunning with an empty reason clears a
// problem.
func (f *Foundation) ReportHealth(component string, h ServiceHealth) {
	f.compMu.Lock()
	defer f.compMu.Unlock()
	f.components[component] = h
}

// Health returns the health of every service and task.
func (f *Foundation) Health() Health {
	h := Health{Status: StatusRunning}
	if f.closed.Load() {
		stopped := ServiceHealth{Status: StatusStopped, Reason: "closed"}
		h.Config, h.Events, h.Telemetry = stopped, stopped, stopped
		h.Status = StatusStopped
	} else {
		h.Config = f.config.health()
		h.Events = f.events.health()
		h.Telemetry = f.telemetry.health()
	}
	h.Tasks = f.sup.health()
	f.compMu.Lock()
	h.Components = make(map[string]ServiceHealth, len(f.components))
	for k, v := range f.components {
		h.Components[k] = v
	}
	f.compMu.Unlock()
	if h.Status == StatusStopped {
		return h
	}
	worst := func(s ServiceHealth) {
		if s.Status > h.Status {
			h.Status = s.Status
		}
	}
	worst(h.Config)
	worst(h.Events)
	worst(h.Telemetry)
	for _, c := range h.Components {
		worst(c)
	}
	for _, t := range h.Tasks {
		if t.GivenUp && h.Status < StatusDegraded {
			h.Status = StatusDegraded
		}
	}
	return h
}

// Close stops the Foundation: it cancels every supervised task and waits for
// it, closes every subscription's channel, and flushes and closes the config
// log. It is idempotent; later writes return errors matching [ErrClosed].
// The error reports a failure to close the config log.
func (f *Foundation) Close() error {
	var err error
	f.once.Do(func() {
		f.closed.Store(true)
		f.sup.stop()
		f.events.close()
		f.telemetry.close()
		err = f.config.close()
	})
	return err
}

// errClosed is the error of an operation after Close.
func errClosed(op string) error {
	return newError(kClosed, nil, op+": foundation is closed", "op", op)
}
