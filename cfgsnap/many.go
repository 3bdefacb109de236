package cfgsnap

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
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
	return st.UpdateManyInto(nil, values)
}

// UpdateManyInto is [Store.UpdateMany] that returns the changes in dst's
// array when it has room (dst[:0] is appended to): a caller that updates
// often reuses one slice. Subscribers receive copies; the store keeps no
// reference to the slice after the call.
func (st *Store[T]) UpdateManyInto(dst []Change, values map[string]any) ([]Change, error) {
	if st.closed.Load() {
		return nil, ErrClosed
	}
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > maxMulti {
		return nil, &PathError{Op: "update", Err: ErrOutOfRange, Cause: fmt.Errorf("%d paths in one change: at most %d", len(values), maxMulti)}
	}
	type item struct {
		path string
		f    *field
		nv   any // converted: of exactly the field's type
		err  error
	}
	var small [8]item // a handful of paths: on the stack
	items := small[:0]
	if len(values) > len(small) {
		items = make([]item, 0, len(values))
	}
	for p, v := range values {
		f := st.allowedField(p)
		if f == nil {
			items = append(items, item{path: p}) // reported in path order below
			continue
		}
		if f.isExact(v) {
			items = append(items, item{path: p, f: f, nv: v})
			continue
		}
		nv, err := f.convert("update", v) // a failure is reported in path order below
		it := item{path: p, f: f, err: err}
		if err == nil {
			it.nv = nv.Interface()
		}
		items = append(items, it)
	}
	if len(items) <= 16 {
		for i := 1; i < len(items); i++ { // insertion sort: a handful of paths
			for j := i; j > 0 && items[j].path < items[j-1].path; j-- {
				items[j], items[j-1] = items[j-1], items[j]
			}
		}
	} else {
		slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.path, b.path) })
	}
	for _, it := range items {
		if it.f == nil {
			return nil, &PathError{Op: "update", Path: truncate(it.path), Err: ErrForbidden}
		}
		if it.err != nil {
			return nil, it.err
		}
	}
	var many []Change
	_, err := st.apply("update-many", false, 0, func(base, snap *Snapshot[T]) (c candidate[T], err error) {
		st.copyInto(&snap.v, &base.v)
		p := unsafe.Pointer(&snap.v)
		many = dst[:0]
		if cap(many) < len(items) {
			many = make([]Change, 0, len(items))
		}
		many = many[:len(items)]
		var leaves []leafValue
		if st.d != nil {
			leaves = make([]leafValue, len(items))
		}
		for i, it := range items {
			many[i] = Change{Kind: Updated, Path: it.path, Old: it.f.swap(p, it.nv), New: it.nv}
			if leaves != nil {
				leaves[i].path = it.path
				leaves[i].tag, leaves[i].value = encodeLeaf(nil, it.f.kind, reflect.ValueOf(it.nv))
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
