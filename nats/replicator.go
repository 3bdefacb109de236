package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ReplicatorConfig configures [NewReplicator]. The zero value is usable.
type ReplicatorConfig struct {
	// Bucket is the KV bucket's name (default "foundation_config"). Every
	// instance of a fleet uses the same bucket.
	Bucket string
	// Paths are the config paths to replicate (default: every path of
	// [foundation.ConfigService.UpdatablePaths]). Each must be updatable.
	Paths []string
	// Replicas is the bucket's replication factor (default 1; 3 on a
	// cluster, so that config keeps replicating when a node is down).
	Replicas int
	// Storage is file (the default) or memory.
	Storage jetstream.StorageType
	// Origin names this instance in the values it writes (default: a random
	// NUID). It is recorded for audit; echo suppression uses revisions.
	Origin string
	// Logger receives watch failures and refused values (default: discard).
	Logger *slog.Logger
	// Timeout bounds each KV call made without a caller's deadline: the
	// initial sync in NewReplicator and the seeding of missing keys
	// (default 5s).
	Timeout time.Duration
}

// ReplicatorStats counts a [Replicator]'s work.
type ReplicatorStats struct {
	Published uint64 // local updates written to the bucket
	Applied   uint64 // bucket values applied to the local config (remote updates, and the initial sync)
	Conflicts uint64 // updates refused because the bucket had moved
	Rejected  uint64 // bucket values the local config refused (see Health)
}

// entry is a bucket value: {"value":…, "origin":…, "version":…}. Version is
// the origin's local config version the update was based on (audit only).
type entry struct {
	Value   json.RawMessage `json:"value"`
	Origin  string          `json:"origin"`
	Version uint64          `json:"version"`
}

// Replicator mirrors a Foundation's config through a JetStream KV bucket,
// one key per path (the dotted path itself: "ai.planning.sampling_rate").
//
// # Source of truth and flow
//
// The bucket is the source of truth; each instance's ConfigService is a
// cache of it that readers use with one atomic load ([foundation.ConfigService.Get]):
// the network is never on the read path.
//
//   - A write ([Replicator.Update]) is validated locally (on a private copy of
//     the config, with the ConfigService's own rules), then written to the
//     bucket with kv.Update(key, value, rev), rev being the key's revision
//     this instance has applied. If another instance wrote the key since,
//     JetStream refuses it and Update returns an error matching
//     [foundation.ErrVersionConflict]: the caller lost the race and sees the
//     winner's value once it arrives. Only after the bucket accepted it is
//     the value applied locally.
//   - Every change in the bucket, this instance's own included, arrives
//     through a KV watch (in stream order, resumed across reconnects) and is
//     applied locally with [foundation.ConfigService.Update] — the same
//     validation, events and subscriber notifications as any update.
//
// # Convergence
//
// JetStream orders the writes of a key (by Raft on a cluster) and gives each
// a revision. An instance applies a value only when its revision is higher
// than the last it applied for that key — under one lock, for the watch and
// for Update alike — so its own writes are not re-applied (echoes carry a
// revision it has), and a late local apply cannot overwrite a newer remote
// value. The watch delivers every key's latest revision, so once it has
// caught up, every instance holds, for every replicated path, the value of
// the key's latest revision: all instances converge to the bucket.
//
// Paths not replicated, and updates made with the ConfigService directly,
// stay local; a direct update of a replicated path is overwritten by the
// next change of that key. Deleting a key changes nothing locally.
//
// # Outages
//
// While the server is unreachable, Health reports the component "nats"
// degraded and why ([WatchConn]); reads and local-only updates keep working;
// Update fails within its ctx's deadline and changes nothing. When the
// connection is back, the watch resumes and the instance catches up.
//
// A Replicator is safe for concurrent use. Close, or the Foundation's
// Close, stops it.
type Replicator struct {
	f      *foundation.Foundation
	kv     jetstream.KeyValue
	nc     *natsgo.Conn
	cfg    ReplicatorConfig
	types  map[string]reflect.Type // replicated path → the field's Go type
	health *ConnWatch

	mu       sync.Mutex        // serializes applying bucket values; guards rev and rejected
	rev      map[string]uint64 // path → revision last applied locally
	rejected map[string]string // path → why its latest bucket value was refused

	published, applied, conflicts, rejects atomic.Uint64

	lifeMu  sync.Mutex // guards stopped and the Add of running
	stopped bool
	running sync.WaitGroup
	stopCtx context.Context
	stop    context.CancelFunc
	ready   chan error // the first run's initial sync
}

