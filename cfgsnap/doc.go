// Package cfgsnap keeps a configuration value of any type T as a series of
// immutable, versioned snapshots: reads are one atomic load, changes are
// copy-on-write, validated as a whole, announced to subscribers and,
// optionally, made durable in a directory (an append-only log plus
// snapshots) before they return.
//
// Every exported function and method is safe for concurrent use unless its
// doc says otherwise. The package starts no goroutines; its only global
// state is the set of directories its stores hold open in this process.
//
// # Reading
//
// [Store.Load] returns the current [*Snapshot]: one atomic pointer load, no
// lock, no allocation, inlinable. A snapshot never changes after it is
// published; [Snapshot.Ptr] reads it in place (never write through it) and
// [Snapshot.Value] returns a copy. When T holds maps, slices or pointers,
// [Config.Clone] must deep-copy them (Open refuses such a T without it), so
// that nothing a caller does to what it got can reach the shared snapshot.
//
// For hot paths, bind a [Handle] once with [Field] and read with
// [Handle.Get]: a load at a fixed offset, no lookup, no allocation.
// [Store.Lookup] finds a value by path (it boxes the result).
//
// # Paths
//
// The schema is built from T by reflection once, at [Open]. Exported fields
// of nested structs become dotted paths (ai.planning.sampling_rate): a field's
// segment is its `cfg:"name"` tag, else the snake_case of its Go name
// (MaxFileSize → max_file_size, APIKey → api_key). `cfg:"-"` hides a field,
// `cfg:",secret"` keeps its value out of error messages, untagged anonymous
// structs are flattened. Leaves are the integer kinds, float32/64, bool,
// string, [time.Duration], and enums: named string types with an
// EnumValues() []string method ([Enum]). Other kinds are carried in T but
// have no path.
//
// # Updating
//
// [Store.Update] converts the value to the field's type by these rules and
// nothing else:
//
//   - integer field: any Go integer type, in range, else [ErrOutOfRange];
//     also a float with an integral value (2.0, as JSON and YAML decoders
//     give numbers), never a fractional one ([ErrTypeMismatch]);
//   - float field: any float or integer; NaN and ±Inf are [ErrInvalidValue];
//   - bool field: bool only;
//   - enum field: its own type or a string, in its set, else [ErrNotInSet];
//   - time.Duration field: a Duration, or a string [time.ParseDuration] accepts;
//   - string field: a string (or the field's own type);
//   - anything else: [ErrTypeMismatch], naming the path, the wanted and the given type.
//
// The allow-list ([Config.Updatable]) is checked first: any other path,
// unknown and parent paths included, is [ErrForbidden]. The change is applied
// to a private copy, [Config.Validate] checks the whole candidate
// ([ErrInvalid] wraps its error; [Config.ValidatePath] may give Update a
// cheaper check of the one path it changes, which must decide exactly as
// Validate would), and only then is it published as version +1. On any
// error the current snapshot is exactly as it was.
//
// Writers are optimistic: they build and validate a candidate with no lock
// held, then take a short lock that numbers and publishes it if no other
// change got in first; otherwise they retry on the newer value.
// [Store.CompareAndUpdate] fails with [ErrVersionConflict] instead.
// [Store.UpdateMany] sets several paths as one version (all or none, one
// log record, one Change per path to subscribers); [Store.UpdateFunc]
// changes many fields at once through a function (which may run more than
// once under contention); [Store.Reset] goes back to the initial value.
// [Schema] gives the paths and the conversion without a Store, for loaders.
//
// # Subscribing
//
// [Store.Subscribe] delivers every [Change] in version order. A full buffer
// never blocks a writer: the change is dropped and counted
// ([Subscription.Dropped]), and the next Version received jumps. A
// subscription's channel is closed only by its Close or by [Store.Close].
//
// # Durability
//
// With [Config.Dir] set, every change is appended to a log and fsynced
// before the call returns. Records are length-prefixed and checked with
// CRC-32C; a leaf update stores its value in binary by leaf kind, UpdateFunc
// and Reset store the JSON of T (so a durable T must round-trip through
// encoding/json). Concurrent writers share fsyncs: the first waiter becomes
// the leader and syncs every record queued so far (group commit). A change
// becomes visible to readers and subscribers only once it is durable.
//
// Every [Config.SnapshotEvery] changes a snapshot file is written (temp
// file, fsync, rename, fsync of the directory), a new log segment starts and
// files older than the previous snapshot are removed. [Open] recovers the
// newest valid snapshot plus the log after it, and [Store.Recovery] names
// every loss. The directory is created if missing (0700, files 0600;
// [Config.GroupReadable] for 0750/0640) and flock'ed: a second opener gets
// [ErrLocked]. Files are created with O_EXCL|O_NOFOLLOW and only regular
// files are read, so a planted symlink is never followed.
//
// Leaves tagged `cfg:",secret"` are never written to the directory: logs and
// snapshots hold them zeroed, and recovery puts back the value given to
// Open, which is authoritative. In durable mode a secret is therefore not
// updatable (Open refuses it in Updatable, UpdateFunc may not change it).
//
// # What is promised on each fault
//
// "Acknowledged" means the call returned nil: the change is fsynced.
//
//	fault                              what the store does
//	log write or fsync fails (EIO,     the call fails and the change is never recovered, also after a
//	  full disk)                         restart: the records are cut off (truncate + fsync) or, if that
//	                                     fails, superseded by a new segment (recovery ignores records of a
//	                                     segment past the start of the next); until then every change is
//	                                     refused, the next one retries; Problem and OnProblem say why
//	crash or SIGKILL at any moment     every acknowledged change is recovered (kills mid-snapshot and
//	  (incl. mid-snapshot, rotation)     mid-rotation are tested); a torn log tail is cut off
//	byte flipped before intact records media damage: the segment is kept as *.corrupt, its intact
//	  (or a segment missing)             prefix goes on, Recovery.LostFirst…LostLast name the lost
//	                                     versions, the newest provable state is recovered
//	corrupt snapshot                   set aside (*.corrupt); the previous snapshot plus the log: nothing lost
//	directory deleted or replaced      every later change fails with ErrDirGone (held directory handle:
//	                                     link count and identity checked at each commit); Problem says so;
//	                                     another Open of the path in this process gets ErrLocked (another
//	                                     process may open the new directory: the first store no longer
//	                                     writes, so there is never a second writer)
//	directory not writable (chattr +i) changes are still logged; snapshots fail and Problem says so
//	                                     until one succeeds
//	planted symlink or foreign file    never followed or overwritten; the step that needs the name fails
//
// One limit: when the disk refuses the write, the truncation and the new
// segment alike and the process then stops, a later Open may find the failed
// record if the disk had taken it after all; the store has refused every
// change since, and said so.
//
// # Example
//
//	type AppConfig struct {
//		Rate    float64       `cfg:"sampling_rate"`
//		Timeout time.Duration
//	}
//
//	st, err := cfgsnap.Open(AppConfig{Rate: 1, Timeout: time.Second}, cfgsnap.Config[AppConfig]{
//		Dir: "/var/lib/app/config",
//		Validate: func(c *AppConfig) error {
//			if c.Rate < 0 || c.Rate > 1 {
//				return errors.New("sampling_rate must be within [0, 1]")
//			}
//			return nil
//		},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer st.Close()
//
//	rate, _ := cfgsnap.Field[AppConfig, float64](st, "sampling_rate")
//	go func() {
//		for ch := range st.Subscribe(16).C() {
//			log.Printf("%s: %v -> %v (version %d)", ch.Path, ch.Old, ch.New, ch.Version)
//		}
//	}()
//
//	if _, err := st.Update("sampling_rate", 0.25); err != nil {
//		log.Print(err)
//	}
//	_ = rate.Get(st.Load()) // 0.25, on every request, for the price of a load
package cfgsnap

// doccheck: the package doc's code block 1 is a table, not Go; block 2 is
// built by docs_test.go in the repository root.
//
// text: 1
