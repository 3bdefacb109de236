package foundation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/clock"
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
	clock  Clock
	sup    *supervisor
	closed atomic.Bool
	once   sync.Once
	// shutdown bounds Close's wait for supervised tasks.
	shutdown time.Duration

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
	s := settings{maxEventSize: 1_000_000, shards: -1, shutdown: DefaultShutdownTimeout}
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
	src, err := loadSources(cfg, s.src) // the config file and the environment
	if err != nil {
		return nil, err
	}
	cfg = src.start
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.clock == nil {
		s.clock = clock.Real()
	}

	// The services are built in order and wired here, with hooks: none
	// holds the Foundation or another service.
	level := new(slog.LevelVar) // moved by dev.debug_mode and dev.verbose_logging
	log := slog.New(levelHandler{level, s.logger.Handler()})
	f := &Foundation{log: log, clock: s.clock, components: make(map[string]ServiceHealth), shutdown: s.shutdown}
	f.sup = newSupervisor(s.clock, s.logger)
	tel := newTelemetry(s.clock, log, cfg.Dev.PerformanceMonitoring, s.maxMetrics, s.metricsExp)
	f.telemetry = tel
	// Config changes become events and counts; the store is attached to
	// the recorder once it exists (changes replayed before that are counted).
	rec := &changeRecorder{updates: tel.configUpdates, resets: tel.configResets, failures: tel.configEventFailures, log: log}
	cs, err := newConfigService(cfg, s.dataDir, s.groupReadable, configHooks{
		log: log, clock: s.clock, onChange: rec.record, level: level, monitoring: tel.setEnabled,
	})
	if err != nil {
		_ = f.sup.stop(f.shutdown)
		return nil, err
	}
	f.config = cs
	if err := src.reconcile(cs, s.dataDir, log); err != nil {
		_ = f.sup.stop(f.shutdown)
		cs.close()
		return nil, err
	}
	if err := checkTiers(cs.Get().cfg(), s.exporter); err != nil {
		_ = f.sup.stop(f.shutdown)
		cs.close()
		return nil, err
	}
	// The event store is sized by the config in effect (after recovery).
	es, err := newEventStore(*cs.Get().cfg(), s.maxEventSize, s.exporter, eventStoreHooks{
		clock:   s.clock,
		log:     log,
		config:  func() *Config { return cs.Get().cfg() },
		start:   func(name string, fn func(context.Context) error) error { return f.Go(name, fn) },
		pruned:  tel.eventsPruned.Add,
		dropped: tel.eventsDropped.Add,
	})
	if err != nil {
		_ = f.sup.stop(f.shutdown)
		cs.close()
		return nil, err
	}
	f.events = es
	rec.store = es.storeRef
	// Hooks: the store's own counts are the telemetry's counters.
	f.telemetry.counterFunc(MetricEventsStored, es.storedCount)
	f.telemetry.counterFunc(MetricEventsEvicted, es.evictedCount)
	if err := f.Go("telemetry.aggregator", f.telemetry.runAggregator); err != nil {
		_ = f.Close()
		return nil, err
	}
	if s.src.watch {
		if err := f.watchConfig(src); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
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
// Go returns an error matching [ErrClosed] once Close has started, [ErrInvalidArgument]
// for an empty name, a nil fn or a bad option, and [ErrTaskExists] when a
// task of that name is still running.
func (f *Foundation) Go(name string, fn func(ctx context.Context) error, opts ...TaskOption) error {
	if f.closed.Load() {
		return newError(kClosed, nil, fmt.Sprintf("task %q not started: foundation is closing", name), "task", name)
	}
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

// Close stops the Foundation. From the moment it starts, writes fail with
// errors matching [ErrClosed] (config updates, event stores, telemetry
// Attach; Execute and Span record nothing). It flushes and closes the config
// log, cancels every supervised task and waits for them at most the shutdown
// timeout ([WithShutdownTimeout], default 10 s), then closes every
// subscription's channel and the event exporter. A task still running then
// is abandoned: Close returns an error matching [ErrTimeout] that names it,
// and [Foundation.Health] shows it as [TaskAbandoned] until it returns. The
// error also reports a failure to close the config log, and one of the warm
// tier to copy the hot tier to disk (all joined). Close
// is idempotent: later calls return nil.
func (f *Foundation) Close() error {
	var err error
	f.once.Do(func() {
		f.closed.Store(true)
		f.telemetry.close()
		f.events.eng.Close() // refuses writes now; stored events stay readable for the final export
		cfgErr := f.config.close()
		var stopErr error
		if stuck := f.sup.stop(f.shutdown); len(stuck) > 0 {
			stopErr = newError(kTimeout, nil, fmt.Sprintf("close: tasks did not stop within %s: %v", f.shutdown, stuck),
				"tasks", stuck, "timeout", f.shutdown.String())
			f.log.Error("supervised tasks did not stop within the shutdown timeout; abandoned", "tasks", stuck, "timeout", f.shutdown.String())
		}
		evErr := f.events.close()
		err = errors.Join(stopErr, cfgErr, evErr)
	})
	return err
}

// errClosed is the error of an operation after Close.
func errClosed(op string) error {
	return newError(kClosed, nil, op+": foundation is closed", "op", op)
}
