package cfgsnap

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/internal/fanout"
	"github.com/elixirscope-go/foundation/internal/pad"
)

// ErrOption reports a bad [Config] value or a type T that its Config does
// not support (a T with maps or slices but no Clone, a durable T that does
// not round-trip through encoding/json).
var ErrOption = errors.New("invalid option")

// Config configures a [Store]. The zero value is valid: memory only, no
// validation, every leaf path updatable, a plain value copy of T.
type Config[T any] struct {
	// Validate checks a whole candidate before it is published; an error
	// refuses the change ([ErrInvalid] wrapping it). It runs on a private
	// copy with no lock held, may run concurrently with itself, and must not
	// keep the pointer. nil means no validation.
	Validate func(*T) error
	// ValidatePath, when set with Validate, gives for an updatable path the
	// check of a candidate that differs at that path only from a value
	// Validate accepted: it must return exactly what Validate would (nil, or
	// the same error) for every such candidate, typically the rules that read
	// the path, then Validate itself when one fails. [Store.Update] and
	// [Store.CompareAndUpdate] run it instead of Validate; every other
	// change, [Store.Check], and an update of a path for which it returned
	// nil run Validate. Every published value is one Validate accepted or,
	// by that contract, would accept. Called once per updatable path, at
	// Open.
	ValidatePath func(path string) func(*T) error
	// Clone returns a deep copy of *T. It is required when T holds maps,
	// slices, pointers or interfaces (Open refuses such a T without it with
	// [ErrOption]); nil means a plain value copy, for T that are pure values.
	Clone func(*T) T
	// Updatable lists the leaf paths that [Store.Update] may change; nil
	// means every leaf path (with Dir set, every leaf but the secrets, which
	// a durable store never writes: listing one is an [ErrOption] error). An unknown path is an [ErrPathNotFound] error
	// from Open, a parent path an [ErrForbidden] one.
	Updatable []string
	// Dir, when not empty, makes the store durable: every change is logged
	// and fsynced before it returns, snapshots are written every
	// SnapshotEvery changes, and Open recovers the newest state. The
	// directory is created if missing and flock'ed while open. T must then
	// round-trip through encoding/json (checked at Open).
	Dir string
	// SnapshotEvery is the number of changes between snapshots (durable
	// mode); 0 means 1000; negative is an [ErrOption] error.
	SnapshotEvery int
	// Clock stamps each version: it is read once per change (and once at
	// Open). nil means [clock.Real]; tests pass a [clock.Manual].
	Clock clock.Clock
	// NoSync skips every fsync: durable against a process crash, not
	// against a machine crash. For benchmarks and tests only.
	NoSync bool
	// GroupReadable creates the directory 0750 and its files 0640 instead
	// of the private default, 0700 and 0600.
	GroupReadable bool
	// OnProblem, when set, is called once per problem the store meets while
	// running (a log write or fsync that failed, a deleted directory, a
	// snapshot it could not write, the repair of the log). It is called by
	// the writer that met the problem, with the store's commit lock held: it
	// must return quickly and must not call the Store. [Store.Problem] reads
	// the current problem at any time.
	OnProblem func(error)

	fault faultFunc // tests: fails chosen file-system operations
}

// Kind tells what made a [Change].
type Kind uint8

const (
	// Updated: [Store.Update], [Store.CompareAndUpdate] or [Store.UpdateFunc].
	Updated Kind = iota + 1
	// Reset: [Store.Reset].
	Reset
)

