package cfgsnap

import (
	"reflect"
	"sort"
	"unsafe"
)

// UpdateMany sets several leaves as one change: every path or none. Each
// value is converted by the rules of [Store.Update], the whole candidate is
// validated once, and it is published as one version (+1, however many
// paths). It returns one [Change] per path, sorted by path, all with that
// Version. An empty map changes nothing and returns no Change.
//
// Subscribers of the Store receive one Change with Path "" and whole values
// (as for [Store.UpdateFunc]); the returned per-path changes are for callers
// that announce paths. In durable mode the change is one log record.
//
// Errors are those of Update, for the first offending path in sorted order;
// on any error nothing changes.
func (st *Store[T]) UpdateMany(values map[string]any) ([]Change, error) {
	if len(values) == 0 {
		if st.closed.Load() {
			return nil, ErrClosed
		}
		return nil, nil
	}
	type item struct {
		f   *field
		nv  reflect.Value
		new any
		old any
	}
	paths := make([]string, 0, len(values))
	for p := range values {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	items := make([]item, len(paths))
	for i, p := range paths {
		f := st.allowed[p]
		if f == nil {
			return nil, &PathError{Op: "update", Path: truncate(p), Err: ErrForbidden}
		}
		nv, err := f.convert("update", values[p])
		if err != nil {
			return nil, err
		}
		items[i] = item{f: f, nv: nv, new: nv.Interface()}
	}
	ch, err := st.apply("update-many", false, 0, func(base *Snapshot[T], c *candidate[T]) error {
		c.snap.v = st.copyOf(&base.v)
		p := unsafe.Pointer(&c.snap.v)
		for i := range items {
			items[i].old = items[i].f.value(p)
			items[i].f.set(p, items[i].nv)
		}
		c.kind, c.old, c.new = Updated, st.copyOf(&base.v), st.copyOf(&c.snap.v)
		return st.encodeWhole(c, recFunc)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Change, len(items))
	for i, it := range items {
		out[i] = Change{Kind: Updated, Path: paths[i], Old: it.old, New: it.new, Version: ch.Version, Time: ch.Time}
	}
	return out, nil
}
