package foundation

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

// Snapshot is one immutable version of the config. Get returns the current
// one with a single atomic load; it never changes afterwards, so a caller may
// keep it for as long as it needs a consistent view. (Versions are allocated
// in blocks of 9.25 KiB: a kept snapshot keeps its block.)
type Snapshot struct {
	// s is the config store's own snapshot: a *Snapshot is the store's
	// *cfgsnap.Snapshot[Config] seen through this type (see asSnapshot),
	// so publishing a version allocates nothing here.
	s cfgsnap.Snapshot[Config]
}

// asSnapshot views a snapshot of the config store as a *Snapshot. Snapshot's
// only field is a cfgsnap.Snapshot[Config], so the two types have the same
// memory layout, as unsafe.Pointer's conversion rule (1) requires.
func asSnapshot(s *cfgsnap.Snapshot[Config]) *Snapshot { return (*Snapshot)(unsafe.Pointer(s)) }

// cfg returns the snapshot's config in place: read-only, never handed out.
func (s *Snapshot) cfg() *Config { return s.s.Ptr() }

// Config returns the config by value: nothing a caller does to it can change
// what others read. It copies the whole struct (a few hundred bytes); to
// read one field on a hot path, bind a [ConfigField] once instead.
func (s *Snapshot) Config() Config { return *s.cfg() }

// Version returns the snapshot's version: 0 for the starting config (or the
// version recovered from the data dir), +1 per successful update or reset.
func (s *Snapshot) Version() uint64 { return s.s.Version() }

// Time returns when this version was made.
func (s *Snapshot) Time() time.Time { return s.s.Time() }

// ConfigField is a typed handle to one config field, bound once by
// [Field]: Get reads the field from the current snapshot with one atomic
// load and one load at a fixed offset — no lookup, no copy of the config, no
// allocation. It is a small value, safe for concurrent use.
type ConfigField[V any] struct {
	c *ConfigService
	h cfgsnap.Handle[Config, V]
}

// Field binds a [ConfigField] to path. V must be the field's exact Go type
// (float64 for ai.planning.sampling_rate, time.Duration for
// interface.query_timeout, …). Errors match [ErrPathNotFound] or
// [ErrTypeMismatch].
func Field[V any](c *ConfigService, path string) (ConfigField[V], error) {
	h, err := cfgsnap.Field[Config, V](c.st, path)
	if err != nil {
		return ConfigField[V]{}, c.mapError("field", path, nil, err)
	}
	return ConfigField[V]{c: c, h: h}, nil
}

// Get returns the field's value in the current snapshot. The zero
// ConfigField (what [Field] returns with an error) returns V's zero value.
func (f ConfigField[V]) Get() V {
	if f.c == nil { // replaces the nil check the load of f.c.st needs anyway
		var zero V
		return zero
	}
	return f.h.Get(f.c.st.Load())
}

// In returns the field's value in snapshot s (for several reads that must
// agree with each other).
func (f ConfigField[V]) In(s *Snapshot) V { return f.h.Get(&s.s) }

// ChangeKind says what made a config change.
type ChangeKind uint8

// The change kinds.
const (
	Updated ChangeKind = iota + 1 // Update or CompareAndUpdate of one path
	Reset                         // Reset to the starting config
)

// String returns "updated" or "reset".
func (k ChangeKind) String() string {
	switch k {
	case Updated:
		return "updated"
	case Reset:
		return "reset"
	}
	return "unknown"
}

// ConfigChange is one successful change, as subscribers receive it. For a
// Reset, Path is "" and Old and New are the whole Config before and after.
type ConfigChange struct {
	Kind    ChangeKind
	Path    string
	Old     any
	New     any
	Version uint64
}

// ConfigService holds the config: reads are one atomic load of an immutable
// [Snapshot]; updates are serialized, converted, validated as a whole,
// swapped in all-or-nothing, logged durably when a data dir is set, recorded
// as events and counted in telemetry, and announced to subscribers. All
// methods are safe for concurrent use.
type ConfigService struct {
	hooks configHooks
	st    *cfgsnap.Store[Config] // Get is its Load: one atomic load

	mu     sync.Mutex       // serializes changes so that events and notifications keep version order
	many   []cfgsnap.Change // UpdateMany's changes, reused under mu (at most maxReusedMany kept)
	closed atomic.Bool
	subs   broadcaster[ConfigChange]

	degraded string                 // set once in New when the data dir could not be fully recovered
	reload   atomic.Pointer[string] // why the last config file reload failed; nil when it did not
	dev      DevConfig              // the dev settings applySettings last applied, under mu
	applied  bool
}

