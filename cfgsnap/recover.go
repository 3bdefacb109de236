package cfgsnap

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"
)

// recoverDir rebuilds the newest state from st.d.dir, starting from init
// (the initial snapshot), and opens the active log segment. Damage is cut
// off or set aside and reported in st.recovery; only I/O errors on the
// directory and a recovered state that Validate refuses fail.
func (st *Store[T]) recoverDir(init *Snapshot[T]) (*Snapshot[T], error) {
	d, rec := st.d, &st.recovery
	dirErr := func(err error) error { return &PathError{Op: "open", Path: d.dir, Err: ErrDir, Cause: err} }
	problem := func(format string, args ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(format, args...)) }

	snaps, segs, err := listDir(d.dir)
	if err != nil {
		return nil, dirErr(err)
	}
	state, version, at := init.v, uint64(0), init.time

	// The newest snapshot that passes its checks.
	for i := len(snaps) - 1; i >= 0; i-- {
		name := snapName(snaps[i])
		v, tn, x, err := readSnapshot[T](filepath.Join(d.dir, name))
		if err == nil && v != snaps[i] {
			err = fmt.Errorf("holds version %d: %w", v, ErrCorrupt)
		}
		if err != nil {
			rec.CorruptSnapshots++
			problem("snapshot %s skipped: %v", name, err)
			quarantine(d.dir, name)
			snaps = append(snaps[:i], snaps[i+1:]...)
			continue
		}
		state, version, at = x, v, time.Unix(0, tn)
		rec.SnapshotVersion = v
		break
	}
	if len(snaps) > 0 {
		d.snaps = snaps
	}

	// Replay the log after it.
	last := version
	active := -1       // index in segs of the segment to append to
	var cut int64 = -1 // truncate the active segment to this size (-1: keep)
	stopped := false
	kept := segs[:0:0]
	for i, s := range segs {
		name := segName(s)
		if stopped {
			problem("log %s set aside: unreachable after an earlier break", name)
			quarantine(d.dir, name)
			continue
		}
		if i+1 < len(segs) && segs[i+1] <= last+1 {
			kept = append(kept, s) // covered by the snapshot; pruned later
			continue
		}
		if s > last+1 {
			problem("log %s set aside: starts at version %d, state is at %d", name, s, last)
			quarantine(d.dir, name)
			stopped = true
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.dir, name))
		if err != nil {
			return nil, dirErr(err)
		}
		off := 0
		for off < len(data) {
			r, n, err := decodeRecord(data[off:])
			if err == nil && r.version > last && r.version != last+1 {
				err = fmt.Errorf("version %d follows %d: %w", r.version, last, ErrCorrupt)
			}
			if err == nil && r.version > last {
				err = st.replay(&state, &r)
			}
			if err != nil {
				rec.TruncatedBytes += int64(len(data) - off)
				problem("log %s: cut %d bytes at offset %d (after version %d): %v", name, len(data)-off, off, last, err)
				cut, stopped = int64(off), true
				break
			}
			off += n
			if r.version > last {
				last, at = r.version, time.Unix(0, r.time)
				rec.Replayed++
			}
		}
		kept = append(kept, s)
		active = len(kept) - 1
	}
	d.segs = kept
	rec.Version = last

	if st.validate != nil {
		if err := st.validate(&state); err != nil {
			return nil, &PathError{Op: "recover", Path: d.dir, Err: ErrInvalid, Cause: fmt.Errorf("state at version %d: %w", last, err)}
		}
	}

	// Open (or start) the active segment.
	if active >= 0 {
		d.start = d.segs[active]
		f, err := os.OpenFile(filepath.Join(d.dir, segName(d.start)), os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, dirErr(err)
		}
		d.log = f
		if cut >= 0 {
			if err := f.Truncate(cut); err != nil {
				return nil, dirErr(err)
			}
			if !d.nosync {
				if err := f.Sync(); err != nil {
					return nil, dirErr(err)
				}
			}
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, dirErr(err)
		}
		d.size = fi.Size()
	} else {
		d.start = last + 1
		f, err := os.OpenFile(filepath.Join(d.dir, segName(d.start)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
		if err != nil {
			return nil, dirErr(err)
		}
		d.log = f
		d.segs = append(d.segs, d.start)
		if !d.nosync {
			if err := syncDir(d.dir); err != nil {
				return nil, dirErr(err)
			}
		}
	}
	d.since = int(last - version)
	return &Snapshot[T]{v: state, version: last, time: at, clone: st.clone}, nil
}

func readSnapshot[T any](path string) (uint64, int64, T, error) {
	var x T
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, x, err
	}
	v, tn, payload, err := decodeSnapshot(b)
	if err != nil {
		return 0, 0, x, err
	}
	if err := json.Unmarshal(payload, &x); err != nil {
		return 0, 0, x, fmt.Errorf("snapshot payload: %v: %w", err, ErrCorrupt)
	}
	return v, tn, x, nil
}

// replay applies one decoded record to the private state.
func (st *Store[T]) replay(state *T, r *record) error {
	switch r.kind {
	case recUpdate:
		f := st.schema.fields[r.path]
		if f == nil || f.kind == kindStruct {
			return &PathError{Op: "replay", Path: truncate(r.path), Err: ErrPathNotFound}
		}
		v, err := decodeLeaf(r.tag, r.value)
		if err != nil {
			return err
		}
		nv, err := f.convert("replay", v)
		if err != nil {
			return err
		}
		f.set(unsafe.Pointer(state), nv)
	default:
		var x T
		if err := json.Unmarshal(r.value, &x); err != nil {
			return fmt.Errorf("record payload: %v: %w", err, ErrCorrupt)
		}
		*state = x
	}
	return nil
}
