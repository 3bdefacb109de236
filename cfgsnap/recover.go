package cfgsnap

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"unsafe"
)

// recoverDir rebuilds the newest state from st.d.dir, starting from init
// (the initial snapshot), and opens the active log segment. Damage is cut
// off or set aside and reported in st.recovery; only I/O errors on the
// directory and a recovered state that Validate refuses fail.
//
// The rules, in order:
//   - the newest snapshot that passes its checks is the base; a damaged one
//     is renamed *.corrupt and the previous one is tried;
//   - segment i holds versions segs[i] … segs[i+1]-1: records past that are
//     void (a write that failed and was never acknowledged; the store
//     started segment i+1 to supersede them);
//   - a record that fails its checks with nothing intact after it, in the
//     last segment, is a torn tail: it is cut off;
//   - a record that fails its checks with intact records (or later
//     segments) after it is media damage: the segment is renamed *.corrupt
//     (kept as evidence), a copy of its good prefix takes its place, later
//     segments are renamed *.corrupt, and the lost versions are reported in
//     Recovery.LostFirst … LostLast.
func (st *Store[T]) recoverDir(init *Snapshot[T]) (*Snapshot[T], error) {
	d, rec := st.d, &st.recovery
	dirErr := func(err error) error { return &PathError{Op: "open", Path: d.dir, Err: ErrDir, Cause: err} }
	problem := func(format string, args ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(format, args...)) }
	lose := func(from, to uint64) {
		if to < from {
			return
		}
		if rec.LostFirst == 0 || from < rec.LostFirst {
			rec.LostFirst = from
		}
		rec.LostLast = max(rec.LostLast, to)
	}
	setAside := func(name string) error {
		if err := d.quarantine(name); err != nil {
			return dirErr(fmt.Errorf("cannot set %s aside: %w", name, err))
		}
		rec.SetAside = append(rec.SetAside, name+".corrupt")
		return nil
	}

	snaps, segs, err := listDir(d.dir)
	if err != nil {
		return nil, dirErr(err)
	}
	state, version, at := init.v, uint64(0), init.unixNano

	// The newest snapshot that passes its checks.
	for i := len(snaps) - 1; i >= 0; i-- {
		name := snapName(snaps[i])
		v, tn, x, err := readSnapshot[T](d.path(name))
		if err == nil && v != snaps[i] {
			err = fmt.Errorf("holds version %d: %w", v, ErrCorrupt)
		}
		if err != nil {
			rec.CorruptSnapshots++
			problem("snapshot %s skipped: %v", name, err)
			if err := setAside(name); err != nil {
				return nil, err
			}
			snaps = append(snaps[:i], snaps[i+1:]...)
			continue
		}
		state, version, at = x, v, tn
		rec.SnapshotVersion = v
		break
	}
	if len(snaps) > 0 {
		d.snaps = snaps
	}

	// Replay the log after it.
	last := version
	active := -1       // index in kept of the segment to append to
	var cut int64 = -1 // truncate the active segment to this size (-1: keep)
	var good []byte    // media damage: the intact prefix of the active segment
	damaged := false
	stopped := false
	kept := segs[:0:0]
	for i, s := range segs {
		name := segName(s)
		if stopped {
			if data, err := readRegular(d.path(name)); err == nil {
				if mx, n := scanVersions(data, last); n > 0 {
					lose(last+1, mx)
				}
			}
			problem("log %s set aside: unreachable after an earlier break at version %d", name, last)
			if err := setAside(name); err != nil {
				return nil, err
			}
			continue
		}
		limit := uint64(math.MaxUint64) // the last version this segment may hold
		if i+1 < len(segs) {
			limit = segs[i+1] - 1
		}
		if limit <= last {
			kept = append(kept, s) // covered by the snapshot; pruned later
			continue
		}
		data, err := readRegular(d.path(name))
		if err != nil {
			return nil, dirErr(err)
		}
		if s > last+1 {
			mx, _ := scanVersions(data, last)
			lose(last+1, max(mx, s-1))
			problem("log %s set aside: starts at version %d, state is at %d", name, s, last)
			if err := setAside(name); err != nil {
				return nil, err
			}
			stopped = true
			continue
		}
		off := 0
		for off < len(data) {
			if last >= limit {
				rec.Superseded += int64(len(data) - off)
				problem("log %s: %d bytes after version %d ignored: superseded by %s (a write that failed and was never acknowledged)",
					name, len(data)-off, last, segName(limit+1))
				break
			}
			r, n, err := decodeRecord(data[off:])
			if err == nil && r.version > last && r.version != last+1 {
				err = fmt.Errorf("version %d follows %d: %w", r.version, last, ErrCorrupt)
			}
			if err == nil && r.version > last {
				err = st.replay(&state, &r)
			}
			if err != nil {
				mx, n := scanVersions(data[off+1:], last)
				if n == 0 && i+1 == len(segs) {
					rec.TruncatedBytes += int64(len(data) - off)
					problem("log %s: cut %d bytes at offset %d (after version %d): %v", name, len(data)-off, off, last, err)
					cut = int64(off)
				} else {
					to := mx
					if limit != math.MaxUint64 {
						to = max(to, limit)
					}
					lose(last+1, max(to, last+1))
					problem("log %s: damaged record at offset %d (after version %d) with intact data after it: media damage, versions %d-%d lost, original kept as %s.corrupt: %v",
						name, off, last, last+1, max(to, last+1), name, err)
					good, damaged = data[:off], true
				}
				stopped = true
				break
			}
			off += n
			if r.version > last {
				last, at = r.version, r.time
				rec.Replayed++
			}
		}
		kept = append(kept, s)
		active = len(kept) - 1
	}
	d.segs = kept
	rec.Version = last
	st.resupply(&state)

	if st.validate != nil {
		if err := st.validate(&state); err != nil {
			return nil, &PathError{Op: "recover", Path: d.dir, Err: ErrInvalid, Cause: fmt.Errorf("state at version %d: %w", last, err)}
		}
	}

	// Open (or start) the active segment.
	switch {
	case active >= 0 && damaged:
		// Keep the damaged file as evidence; its intact prefix goes on.
		d.start = d.segs[active]
		name := segName(d.start)
		if err := setAside(name); err != nil {
			return nil, err
		}
		f, err := d.create(name, os.O_APPEND)
		if err != nil {
			return nil, dirErr(err)
		}
		d.log = f
		if err := d.writeLog(good); err != nil {
			return nil, dirErr(err)
		}
		if err := d.syncDir(); err != nil {
			return nil, dirErr(err)
		}
		d.size = int64(len(good))
	case active >= 0:
		d.start = d.segs[active]
		f, err := openExisting(d.path(segName(d.start)), os.O_WRONLY|os.O_APPEND)
		if err != nil {
			return nil, dirErr(err)
		}
		d.log = f
		if cut >= 0 {
			err := d.fail("truncate", segName(d.start))
			if err == nil {
				err = f.Truncate(cut)
			}
			if err == nil && !d.nosync {
				if err = d.fail("sync", segName(d.start)); err == nil {
					err = f.Sync()
				}
			}
			if err != nil {
				return nil, dirErr(err)
			}
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, dirErr(err)
		}
		d.size = fi.Size()
	default:
		d.start = last + 1
		f, err := d.newSegment(d.start)
		if err != nil {
			return nil, dirErr(err)
		}
		d.log = f
		d.segs = append(d.segs, d.start)
	}
	d.since = int(last - version)
	return &Snapshot[T]{v: state, version: last, unixNano: at, clone: st.clone}, nil
}