// configHooks is what the config service does outside itself, given by
// [New]: the service holds no other service, only these.
type configHooks struct {
	log   *slog.Logger
	clock Clock // stamps each version
	// onChange runs for every successful change, under the service's lock,
	// in version order, before subscribers are told; at is the change's
	// time in Unix nanoseconds. New's hook stores the config_updated or
	// config_reset event and counts it (see [changeRecorder]).
	onChange func(cc ConfigChange, at int64)
	// level is moved by dev.debug_mode and dev.verbose_logging; monitoring
	// is told dev.performance_monitoring. Both run when the dev settings
	// change (and once at start), under the service's lock.
	level      *slog.LevelVar
	monitoring func(enabled bool)
}

// newConfigService opens the config store, durable in dir when dir is not
// empty. The data dir's promises on each fault are in docs/faults.md and
// cfgsnap's package doc: a change that returned
// an error is never recovered, damage is kept (*.corrupt) and the lost
// versions named, a deleted dir or a write that failed makes the service
// degraded (Health says why, the log says when), and ai.api_key ([Secret]) is
// never written there: the starting config's value is authoritative.
func newConfigService(initial Config, dir string, groupReadable bool, hooks configHooks) (*ConfigService, error) {
	c := &ConfigService{hooks: hooks}
	log := hooks.log
	opts := cfgsnap.Config[Config]{
		Validate:      func(cfg *Config) error { return cfg.Validate() },
		ValidatePath:  validatePath,
		Updatable:     updatablePaths,
		Dir:           dir,
		Clock:         hooks.clock,
		GroupReadable: groupReadable,
		OnProblem:     func(err error) { log.Warn("config data dir problem", "dir", dir, "error", err.Error()) },
	}
	st, err := cfgsnap.Open(initial, opts)
	if err != nil && dir != "" && errors.Is(err, cfgsnap.ErrCorrupt) {
		// Graceful degradation: a directory that can't be
		// recovered does not stop the Foundation. Run on the starting config,
		// in memory, and say why.
		c.degraded = "config data dir unusable, running in memory on the starting config: " + err.Error()
		opts.Dir = ""
		st, err = cfgsnap.Open(initial, opts)
	}
	if err != nil {
		return nil, c.mapError("open", "", nil, err)
	}
	c.st = st
	if rec := st.Recovery(); len(rec.Problems) > 0 && c.degraded == "" {
		c.degraded = "config recovered with losses: " + strings.Join(rec.Problems, "; ")
		kv := []any{"dir", dir, "version", rec.Version, "problems", rec.Problems}
		if rec.LostLast != 0 {
			kv = append(kv, "lost_first", rec.LostFirst, "lost_last", rec.LostLast)
		}
		if len(rec.SetAside) > 0 {
			kv = append(kv, "set_aside", rec.SetAside)
		}
		log.Warn("config recovered with losses", kv...)
	}
	c.applySettings(c.Get().cfg())
	return c, nil
}

// Get returns the current snapshot: one atomic load, no lock, no allocation.
// It works after Close too (the last snapshot).
func (c *ConfigService) Get() *Snapshot { return asSnapshot(c.st.Load()) }

// Lookup returns the value at a dotted path of the current config: a leaf's
// value (int, float64, bool, string, time.Duration or an enum type) or a
// subtree's struct. An unknown path is an error matching [ErrPathNotFound].
// The value of ai.api_key comes back as a [Secret], which never prints itself.
func (c *ConfigService) Lookup(path string) (any, error) {
	v, err := c.st.Lookup(path)
	if err != nil {
		return nil, c.mapError("lookup", path, nil, err)
	}
	return v, nil
}

// UpdatablePaths returns the paths Update accepts, sorted.
func (c *ConfigService) UpdatablePaths() []string { return c.st.UpdatablePaths() }