// String returns "updated" or "reset".
func (k Kind) String() string {
	switch k {
	case Updated:
		return "updated"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Change describes one published change. For an update of one path, Old
// and New are that field's values (of the field's type); for
// [Store.UpdateFunc] and [Store.Reset] Path is "" and they are whole T
// values (copies). Version is the version the change created.
type Change struct {
	Kind     Kind
	Path     string
	Old, New any
	Version  uint64
	Time     time.Time
}

// Snapshot is one immutable version of the value. Nothing reachable from a
// published Snapshot is ever written again, so any number of goroutines may
// read it without synchronisation. Changes take their snapshots from blocks
// of up to 9.25 KiB (one allocation for several versions; a Snapshot larger
// than half of that, where two would not fit, is one allocation per
// version): keeping a snapshot keeps its block in memory.
type Snapshot[T any] struct {
	v        T
	version  uint64
	unixNano int64 // when: Unix nanoseconds (no time.Time: 16 bytes less per version)
	clone    func(*T) T
}

// Value returns a copy of the value (through [Config.Clone] when set), which
// the caller may modify freely. It allocates only what Clone allocates.
func (s *Snapshot[T]) Value() T {
	if s.clone != nil {
		return s.clone(&s.v)
	}
	return s.v
}

// Ptr returns a pointer to the snapshot's own value for zero-copy reads. The
// value is shared by every reader: never write through it, nor into its maps
// or slices.
func (s *Snapshot[T]) Ptr() *T { return &s.v }

// Version returns the snapshot's version: 0 for the initial value of a new
// store, +1 for every successful change.
func (s *Snapshot[T]) Version() uint64 { return s.version }

// Time returns when the change that made this snapshot happened (by
// [Config.Clock], to the nanosecond; a wall-clock time, with no monotonic
// reading); for the initial snapshot, when Open ran or, after recovery, the
// time of the recovered version.
func (s *Snapshot[T]) Time() time.Time { return time.Unix(0, s.unixNano) }

// Store holds the current [Snapshot] of a T and serialises changes to it.
// All methods are safe for concurrent use. A Store must not be copied.
//
// Reads ([Store.Load]) are one atomic load. Writers build a candidate from
// the newest accepted snapshot with no lock held (clone, change, validate),
// then take a short lock to check that no other change got in first (else
// they retry, or fail with [ErrVersionConflict] for CompareAndUpdate),
// number it and queue it. In durable mode the queued record is then written
// and fsynced by a group commit, and only then published.
type Store[T any] struct {
	// cur is the published snapshot.
	// Writers: Store'd by one goroutine at a time (the holder of mu in memory
	// mode, of commitMu in durable mode), in version order, after the
	// snapshot is complete (and durable); a stored snapshot is never written
	// again. Readers: Load, then only read. The atomic store/load pair is the
	// publication edge: everything written into the snapshot before Store is
	// visible after Load.
	cur atomic.Pointer[Snapshot[T]]
	// Padding keeps cur alone in its lines: writers churn mu (and, in
	// durable mode, head) below, and readers on other cores should not lose
	// the line they load.
	_ [pad.FalseSharingRange - unsafe.Sizeof(atomic.Pointer[int]{})]byte

	// head is the newest accepted snapshot in durable mode: the base for
	// the next change, ahead of cur while a batch is being synced. Stored
	// under mu; loaded without it by writers starting an attempt (newest).
	// In memory mode a change is published at once, so cur is the newest
	// and head is not kept up to date (one atomic store less per change).
	head   atomic.Pointer[Snapshot[T]]
	closed atomic.Bool // set under mu (and commitMu) by Close

	mu        sync.Mutex // writer lock: head, pendBuf, pendItems, broken
	pendBuf   []byte     // encoded records accepted but not yet written
	pendItems []*pending[T]
	broken    error // a log write failed and the log is not repaired yet; changes are refused
	gone      bool  // broken is ErrDirGone: no repair is tried

	probMu    sync.Mutex
	problem   error // the current problem while running, nil when healthy
	onProblem func(error)
	secrets   []*field // leaf fields tagged secret: never written to Dir

	commitMu sync.Mutex // group-commit leader lock (durable): d, cur, notification order
	d        *disk

	subs fanout.List[*Subscription] // copy-on-write: notify loads it without a lock

	block    atomic.Pointer[snapBlock[T]] // where newSnapshot hands out snapshots from
	perBlock int                          // snapshots per block; 1: one allocation each

	schema    *schema
	index     pathIndex // the updatable fields, found without a map
	updatable []string
	validate  func(*T) error
	clone     func(*T) T
	now       func() int64 // Unix nanoseconds
	initial   T
	recovery  Recovery
}

// pending is a change accepted in durable mode, waiting for its fsync.
// done and err are written by the commit leader and read by the waiter,
// both under commitMu.
type pending[T any] struct {
	snap   *Snapshot[T]
	change Change
	many   []Change // UpdateMany: one change per path, announced instead of change
	done   bool
	err    error
}

// disk is the durable state, owned by the holder of commitMu.
type disk struct {
	dir    string
	key    string   // dir's absolute path, the key in held
	dirf   *os.File // the directory, open: fsync'd, and fstat'ed to notice its deletion
	lock   *os.File
	fault  faultFunc
	fmode  os.FileMode
	log    *os.File // active segment, O_APPEND
	start  uint64   // first version of the active segment
	size   int64    // bytes of the active segment known good
	since  int      // changes since the newest snapshot
	every  int
	nosync bool
	syncs  uint64   // batches written (one fsync each unless nosync)
	snaps  []uint64 // snapshot versions on disk, ascending
	segs   []uint64 // segment starts on disk, ascending
}

// Recovery reports what [Open] found in the directory. It is the zero
// value for a memory-only store and for a fresh directory; Problems is
// empty when the directory was clean.
type Recovery struct {
	SnapshotVersion  uint64 // version of the snapshot recovery started from (0: the initial value)
	Version          uint64 // version recovered
	Replayed         int    // log records applied after the snapshot
	TruncatedBytes   int64  // bytes cut from a torn log tail (a write a crash interrupted)
	Superseded       int64  // bytes of records void because a later segment superseded them (never acknowledged)
	CorruptSnapshots int    // snapshot files skipped (renamed to *.corrupt)
	// LostFirst … LostLast are the versions that media damage made
	// unrecoverable (a damaged record with intact data after it, a missing
	// segment); both 0 when none were lost. The state recovered is the
	// newest one that can be proven, LostFirst-1.
	LostFirst, LostLast uint64
	SetAside            []string // files renamed *.corrupt, kept for inspection
	Problems            []string // human-readable description of every loss
}

// Degraded reports whether recovery lost acknowledged versions or a
// snapshot (a torn tail or superseded records are not losses: they were never
// acknowledged, or are the ordinary mark of a crash).
func (r Recovery) Degraded() bool {
	return r.LostLast != 0 || r.CorruptSnapshots > 0 || len(r.SetAside) > 0
}

// Open returns a Store whose first snapshot holds initial (version 0), or,
// with [Config.Dir], the state recovered from the directory: the newest
// valid snapshot plus the log after it. Damage (a torn or corrupt log tail, a
// corrupt snapshot) does not fail Open: it is cut off or skipped and reported
// in [Store.Recovery].
//
// Errors: [ErrOption] for bad options or an unsupported T, [ErrPathNotFound]
// or [ErrForbidden] for a bad Updatable entry, [ErrInvalid] when Validate
// refuses initial (or the recovered state), [ErrLocked] when another Store
// holds the directory, [ErrDir] when it cannot be used.
func Open[T any](initial T, cfg Config[T]) (*Store[T], error) {
	typ := reflect.TypeFor[T]()
	sch, err := buildSchema(typ)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	if cfg.Clone == nil {
		if p, ok := needsClone(typ, typ.String()); ok {
			return nil, fmt.Errorf("cfgsnap: %s holds a reference (%s) that a value copy would share: set Config.Clone: %w", typ, p, ErrOption)
		}
	}
	if cfg.SnapshotEvery < 0 {
		return nil, fmt.Errorf("cfgsnap: SnapshotEvery %d: %w", cfg.SnapshotEvery, ErrOption)
	}
	st := &Store[T]{
		schema:    sch,
		onProblem: cfg.OnProblem,
		validate:  cfg.Validate,
		clone:     cfg.Clone,
		now:       clockNow(cfg.Clock),
	}
	st.perBlock = max(1, (snapBlockBytes-8)/int(unsafe.Sizeof(Snapshot[T]{})))
	st.initial = st.copyOf(&initial)
	for _, p := range sch.leaves {
		if f := sch.fields[p]; f.secret {
			st.secrets = append(st.secrets, f)
		}
	}
	if cfg.Updatable == nil {
		for _, p := range sch.leaves {
			if f := sch.fields[p]; !f.secret || cfg.Dir == "" {
				f.updatable = true
			}
		}
	} else {
		for _, p := range cfg.Updatable {
			f := sch.fields[p]
			if f == nil {
				return nil, &PathError{Op: "open", Path: p, Err: ErrPathNotFound, Cause: errors.New("in Config.Updatable")}
			}
			if f.kind == kindStruct {
				return nil, &PathError{Op: "open", Path: p, Err: ErrForbidden, Cause: errors.New("a parent path in Config.Updatable")}
			}
			if f.secret && cfg.Dir != "" {
				return nil, &PathError{Op: "open", Path: p, Err: ErrOption, Cause: errors.New("a secret is never written to Config.Dir, so it cannot be updatable in durable mode")}
			}
			f.updatable = true
		}
	}
	var allowed []*field
	for _, p := range sch.leaves { // sorted, so updatable is too
		if f := sch.fields[p]; f.updatable {
			st.updatable = append(st.updatable, p)
			allowed = append(allowed, f)
		}
	}
	st.index = newPathIndex(allowed)
	if cfg.ValidatePath != nil && cfg.Validate != nil {
		for _, f := range allowed {
			if chk := cfg.ValidatePath(f.path); chk != nil {
				f.check = chk
			}
		}
	}
	if st.validate != nil {
		if err := st.validate(&st.initial); err != nil {
			return nil, &PathError{Op: "open", Err: ErrInvalid, Cause: err}
		}
	}
	snap := &Snapshot[T]{v: st.copyOf(&st.initial), unixNano: st.now(), clone: st.clone}
	if cfg.Dir != "" {
		scrubbed := st.scrub(&st.initial)
		if err := st.checkJSON(&scrubbed); err != nil {
			return nil, err
		}
		every := cfg.SnapshotEvery
		if every == 0 {
			every = 1000
		}
		dmode, fmode := os.FileMode(dirMode), os.FileMode(fileMode)
		if cfg.GroupReadable {
			dmode, fmode = groupDirMode, groupFileMode
		}
		lock, dirf, key, err := lockDir(cfg.Dir, dmode, fmode)
		if err != nil {
			return nil, err
		}
		st.d = &disk{dir: cfg.Dir, key: key, dirf: dirf, lock: lock, every: every, nosync: cfg.NoSync, fault: cfg.fault, fmode: fmode}
		if snap, err = st.recoverDir(snap); err != nil {
			st.d.release()
			return nil, err
		}
	}
	st.cur.Store(snap)
	st.head.Store(snap)
	return st, nil
}

// release closes the log, the lock and the directory and forgets dir in
// held.
func (d *disk) release() error {
	var err error
	if d.log != nil {
		err = d.log.Close()
	}
	if uerr := unlockDir(d.lock); err == nil {
		err = uerr
	}
	d.dirf.Close()
	held.Delete(d.key)
	return err
}

// scrub returns a copy of *v with every secret leaf zeroed: what is written
// to the directory.
func (st *Store[T]) scrub(v *T) T {
	c := st.copyOf(v)
	for _, f := range st.secrets {
		f.set(unsafe.Pointer(&c), reflect.Zero(f.typ))
	}
	return c
}

// resupply sets every secret leaf of *v to its initial value: secrets are
// not in the directory, the value given to Open is authoritative.
func (st *Store[T]) resupply(v *T) {
	for _, f := range st.secrets {
		f.set(unsafe.Pointer(v), reflect.ValueOf(f.value(unsafe.Pointer(&st.initial))))
	}
}

// Problem returns why the store is degraded, or nil: a change it could not
// make durable (it refuses changes until it has repaired its log, which the
// next change attempts), a deleted or replaced directory ([ErrDirGone]: every
// later change is refused), a snapshot it could not write (changes are still
// logged durably; the log grows until a snapshot succeeds). What Open lost
// is in [Store.Recovery] ([Recovery.Degraded]).
func (st *Store[T]) Problem() error {
	st.probMu.Lock()
	defer st.probMu.Unlock()
	return st.problem
}

func (st *Store[T]) setProblem(err error) {
	st.probMu.Lock()
	st.problem = err
	st.probMu.Unlock()
	if err != nil && st.onProblem != nil {
		st.onProblem(err)
	}
}

// checkJSON checks that *v (secrets zeroed) survives encoding/json, and
// names the first leaf that does not.
func (st *Store[T]) checkJSON(v *T) error {
	b, err := json.Marshal(v)
	if err == nil {
		var back T
		err = json.Unmarshal(b, &back)
		back = st.scrub(&back) // secrets are put back from the initial value, whatever their JSON
		if err == nil && !reflect.DeepEqual(*v, back) {
			err = errors.New("value differs after a round trip")
			for _, p := range st.schema.leaves {
				f := st.schema.fields[p]
				if a, z := f.value(unsafe.Pointer(v)), f.value(unsafe.Pointer(&back)); !reflect.DeepEqual(a, z) {
					err = fmt.Errorf("field %q differs after a round trip (tag it `cfg:\",secret\"` if it must not be written to Dir)", p)
					break
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("cfgsnap: durable %s must round-trip through encoding/json: %w: %w", reflect.TypeFor[T](), err, ErrOption)
	}
	return nil
}

// copyInto sets *dst to a copy of *src: one copy, straight into dst
// (dst = copyOf(src) copies twice, through the result).
func (st *Store[T]) copyInto(dst, src *T) {
	if st.clone != nil {
		*dst = st.clone(src)
		return
	}
	*dst = *src
}

func (st *Store[T]) copyOf(v *T) T {
	if st.clone != nil {
		return st.clone(v)
	}
	return *v
}

// Load returns the current snapshot: one atomic load, no lock, no
// allocation. The snapshot stays valid (and unchanged) for as long as the
// caller keeps it.
func (st *Store[T]) Load() *Snapshot[T] { return st.cur.Load() }

// Lookup returns the value at path in the current snapshot: a leaf's value
// (of the field's type) or, for a parent path, a copy of the nested struct.
// It allocates the boxed result. Errors: [ErrPathNotFound].
func (st *Store[T]) Lookup(path string) (any, error) {
	f := st.schema.fields[path]
	if f == nil {
		if _, err := parsePath(path); err != nil {
			err.(*PathError).Op = "lookup"
			return nil, err
		}
		return nil, &PathError{Op: "lookup", Path: path, Err: ErrPathNotFound}
	}
	s := st.cur.Load()
	return f.value(unsafe.Pointer(&s.v)), nil
}

// Paths returns every leaf path of T, sorted. It allocates the slice.
func (st *Store[T]) Paths() []string { return append([]string(nil), st.schema.leaves...) }

// UpdatablePaths returns the paths [Store.Update] accepts, sorted. It
// allocates the slice.
func (st *Store[T]) UpdatablePaths() []string { return append([]string(nil), st.updatable...) }

// Recovery returns what Open found in the directory (a copy).
func (st *Store[T]) Recovery() Recovery {
	r := st.recovery
	r.Problems = append([]string(nil), r.Problems...)
	return r
}

// Update sets the leaf at path to value, converted by the rules of the
// package doc, validates the whole candidate and publishes it as the next
// version; in durable mode it returns after the change is fsynced. On any
// error nothing changes.
//
// Errors: [ErrForbidden] for a path not in the allow-list (unknown and parent
// paths included: the allow-list is checked first), [ErrTypeMismatch],
// [ErrOutOfRange], [ErrInvalidValue], [ErrNotInSet], [ErrInvalid],
// [ErrClosed], [ErrDir] (log write failed).
func (st *Store[T]) Update(path string, value any) (Change, error) {
	return st.update("update", false, 0, path, value)
}

// CompareAndUpdate is [Store.Update] that succeeds only if version is still
// the newest version; otherwise it returns [ErrVersionConflict] (Want and Got
// of the [*PathError] give the versions).
func (st *Store[T]) CompareAndUpdate(version uint64, path string, value any) (Change, error) {
	return st.update("compare-and-update", true, version, path, value)
}

// Check is a dry run of [Store.Update]: the allow-list, the conversion and
// the validation of the whole candidate against the current snapshot,
// without applying, logging or announcing anything. It returns the value
// converted to the field's type, or the error Update would return now (a
// later Update may still fail if another change lands in between). It takes
// no lock; it allocates the candidate copy.
func (st *Store[T]) Check(path string, value any) (any, error) {
	if st.closed.Load() {
		return nil, ErrClosed
	}
	f := st.allowedField(path)
	if f == nil {
		return nil, &PathError{Op: "check", Path: truncate(path), Err: ErrForbidden}
	}
	nv, err := f.convert("check", value)
	if err != nil {
		return nil, err
	}
	base := st.newest()
	v := st.copyOf(&base.v)
	f.set(unsafe.Pointer(&v), nv)
	if st.validate != nil {
		if err := st.validate(&v); err != nil {
			return nil, &PathError{Op: "check", Path: path, Err: ErrInvalid, Cause: err}
		}
	}
	return nv.Interface(), nil
}

func (st *Store[T]) update(op string, cas bool, want uint64, path string, value any) (Change, error) {
	f := st.allowedField(path)
	if f == nil {
		return Change{}, &PathError{Op: op, Path: truncate(path), Err: ErrForbidden}
	}
	newV := value // the field's own type: its own conversion, in the caller's box
	if !f.isExact(value) {
		nv, err := f.convert(op, value)
		if err != nil {
			return Change{}, err
		}
		newV = nv.Interface()
	}
	check, _ := f.check.(func(*T) error)
	for { // apply's loop, with the candidate built here: no closure, no copy of it
		base, snap, err := st.begin(op, cas, want)
		if err != nil {
			return Change{}, err
		}
		c := candidate[T]{kind: Updated, path: path, new: newV, check: check}
		st.copyInto(&snap.v, &base.v)
		c.old = f.swap(unsafe.Pointer(&snap.v), newV)
		if st.d != nil {
			c.rkind = recUpdate
			c.tag, c.value = encodeLeaf(nil, f.kind, reflect.ValueOf(newV))
		}
		if ch, retry, err := st.commit(op, cas, want, base, snap, &c); !retry {
			return ch, err
		}
	}
}

// UpdateFunc applies fn to a private copy of the newest value, validates
// the result and publishes it as the next version (Change.Path is "", Old
// and New are whole values). An error from fn is returned as is and nothing
// changes. fn runs with no lock held; when another change gets in first, the
// attempt is discarded and fn runs again on the newer value, so fn must only
// change its argument. In durable mode the record holds the JSON of T.
func (st *Store[T]) UpdateFunc(fn func(*T) error) (Change, error) {
	return st.apply("update-func", false, 0, func(base, snap *Snapshot[T]) (c candidate[T], err error) {
		st.copyInto(&snap.v, &base.v)
		if err := fn(&snap.v); err != nil {
			return c, err
		}
		if st.d != nil {
			for _, f := range st.secrets {
				if f.value(unsafe.Pointer(&snap.v)) != f.value(unsafe.Pointer(&base.v)) {
					return c, &PathError{Op: "update-func", Path: f.path, Err: ErrForbidden, Cause: errors.New("a secret is not updatable in durable mode")}
				}
			}
		}
		c.kind, c.old, c.new = Updated, st.copyOf(&base.v), st.copyOf(&snap.v)
		err = st.encodeWhole(&c, snap, recFunc)
		return c, err
	})
}

// Reset publishes the initial value given to Open as the next version (the
// version still grows). Errors: [ErrInvalid], [ErrClosed], [ErrDir].
func (st *Store[T]) Reset() (Change, error) {
	return st.apply("reset", false, 0, func(base, snap *Snapshot[T]) (c candidate[T], err error) {
		st.copyInto(&snap.v, &st.initial)
		c.kind, c.old, c.new = Reset, st.copyOf(&base.v), st.copyOf(&st.initial)
		err = st.encodeWhole(&c, snap, recReset)
		return c, err
	})
}

func (st *Store[T]) encodeWhole(c *candidate[T], snap *Snapshot[T], kind byte) error {
	if st.d == nil {
		return nil
	}
	scrubbed := st.scrub(&snap.v)
	b, err := json.Marshal(&scrubbed)
	if err != nil {
		return &PathError{Op: "encode", Err: ErrInvalidValue, Cause: err}
	}
	c.rkind, c.tag, c.value = kind, tagJSON, b
	return nil
}

// candidate is one attempt at a change, built with no lock held. Builders
// return it by value, so that it lives in apply's frame (no allocation).
type candidate[T any] struct {
	snap     *Snapshot[T]
	many     []Change       // UpdateMany: the per-path changes (apply sets Version and Time)
	check    func(*T) error // instead of Validate: Config.ValidatePath's check of path
	kind     Kind
	path     string
	old, new any
	rkind    byte
	tag      byte
	value    []byte
}

// apply runs the optimistic write protocol: build and validate a candidate
// from the newest snapshot with no lock held, then under mu publish it if
// the newest has not moved (else retry, or conflict for CAS).
func (st *Store[T]) apply(op string, cas bool, want uint64, build func(base, snap *Snapshot[T]) (candidate[T], error)) (Change, error) {
	for {
		base, snap, err := st.begin(op, cas, want)
		if err != nil {
			return Change{}, err
		}
		c, err := build(base, snap)
		if err != nil {
			return Change{}, err
		}
		if ch, retry, err := st.commit(op, cas, want, base, snap, &c); !retry {
			return ch, err
		}
	}
}

// begin starts an attempt at a change: the newest snapshot, the base, and
// a fresh one for the candidate.
func (st *Store[T]) begin(op string, cas bool, want uint64) (base, snap *Snapshot[T], err error) {
	if st.closed.Load() {
		return nil, nil, ErrClosed
	}
	base = st.newest()
	if cas && base.version != want {
		return nil, nil, st.conflict(op, want, base.version)
	}
	return base, st.newSnapshot(), nil
}

// commit validates the candidate c that was built in snap from base, then
// publishes it (memory mode) or queues it and waits for its fsync (durable
// mode). retry is true when another change got in first (not for CAS,
// which fails with a conflict): the caller builds again.
func (st *Store[T]) commit(op string, cas bool, want uint64, base, snap *Snapshot[T], c *candidate[T]) (_ Change, retry bool, _ error) {
	c.snap = snap
	if validate := st.validate; validate != nil {
		if c.check != nil {
			validate = c.check
		}
		if err := validate(&c.snap.v); err != nil {
			return Change{}, false, &PathError{Op: op, Path: c.path, Err: ErrInvalid, Cause: err}
		}
	}
	st.mu.Lock()
	if st.closed.Load() {
		st.mu.Unlock()
		return Change{}, false, ErrClosed
	}
	if st.broken != nil {
		st.mu.Unlock()
		if err := st.repair(); err != nil {
			return Change{}, false, err
		}
		return Change{}, true, nil
	}
	if cur := st.newest(); cur != base {
		st.mu.Unlock()
		if cas {
			return Change{}, false, st.conflict(op, want, cur.version)
		}
		return Change{}, true, nil
	}
	now := st.now()
	c.snap.version, c.snap.unixNano = base.version+1, now
	ch := Change{Kind: c.kind, Path: c.path, Old: c.old, New: c.new, Version: c.snap.version, Time: time.Unix(0, now)}
	for i := range c.many {
		c.many[i].Version, c.many[i].Time = c.snap.version, ch.Time
	}
	if st.d == nil {
		st.cur.Store(c.snap)
		st.announce(&ch, c.many)
		st.mu.Unlock()
		return ch, false, nil
	}
	st.head.Store(c.snap)
	st.pendBuf = appendRecord(st.pendBuf, &record{
		version: c.snap.version, time: now, kind: c.rkind, tag: c.tag, path: c.path, value: c.value,
	})
	p := &pending[T]{snap: c.snap, change: ch, many: c.many}
	st.pendItems = append(st.pendItems, p)
	st.mu.Unlock()
	if err := st.wait(p); err != nil {
		return Change{}, false, err
	}
	return ch, false, nil
}

// newest returns the newest accepted snapshot, the base of the next change:
// cur in memory mode, head in durable mode.
func (st *Store[T]) newest() *Snapshot[T] {
	if st.d == nil {
		return st.cur.Load()
	}
	return st.head.Load()
}

// snapBlockBytes is the size of the blocks that changes take their
// snapshot from (see snapBlock): one of the allocator's size classes, so
// that a block fills it but for less than one snapshot, its 8-byte malloc
// header included (see Open). The class of 9472 bytes is carved from spans
// of 56 KiB, six blocks each, where the 8 KiB class has one object per
// span: every block of 8 KiB took a new span from the heap (sweeping for
// it), one in six of these does. In BenchmarkConfigUpdate at -cpu 1 that
// is about 7% of an in-memory Update (bench/'s seed table).
const snapBlockBytes = 9472

// snapBlock is a block of snapshots allocated at once: each change takes
// the next one, so that a change costs a fraction of one allocation (and of
// its malloc header) instead of one allocation with its heap bitmap. The
// garbage collector frees a block when none of its snapshots is referenced:
// a reader that keeps one snapshot keeps its block, at most
// snapBlockBytes, alive. A snapshot given to a candidate that fails
// (validation, a lost race) is never published, and never reused.
type snapBlock[T any] struct {
	snaps []Snapshot[T]
	next  atomic.Int64 // index of the next free snapshot; past len(snaps) the block is used up
}

// newSnapshot returns a zero snapshot (but for its clone function) for a
// candidate. Safe for concurrent use: the index is claimed atomically.
func (st *Store[T]) newSnapshot() *Snapshot[T] {
	if st.perBlock == 1 {
		return &Snapshot[T]{clone: st.clone}
	}
	for {
		b := st.block.Load()
		if b != nil {
			if i := b.next.Add(1) - 1; i < int64(len(b.snaps)) {
				return st.fresh(&b.snaps[i])
			}
		}
		nb := &snapBlock[T]{snaps: make([]Snapshot[T], st.perBlock)}
		nb.next.Store(1)
		if st.block.CompareAndSwap(b, nb) {
			return st.fresh(&nb.snaps[0])
		}
	}
}

// fresh sets the clone function of s, a snapshot of a block never handed
// out before: zero, so a nil clone (a T of pure values) needs no store (a
// pointer store, with its write barrier while the collector marks).
func (st *Store[T]) fresh(s *Snapshot[T]) *Snapshot[T] {
	if st.clone != nil {
		s.clone = st.clone
	}
	return s
}

// allowedField returns the field of an updatable path, or nil.
func (st *Store[T]) allowedField(path string) *field {
	if f, ok := st.index.lookup(path); ok {
		return f
	}
	if f := st.schema.fields[path]; f != nil && f.updatable {
		return f
	}
	return nil
}

func (st *Store[T]) conflict(op string, want, have uint64) error {
	return &PathError{Op: op, Err: ErrVersionConflict, Want: fmt.Sprintf("version %d", want), Got: fmt.Sprintf("version %d", have)}
}

// wait returns once p's record is durable (or failed). Group commit: the
// first waiter to get commitMu becomes the leader and writes and fsyncs
// every record queued so far, its own and those of the writers that queued
// while the previous leader was syncing; they find theirs done and return.
func (st *Store[T]) wait(p *pending[T]) error {
	st.commitMu.Lock()
	defer st.commitMu.Unlock()
	if !p.done {
		st.flushLocked()
	}
	return p.err
}

// flushLocked writes, syncs and publishes the queued records. commitMu held.
func (st *Store[T]) flushLocked() {
	st.mu.Lock()
	buf, items := st.pendBuf, st.pendItems
	st.pendBuf, st.pendItems = nil, nil
	st.mu.Unlock()
	if len(items) == 0 {
		return
	}
	d := st.d
	if err := d.checkDir(); err != nil {
		st.failLocked(items, err)
		return
	}
	if err := d.writeLog(buf); err != nil {
		st.failLocked(items, err)
		return
	}
	d.size += int64(len(buf))
	d.syncs++
	last := items[len(items)-1]
	st.cur.Store(last.snap)
	for _, it := range items {
		it.done = true
		st.announce(&it.change, it.many)
	}
	d.since += len(items)
	if d.since >= d.every {
		st.snapshotLocked(last.snap)
	}
}

// failLocked fails a batch whose write or sync failed, with every change
// queued after it (they were built on it), and rolls head back to cur. The
// failed records may be in the file, or reach it later from the page cache,
// whatever the error said: so the store refuses changes until repairLocked
// has started a new segment that supersedes them (recovery ignores records
// of a segment past the start of the next one). It tries that at once, and
// again at each later change. commitMu held.
func (st *Store[T]) failLocked(items []*pending[T], cause error) {
	d := st.d
	sentinel := ErrDir
	gone := errors.Is(cause, ErrDirGone)
	if gone {
		sentinel = ErrDirGone
	}
	werr := &PathError{Op: "write log", Path: d.path(segName(d.start)), Err: sentinel, Cause: cause}
	st.mu.Lock()
	items = append(items, st.pendItems...)
	st.pendBuf, st.pendItems = nil, nil
	st.head.Store(st.cur.Load())
	st.broken, st.gone = werr, gone
	st.mu.Unlock()
	for _, it := range items {
		it.done, it.err = true, werr
	}
	if gone {
		st.setProblem(fmt.Errorf("cfgsnap: changes refused until restart: %w", werr))
		return
	}
	st.setProblem(fmt.Errorf("cfgsnap: a change could not be made durable, changes refused until the log is repaired: %w", werr))
	if err := st.repairLocked(); err == nil {
		st.setProblem(nil)
	}
}

// repair retries repairLocked for a writer that found the store broken. It
// returns nil when the store takes changes again.
func (st *Store[T]) repair() error {
	st.commitMu.Lock()
	defer st.commitMu.Unlock()
	st.mu.Lock()
	broken, gone := st.broken, st.gone
	st.mu.Unlock()
	if broken == nil {
		return nil
	}
	if st.closed.Load() {
		return ErrClosed
	}
	if gone {
		return broken
	}
	if err := st.repairLocked(); err != nil {
		return err
	}
	st.setProblem(nil)
	return nil
}

// repairLocked makes sure the records of a failed write can never be
// recovered: it cuts them off the active segment (truncate and fsync) or,
// when that fails, abandons the segment for a new one starting at cur+1
// (recovery ignores records of a segment past the start of the next one; a
// segment that holds no acknowledged record, one that starts at cur+1, is
// removed first). On success the store takes changes again. commitMu held.
func (st *Store[T]) repairLocked() error {
	d := st.d
	next := st.cur.Load().version + 1
	fail := func(err error) error {
		perr := &PathError{Op: "repair log", Path: d.dir, Err: ErrDir, Cause: err}
		if errors.Is(err, ErrDirGone) {
			perr.Err = ErrDirGone
			st.mu.Lock()
			st.broken, st.gone = perr, true
			st.mu.Unlock()
		}
		st.setProblem(fmt.Errorf("cfgsnap: changes refused: %w", perr))
		return perr
	}
	if err := d.checkDir(); err != nil {
		return fail(err)
	}
	// First choice: cut the failed records off and make that durable.
	name := segName(d.start)
	terr := errors.New("the active segment was removed")
	if d.log != nil {
		terr = d.fail("truncate", name)
	}
	if terr == nil {
		terr = d.log.Truncate(d.size)
	}
	if terr == nil && !d.nosync {
		if terr = d.fail("sync", name); terr == nil {
			terr = d.log.Sync()
		}
	}
	if terr == nil {
		st.mu.Lock()
		st.broken = nil
		st.mu.Unlock()
		return nil
	}
	// Else supersede them with a new segment.
	if d.start == next {
		if err := d.remove(segName(next)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
		d.segs = d.segs[:len(d.segs)-1]
	}
	nf, err := d.newSegment(next)
	if err != nil {
		if d.start == next { // removed: it must never be written again
			d.segs = append(d.segs, next)
			d.log.Close()
			d.log = nil
		}
		return fail(err)
	}
	if d.log != nil {
		d.log.Close()
	}
	d.log, d.start, d.size = nf, next, 0
	d.segs = append(d.segs, next)
	st.mu.Lock()
	st.broken = nil
	st.mu.Unlock()
	return nil
}

// snapshotLocked writes a snapshot of s, starts a new log segment and
// removes what the previous snapshot made redundant. A failure leaves the
// log as it was (changes stay durable in it), is reported by Problem and
// OnProblem, and is retried after the next commit. commitMu held.
func (st *Store[T]) snapshotLocked(s *Snapshot[T]) {
	d := st.d
	fail := func(err error) {
		st.setProblem(fmt.Errorf("cfgsnap: snapshot of version %d not written (changes are still logged durably): %w", s.version,
			&PathError{Op: "snapshot", Path: d.dir, Err: ErrDir, Cause: err}))
	}
	scrubbed := st.scrub(&s.v)
	payload, err := json.Marshal(&scrubbed)
	if err != nil {
		fail(err)
		return
	}
	if err := d.writeSnapshot(s.version, encodeSnapshot(s.version, s.unixNano, payload)); err != nil {
		fail(err)
		return
	}
	if len(d.snaps) == 0 || d.snaps[len(d.snaps)-1] != s.version {
		d.snaps = append(d.snaps, s.version)
	}
	nf, err := d.newSegment(s.version + 1)
	if err != nil {
		fail(err)
		return
	}
	d.log.Close()
	d.log, d.start, d.size, d.since = nf, s.version+1, 0, 0
	d.segs = append(d.segs, d.start)
	d.prune()
	st.probMu.Lock()
	snapFailed := st.problem != nil
	st.probMu.Unlock()
	if snapFailed {
		st.setProblem(nil)
	}
}

// prune removes snapshots older than the second newest and the segments
// whose records that snapshot covers.
func (d *disk) prune() {
	if len(d.snaps) < 2 {
		return
	}
	keep := d.snaps[len(d.snaps)-2]
	for _, v := range d.snaps[:len(d.snaps)-2] {
		_ = d.remove(snapName(v))
	}
	d.snaps = d.snaps[len(d.snaps)-2:]
	segs := d.segs[:0]
	for i, s := range d.segs {
		if i+1 < len(d.segs) && d.segs[i+1] <= keep+1 {
			_ = d.remove(segName(s))
			continue
		}
		segs = append(segs, s)
	}
	d.segs = segs
}

// Close flushes queued durable changes, closes the log, releases the
// directory lock and closes every subscription's channel. Later writes
// return [ErrClosed]; Load and Lookup keep working on the last snapshot.
// Close is idempotent; it returns the error of closing the log, if any.
func (st *Store[T]) Close() error {
	st.commitMu.Lock()
	st.mu.Lock()
	if st.closed.Load() {
		st.mu.Unlock()
		st.commitMu.Unlock()
		return nil
	}
	st.closed.Store(true)
	st.mu.Unlock()
	var err error
	if st.d != nil {
		st.flushLocked()
		err = st.d.release()
	}
	st.commitMu.Unlock()
	for _, s := range st.subs.Close() {
		s.sub.Close()
	}
	return err
}

// clockNow returns c's cheapest read of Unix nanoseconds (the system
// clock's when c is nil).
func clockNow(c clock.Clock) func() int64 {
	if c == nil {
		c = clock.Real()
	}
	return clock.UnixNanoFunc(c)
}