// scanVersions finds every intact record in b (trying each offset, so it
// resynchronises after damage) and returns the highest version above after
// and how many such records there are.
func scanVersions(b []byte, after uint64) (maxV uint64, n int) {
	for off := 0; off+recHeader+recMinBody <= len(b); {
		r, size, err := decodeRecord(b[off:])
		if err != nil {
			off++
			continue
		}
		if r.version > after {
			maxV, n = max(maxV, r.version), n+1
		}
		off += size
	}
	return maxV, n
}

func readSnapshot[T any](path string) (uint64, int64, T, error) {
	var x T
	b, err := readRegular(path)
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
		return st.replayLeaf(state, r.path, r.tag, r.value)
	case recMulti:
		leaves, err := decodeMulti(r.value)
		if err != nil {
			return err
		}
		x := *state // applied to a copy: all leaves or none
		if st.clone != nil {
			x = st.clone(state)
		}
		for _, l := range leaves {
			if err := st.replayLeaf(&x, l.path, l.tag, l.value); err != nil {
				return err
			}
		}
		*state = x
	default:
		var x T
		if err := json.Unmarshal(r.value, &x); err != nil {
			return fmt.Errorf("record payload: %v: %w", err, ErrCorrupt)
		}
		*state = x
	}
	return nil
}

// replayLeaf sets the leaf at path of the private state to an encoded value.
func (st *Store[T]) replayLeaf(state *T, path string, tag byte, value []byte) error {
	f := st.schema.fields[path]
	if f == nil || f.kind == kindStruct {
		return &PathError{Op: "replay", Path: truncate(path), Err: ErrPathNotFound}
	}
	v, err := decodeLeaf(tag, value)
	if err != nil {
		return err
	}
	nv, err := f.convert("replay", v)
	if err != nil {
		return err
	}
	f.set(unsafe.Pointer(state), nv)
	return nil
}