// NewReplicator opens (or creates) the bucket, brings f's replicated paths
// to the bucket's values, writes the paths the bucket lacks from f's config
// (the first instance seeds the bucket), and starts the watch as the
// supervised task "nats.replicator" of f, and the health watch of
// [WatchConn] (component "nats"). ctx bounds the setup. Errors: a bad
// config matches [foundation.ErrInvalidArgument] (an unknown or
// non-updatable path [foundation.ErrUpdateForbidden]); a JetStream failure
// is returned wrapped.
func NewReplicator(ctx context.Context, f *foundation.Foundation, js jetstream.JetStream, cfg ReplicatorConfig) (*Replicator, error) {
	if f == nil || js == nil {
		return nil, fmt.Errorf("nats: NewReplicator: nil Foundation or JetStream: %w", foundation.ErrInvalidArgument)
	}
	if cfg.Bucket == "" {
		cfg.Bucket = "foundation_config"
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Origin == "" {
		cfg.Origin = nuid.Next()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	updatable := f.Config().UpdatablePaths()
	if cfg.Paths == nil {
		cfg.Paths = updatable
	}
	cfg.Paths = slices.Clone(cfg.Paths)
	r := &Replicator{f: f, cfg: cfg, types: make(map[string]reflect.Type, len(cfg.Paths)),
		rev: make(map[string]uint64), rejected: make(map[string]string), ready: make(chan error, 1)}
	for _, p := range cfg.Paths {
		if !slices.Contains(updatable, p) {
			return nil, fmt.Errorf("nats: NewReplicator: path %q is not updatable: %w", p, foundation.ErrUpdateForbidden)
		}
		v, err := f.Config().Lookup(p)
		if err != nil {
			return nil, err
		}
		if _, secret := v.(foundation.Secret); secret {
			return nil, fmt.Errorf("nats: NewReplicator: path %q holds a secret and is not replicated: %w", p, foundation.ErrInvalidArgument)
		}
		r.types[p] = reflect.TypeOf(v)
	}

	kv, err := openBucket(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	r.kv, r.nc = kv, js.Conn()
	r.stopCtx, r.stop = context.WithCancel(context.Background())
	if err := f.Go("nats.replicator", r.run, foundation.WithRestart(foundation.Transient),
		foundation.WithRestartIntensity(100, time.Minute), foundation.WithBackoff(50*time.Millisecond, 2*time.Second)); err != nil {
		r.stop()
		return nil, err
	}
	select {
	case err = <-r.ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		err = r.seed(ctx)
	}
	if err == nil {
		r.health, err = WatchConn(f, js.Conn(), "nats")
		if errors.Is(err, foundation.ErrTaskExists) {
			err = nil // another Replicator (or the user) watches it already
		}
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("nats: NewReplicator: %w", err)
	}
	return r, nil
}

func openBucket(ctx context.Context, js jetstream.JetStream, cfg ReplicatorConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: cfg.Bucket, Replicas: cfg.Replicas,
			Storage: cfg.Storage, Description: "foundation config, one key per path"})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("nats: bucket %q: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// seed writes the local value of every path the bucket lacks. A key another
// instance creates first wins (its value arrives through the watch).
func (r *Replicator) seed(ctx context.Context) error {
	for _, p := range r.cfg.Paths {
		r.mu.Lock()
		have := r.rev[p] > 0
		r.mu.Unlock()
		if have {
			continue
		}
		v, err := r.f.Config().Lookup(p)
		if err != nil {
			return err
		}
		data, err := r.encode(v)
		if err != nil {
			return err
		}
		cctx, cancel := r.timeout(ctx)
		rev, err := r.kv.Create(cctx, p, data)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyExists):
			continue
		case err != nil:
			return fmt.Errorf("seed %s: %w", p, err)
		}
		r.published.Add(1)
		r.apply(p, rev, v)
	}
	return nil
}

func (r *Replicator) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.cfg.Timeout)
}

