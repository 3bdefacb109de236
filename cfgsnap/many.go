package cfgsnap

import (
	"fmt"
	"reflect"
	"sort"
	"unsafe"
)

// UpdateMany sets several leaves as one change: every path or none. Each
// value is converted by the rules of [Store.Update], the whole candidate is
// validated once, and it is published as one version (+1, however many
// paths). Subscribers receive one [Change] per path, in path order, all
// with that Version; UpdateMany returns them too. In durable mode the change
// is one log record holding every leaf, replayed all or none. An empty map
// changes nothing and returns no Change. At most 4,096 paths (a durable
// record's bound): more is [ErrOutOfRange].
//
// Errors are those of Update, for the first offending path in sorted order;
// on any error nothing changes.
func (st *Store[T]) UpdateMany(values map[string]any) ([]Change, error) {
	if st.closed.Load() {
		return nil, ErrClosed
	}
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > maxMulti {
		return nil, &PathError{Op: "update", Err: ErrOutOfRange, Cause: fmt.Errorf("%d paths in one change: at most %d", len(values), maxMulti)}
	}
	paths := make([]string, 0, len(values))
	for p := range values {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fields := make([]*field, len(paths))
	nvs := make([]reflect.Value, len(paths))
	for i, p := range paths {
		f := st.allowed[p]
		if f == nil {
			return nil, &PathError{Op: "update", Path: truncate(p), Err: ErrForbidden}
		}
		nv, err := f.convert("update", values[p])
		if err != nil {
			return nil, err
		}
		fields[i], nvs[i] = f, nv
	}
	var many []Change
	_, err := st.apply("update-many", false, 0, func(base, snap *Snapshot[T]) (c candidate[T], err error) {
		snap.v = st.copyOf(&base.v)
		p := unsafe.Pointer(&snap.v)
		many = make([]Change, len(paths))
		var leaves []leafValue
		if st.d != nil {
			leaves = make([]leafValue, len(paths))
		}
		for i, f := range fields {
			many[i] = Change{Kind: Updated, Path: paths[i], Old: f.value(p), New: nvs[i].Interface()}
			f.set(p, nvs[i])
			if leaves != nil {
				leaves[i].path = paths[i]
				leaves[i].tag, leaves[i].value = encodeLeaf(nil, f.kind, nvs[i])
			}
		}
		c.kind, c.many = Updated, many
		if leaves != nil {
			c.rkind, c.tag, c.value = recMulti, tagMulti, appendMulti(nil, leaves)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return many, nil
}