// Update sets the value at path, which must be one of [ConfigService.UpdatablePaths]
// (else [ErrUpdateForbidden]). The value is converted as docs/config.md says (an
// integer field takes any Go integer in range, a float field any finite float
// or integer, a duration a time.Duration or a string time.ParseDuration
// accepts, a bool only a bool); a wrong type matches [ErrTypeMismatch]. The
// whole candidate config is then validated ([ErrValidation] and its kind);
// on any error the current snapshot stays exactly as it was. On success the
// change is logged (durably with a data dir), a config_updated event is
// stored, foundation.config_updates counts it, and subscribers are told.
func (c *ConfigService) Update(path string, value any) error {
	if err := c.lockForChange(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	ch, err := c.st.Update(path, value) // called directly, not through change's func: the hot path
	if err != nil {
		return c.mapError("update", path, value, err)
	}
	c.committed(Updated, &ch)
	return nil
}

// Check is a dry run of Update: the same allow-list, conversion and
// validation of the whole candidate config, against the current snapshot,
// without changing, logging, recording or announcing anything. It returns
// the value converted to the field's Go type, or the error Update would
// return now (matching the same sentinels). Replicators use it to refuse a
// value before they publish it elsewhere.
func (c *ConfigService) Check(path string, value any) (any, error) {
	if c.closed.Load() {
		return nil, errClosed("config.check")
	}
	v, err := c.st.Check(path, value)
	if err != nil {
		return nil, c.mapError("update", path, value, err)
	}
	return v, nil
}

// CompareAndUpdate is Update, done only if the current version is version;
// otherwise it fails with [ErrVersionConflict] and changes nothing.
func (c *ConfigService) CompareAndUpdate(version uint64, path string, value any) error {
	return c.change(Updated, path, value, func() (cfgsnap.Change, error) {
		return c.st.CompareAndUpdate(version, path, value)
	})
}

// Reset returns the config to the one this Foundation was started with
// (defaults, or [WithConfig]'s); the version still goes up by one. It stores
// a config_reset event, counts foundation.config_resets and tells
// subscribers.
func (c *ConfigService) Reset() error {
	return c.change(Reset, "", nil, c.st.Reset)
}

// lockForChange takes mu for a change, or returns ErrClosed (checked before
// and after the wait, so a Close that ran meanwhile wins). On nil the
// caller holds mu and unlocks it.
func (c *ConfigService) lockForChange() error {
	if c.closed.Load() {
		return errClosed("config.update")
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return errClosed("config.update")
	}
	return nil
}

func (c *ConfigService) change(kind ChangeKind, path string, value any, do func() (cfgsnap.Change, error)) error {
	if err := c.lockForChange(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	ch, err := do()
	if err != nil {
		return c.mapError("update", path, value, err)
	}
	c.committed(kind, &ch)
	return nil
}

// committed applies the settings of the new version and announces ch.
// Called under mu.
func (c *ConfigService) committed(kind ChangeKind, ch *cfgsnap.Change) {
	c.applySettings(c.Get().cfg())
	cc := ConfigChange{Kind: kind, Path: ch.Path, Old: ch.Old, New: ch.New, Version: ch.Version} // a Reset's Path is ""
	c.changed(&cc, ch.Time.UnixNano())
}

// changed runs the on-change hook and tells subscribers. Called under mu.
func (c *ConfigService) changed(cc *ConfigChange, at int64) {
	if c.hooks.onChange != nil {
		c.hooks.onChange(*cc, at)
	}
	c.subs.send(cc)
}

// applySettings makes the settings that drive other services take effect.
// Called under mu (or before the service is shared); it acts only when the
// dev settings changed since the last call.
func (c *ConfigService) applySettings(cfg *Config) {
	if c.applied && cfg.Dev == c.dev {
		return
	}
	c.applied, c.dev = true, cfg.Dev
	if l := c.hooks.level; l != nil {
		if cfg.Dev.DebugMode || cfg.Dev.VerboseLogging {
			l.Set(slog.LevelDebug)
		} else {
			l.Set(slog.LevelInfo)
		}
	}
	if c.hooks.monitoring != nil {
		c.hooks.monitoring(cfg.Dev.PerformanceMonitoring)
	}
}

// setReloadProblem sets why the last config file reload failed, shown by
// Health until it is cleared with "" (a good file read).
func (c *ConfigService) setReloadProblem(reason string) {
	if reason == "" {
		c.reload.Store(nil)
		return
	}
	c.reload.Store(&reason)
}

func (c *ConfigService) health() ServiceHealth {
	if c.closed.Load() {
		return ServiceHealth{Status: StatusStopped, Reason: "closed"}
	}
	if err := c.st.Problem(); err != nil {
		reason := err.Error()
		if c.degraded != "" {
			reason += "; " + c.degraded
		}
		return ServiceHealth{Status: StatusDegraded, Reason: reason}
	}
	if c.degraded != "" {
		return ServiceHealth{Status: StatusDegraded, Reason: c.degraded}
	}
	if r := c.reload.Load(); r != nil {
		return ServiceHealth{Status: StatusDegraded, Reason: *r}
	}
	return ServiceHealth{Status: StatusRunning}
}

func (c *ConfigService) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	c.subs.closeAll()
	if err := c.st.Close(); err != nil {
		return c.mapError("close", "", nil, err)
	}
	return nil
}

// mapError turns a cfgsnap error into an *Error of the right kind. An error
// that already is an *Error (the validator's) is returned as it is.
func (c *ConfigService) mapError(op, path string, value any, err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	val := formatValue(path, value)
	kv := []any{"path", path, "op", op}
	if value != nil {
		kv = append(kv, "value", value, "type", fmt.Sprintf("%T", value))
	}
	var pe *cfgsnap.PathError
	detail := err.Error()
	if errors.As(err, &pe) {
		detail = fmt.Sprintf("want %s, got %s", pe.Want, pe.Got)
	}
	switch {
	case (errors.Is(err, cfgsnap.ErrForbidden) || errors.Is(err, cfgsnap.ErrPathNotFound)) && op == "update":
		if _, lerr := c.st.Lookup(path); lerr != nil {
			// An unknown path: not updatable, and not found either.
			e := newError(kUpdateForbidden, nil, fmt.Sprintf("%s: path %q not found, so not updatable (updatable: %s)",
				op, truncPath(path), strings.Join(updatablePaths, ", ")), kv...)
			e.also = kPathNotFound.code
			return e
		}
		return newError(kUpdateForbidden, nil, fmt.Sprintf("%s: path %q is not updatable (updatable: %s)",
			op, path, strings.Join(updatablePaths, ", ")), kv...)
	case errors.Is(err, cfgsnap.ErrForbidden):
		return newError(kUpdateForbidden, nil, fmt.Sprintf("%s: path %q is not updatable (updatable: %s)",
			op, path, strings.Join(updatablePaths, ", ")), kv...)
	case errors.Is(err, cfgsnap.ErrPathNotFound):
		return newError(kPathNotFound, nil, fmt.Sprintf("%s: path %q not found", op, path), kv...)
	case errors.Is(err, cfgsnap.ErrTypeMismatch):
		return newError(kTypeMismatch, nil, fmt.Sprintf("%s = %s: %s", path, val, detail), kv...)
	case errors.Is(err, cfgsnap.ErrOutOfRange):
		return newError(kRange, nil, fmt.Sprintf("%s = %s: out of range for the field (%s)", path, val, detail), kv...)
	case errors.Is(err, cfgsnap.ErrInvalidValue):
		return newError(kInvalidValue, nil, fmt.Sprintf("%s = %s: not a finite number", path, val), kv...)
	case errors.Is(err, cfgsnap.ErrNotInSet):
		return newError(kInvalidValue, nil, fmt.Sprintf("%s = %s: not an allowed value", path, val), kv...)
	case errors.Is(err, cfgsnap.ErrInvalid):
		return newError(kValidation, err, fmt.Sprintf("%s = %s: rejected by validation", path, val), kv...)
	case errors.Is(err, cfgsnap.ErrVersionConflict):
		return newError(kVersionConflict, nil, fmt.Sprintf("%s: %s", path, err.Error()), kv...)
	case errors.Is(err, cfgsnap.ErrClosed):
		return errClosed("config." + op)
	case errors.Is(err, cfgsnap.ErrLocked):
		return newError(kConfigStorage, err, "config data dir is locked by another process", kv...)
	}
	return newError(kConfigStorage, err, "config storage", kv...)
}