// run is the supervised watch loop. The watcher is an ordered consumer,
// which on its own notices a lost server only after missed heartbeats
// (seconds); so run starts a new watcher whenever the connection is back
// (after a server restart, or on another node of a cluster). A new watcher
// delivers every key's latest value first: those whose revision was applied
// are skipped, the others (missed while away) are applied.
func (r *Replicator) run(ctx context.Context) error {
	r.lifeMu.Lock()
	if r.stopped {
		r.lifeMu.Unlock()
		return nil
	}
	r.running.Add(1)
	r.lifeMu.Unlock()
	defer r.running.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.stopCtx, cancel)()
	reconnected := r.nc.StatusChanged(natsgo.CONNECTED)
	defer r.nc.RemoveStatusListener(reconnected)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := r.watch(ctx, reconnected)
		if err == nil || ctx.Err() != nil {
			continue
		}
		r.signal(err)
		r.cfg.Logger.Warn("nats replicator: watch failed, retrying", "error", err.Error(), "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-reconnected:
		}
		t.Stop()
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// watch runs one watcher until ctx ends (nil), the connection comes back
// (nil: start a new one) or the watcher fails.
func (r *Replicator) watch(ctx context.Context, reconnected <-chan natsgo.Status) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := r.kv.WatchAll(wctx)
	if err != nil {
		return fmt.Errorf("nats replicator: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reconnected:
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("nats replicator: watch ended")
			}
			if e == nil { // the initial values are all in
				r.signal(nil)
				continue
			}
			r.receive(e)
		}
	}
}

func (r *Replicator) signal(err error) {
	select {
	case r.ready <- err:
	default:
	}
}

// receive applies a bucket entry to the local config.
func (r *Replicator) receive(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	typ, ok := r.types[e.Key()]
	if !ok {
		return
	}
	var ent entry
	pv := reflect.New(typ)
	err := json.Unmarshal(e.Value(), &ent)
	if err == nil {
		err = json.Unmarshal(ent.Value, pv.Interface())
	}
	if err != nil {
		r.reject(e.Key(), e.Revision(), fmt.Errorf("undecodable value %q: %w", e.Value(), err))
		return
	}
	r.apply(e.Key(), e.Revision(), pv.Elem().Interface())
}

// apply sets path to v locally, if rev is newer than what was applied.
func (r *Replicator) apply(path string, rev uint64, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev <= r.rev[path] {
		return // an echo of an own write, or older than what we hold
	}
	r.rev[path] = rev
	cur, err := r.f.Config().Lookup(path)
	if err == nil && reflect.DeepEqual(cur, v) {
		r.clearRejected(path)
		return
	}
	if err = r.f.Config().Update(path, v); err != nil {
		r.rejectLocked(path, rev, err)
		return
	}
	r.applied.Add(1)
	r.clearRejected(path)
}

func (r *Replicator) reject(path string, rev uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev > r.rev[path] {
		r.rev[path] = rev
	}
	r.rejectLocked(path, rev, err)
}

func (r *Replicator) rejectLocked(path string, rev uint64, err error) {
	if errors.Is(err, foundation.ErrClosed) {
		return
	}
	r.rejects.Add(1)
	r.rejected[path] = fmt.Sprintf("%s revision %d refused: %v", path, rev, err)
	r.cfg.Logger.Warn("nats replicator: bucket value refused", "path", path, "revision", rev, "error", err.Error())
	r.reportConfig()
}

func (r *Replicator) clearRejected(path string) {
	if _, ok := r.rejected[path]; ok {
		delete(r.rejected, path)
		r.reportConfig()
	}
}

// reportConfig reports the component "nats.config"; under mu.
func (r *Replicator) reportConfig() {
	if len(r.rejected) == 0 {
		r.f.ReportHealth("nats.config", foundation.ServiceHealth{Status: foundation.StatusRunning})
		return
	}
	keys := make([]string, 0, len(r.rejected))
	for k := range r.rejected {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	reason := "replicated config differs from the bucket: "
	for i, k := range keys {
		if i > 0 {
			reason += "; "
		}
		reason += r.rejected[k]
	}
	r.f.ReportHealth("nats.config", foundation.ServiceHealth{Status: foundation.StatusDegraded, Reason: reason})
}

func (r *Replicator) encode(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(entry{Value: raw, Origin: r.cfg.Origin, Version: r.f.Config().Get().Version()})
}

// Update sets path to value across the fleet: validated locally, written to
// the bucket with the key's revision this instance holds as the expected
// one, then applied locally (see [Replicator]). It returns nil once the
// bucket accepted the value and the local config holds it (or a newer
// value of the path that arrived meanwhile).
//
// Errors: a path that is not replicated matches
// [foundation.ErrUpdateForbidden]; a value the config refuses matches the
// same sentinels as [foundation.ConfigService.Update] ([foundation.ErrValidation],
// [foundation.ErrTypeMismatch], …); a key another instance changed first
// matches [foundation.ErrVersionConflict]; otherwise the JetStream error
// (ctx's deadline while the server is unreachable). On any error nothing
// changed, here or in the bucket. Update blocks for at most one KV round
// trip, bounded by ctx (or [ReplicatorConfig.Timeout] when ctx has no
// deadline).
func (r *Replicator) Update(ctx context.Context, path string, value any) error {
	return r.update(ctx, 0, false, path, value)
}

// CompareAndUpdate is Update, done only if the local config's version is
// still version (a [foundation.Snapshot.Version] the caller read): otherwise
// it fails with an error matching [foundation.ErrVersionConflict]. A remote
// change applied since the caller's read moves the version, so this
// refuses an update based on a stale view of any path.
func (r *Replicator) CompareAndUpdate(ctx context.Context, version uint64, path string, value any) error {
	return r.update(ctx, version, true, path, value)
}

func (r *Replicator) update(ctx context.Context, version uint64, cas bool, path string, value any) error {
	if r.isStopped() {
		return fmt.Errorf("nats replicator: %w", foundation.ErrClosed)
	}
	if _, ok := r.types[path]; !ok {
		return fmt.Errorf("nats replicator: path %q is not replicated: %w", path, foundation.ErrUpdateForbidden)
	}
	v, err := r.validate(path, value)
	if err != nil {
		return err
	}
	data, err := r.encode(v)
	if err != nil {
		return fmt.Errorf("nats replicator: %s: encode: %w", path, err)
	}
	r.mu.Lock()
	base := r.rev[path]
	if cas && r.f.Config().Get().Version() != version {
		r.mu.Unlock()
		r.conflicts.Add(1)
		return fmt.Errorf("nats replicator: %s: config version is no longer %d: %w", path, version, foundation.ErrVersionConflict)
	}
	r.mu.Unlock()
	if !r.nc.IsConnected() {
		// Fail now rather than leave the write in the client's reconnect
		// buffer, to be applied after the caller was told it failed.
		return fmt.Errorf("nats replicator: %s: nats server unreachable (connection %s), nothing changed", path, r.nc.Status())
	}

	cctx, cancel := r.timeout(ctx)
	defer cancel()
	rev, err := r.kv.Update(cctx, path, data, base)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		r.conflicts.Add(1)
		return fmt.Errorf("nats replicator: %s: another instance updated it after revision %d: %w", path, base, foundation.ErrVersionConflict)
	}
	if err != nil {
		return fmt.Errorf("nats replicator: %s: bucket update: %w", path, err)
	}
	r.published.Add(1)
	r.apply(path, rev, v)
	return nil
}

// validate checks value for path with the ConfigService's own rules (a dry
// run of its Update: allow-list, conversion, whole-config validation) and
// returns it converted to the field's type. Its errors match the same
// sentinels as Update's (ErrRange, ErrTypeMismatch, ErrUpdateForbidden, …).
func (r *Replicator) validate(path string, value any) (any, error) {
	v, err := r.f.Config().Check(path, value)
	if err != nil {
		return nil, fmt.Errorf("nats replicator: %w", err)
	}
	return v, nil
}

// Revision returns the bucket revision of path last applied locally (0:
// none yet, or not replicated).
func (r *Replicator) Revision(path string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rev[path]
}

// Paths returns the replicated paths.
func (r *Replicator) Paths() []string { return slices.Clone(r.cfg.Paths) }

// Stats returns the replicator's counters.
func (r *Replicator) Stats() ReplicatorStats {
	return ReplicatorStats{Published: r.published.Load(), Applied: r.applied.Load(),
		Conflicts: r.conflicts.Load(), Rejected: r.rejects.Load()}
}

func (r *Replicator) isStopped() bool {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return r.stopped
}

// Close stops the watch (waiting for it) and the health watch; Update then
// fails with [foundation.ErrClosed]. The local config keeps its values. It
// does not close the connection. Idempotent.
func (r *Replicator) Close() error {
	r.lifeMu.Lock()
	if r.stopped {
		r.lifeMu.Unlock()
		return nil
	}
	r.stopped = true
	r.lifeMu.Unlock()
	if r.stop != nil {
		r.stop()
	}
	r.running.Wait()
	if r.health != nil {
		r.health.Close()
	}
	return nil
}
