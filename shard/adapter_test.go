package shard

import (
	"cmp"
	"slices"
	"sync"
)

type obj = Object[string, int]

// tut is a table under test with string keys and int values, seen the way
// the ETS traces see a table. Implemented by the four kinds and by a
// mutex-and-map model.
type tut interface {
	insert(k string, v int)
	insertList(objs []obj)
	insertNew(k string, v int) bool
	insertNewList(objs []obj) bool
	lookup(k string) []int
	member(k string) bool
	delete(k string)
	deleteObject(k string, v int)
	take(k string) []int
	selectCount(v int) int
	selectAll(limit int) ([]obj, error) // Select(true) paged by limit, all pages joined
	len() int
	objects() []obj // key order (bytewise), per-key order kept
}

// counters is implemented by the set kinds.
type counters interface {
	updateCounter(k string, incr int) (int, error)
	updateCounterDefault(k string, incr, def int) int
	updateElement(k string, v int) bool
}

func one(v int, ok bool) []int {
	if !ok {
		return []int{}
	}
	return []int{v}
}

func sortedObjs(all func(yield func(string, int) bool)) []obj {
	var out []obj
	all(func(k string, v int) bool { out = append(out, obj{k, v}); return true })
	slices.SortStableFunc(out, func(a, b obj) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

func pageAll(sel func(limit int, c *Continuation[string, int]) ([]obj, *Continuation[string, int], error), limit int) ([]obj, error) {
	var out []obj
	var c *Continuation[string, int]
	for {
		page, next, err := sel(limit, c)
		if err != nil {
			return nil, err
		}
		if limit > 0 && len(page) > limit {
			panic("page over limit")
		}
		out = append(out, page...)
		if next == nil {
			return out, nil
		}
		c = next
	}
}

var yes = func(string, int) bool { return true }

type setT struct{ t *Set[string, int] }

func (s setT) insert(k string, v int)         { s.t.Insert(k, v) }
func (s setT) insertList(o []obj)             { s.t.InsertList(o) }
func (s setT) insertNew(k string, v int) bool { return s.t.InsertNew(k, v) }
func (s setT) insertNewList(o []obj) bool     { return s.t.InsertNewList(o) }
func (s setT) lookup(k string) []int          { return one(s.t.Lookup(k)) }
func (s setT) member(k string) bool           { return s.t.Member(k) }
func (s setT) delete(k string)                { s.t.Delete(k) }
func (s setT) deleteObject(k string, v int) {
	s.t.DeleteObjectFunc(k, func(x int) bool { return x == v })
}
func (s setT) take(k string) []int { return one(s.t.Take(k)) }
func (s setT) selectCount(v int) int {
	return s.t.SelectCount(func(_ string, x int) bool { return x == v })
}
func (s setT) selectAll(limit int) ([]obj, error) {
	return pageAll(func(l int, c *Continuation[string, int]) ([]obj, *Continuation[string, int], error) {
		return s.t.Select(yes, l, c)
	}, limit)
}
func (s setT) len() int       { return s.t.Len() }
func (s setT) objects() []obj { return sortedObjs(s.t.All()) }
func (s setT) updateCounter(k string, i int) (int, error) {
	return UpdateCounter(s.t, k, i)
}
func (s setT) updateCounterDefault(k string, i, d int) int { return UpdateCounterDefault(s.t, k, i, d) }
func (s setT) updateElement(k string, v int) bool          { return s.t.UpdateElement(k, v) }

type osetT struct{ t *OrderedSet[string, int] }

func (s osetT) insert(k string, v int)         { s.t.Insert(k, v) }
func (s osetT) insertList(o []obj)             { s.t.InsertList(o) }
func (s osetT) insertNew(k string, v int) bool { return s.t.InsertNew(k, v) }
func (s osetT) insertNewList(o []obj) bool     { return s.t.InsertNewList(o) }
func (s osetT) lookup(k string) []int          { return one(s.t.Lookup(k)) }
func (s osetT) member(k string) bool           { return s.t.Member(k) }
func (s osetT) delete(k string)                { s.t.Delete(k) }
func (s osetT) deleteObject(k string, v int) {
	s.t.DeleteObjectFunc(k, func(x int) bool { return x == v })
}
func (s osetT) take(k string) []int { return one(s.t.Take(k)) }
func (s osetT) selectCount(v int) int {
	return s.t.SelectCount(func(_ string, x int) bool { return x == v })
}
func (s osetT) selectAll(limit int) ([]obj, error) {
	return pageAll(func(l int, c *Continuation[string, int]) ([]obj, *Continuation[string, int], error) {
		return s.t.Select(yes, l, c)
	}, limit)
}
func (s osetT) len() int { return s.t.Len() }
func (s osetT) objects() []obj { // must already be in key order
	var out []obj
	for k, v := range s.t.All() {
		out = append(out, obj{k, v})
	}
	return out
}
func (s osetT) updateCounter(k string, i int) (int, error) {
	return UpdateCounter(s.t, k, i)
}
func (s osetT) updateCounterDefault(k string, i, d int) int {
	return UpdateCounterDefault(s.t, k, i, d)
}
func (s osetT) updateElement(k string, v int) bool { return s.t.UpdateElement(k, v) }

type bagT struct{ t *Bag[string, int] }

func (s bagT) insert(k string, v int)         { s.t.Insert(k, v) }
func (s bagT) insertList(o []obj)             { s.t.InsertList(o) }
func (s bagT) insertNew(k string, v int) bool { return s.t.InsertNew(k, v) }
func (s bagT) insertNewList(o []obj) bool     { return s.t.InsertNewList(o) }
func (s bagT) lookup(k string) []int          { return s.t.Lookup([]int{}, k) }
func (s bagT) member(k string) bool           { return s.t.Member(k) }
func (s bagT) delete(k string)                { s.t.Delete(k) }
func (s bagT) deleteObject(k string, v int)   { s.t.DeleteObject(k, v) }
func (s bagT) take(k string) []int            { return s.t.Take([]int{}, k) }
func (s bagT) selectCount(v int) int {
	return s.t.SelectCount(func(_ string, x int) bool { return x == v })
}
func (s bagT) selectAll(limit int) ([]obj, error) {
	return pageAll(func(l int, c *Continuation[string, int]) ([]obj, *Continuation[string, int], error) {
		return s.t.Select(yes, l, c)
	}, limit)
}
func (s bagT) len() int       { return s.t.Len() }
func (s bagT) objects() []obj { return sortedObjs(s.t.All()) }

type dbagT struct{ t *DuplicateBag[string, int] }

func (s dbagT) insert(k string, v int)         { s.t.Insert(k, v) }
func (s dbagT) insertList(o []obj)             { s.t.InsertList(o) }
func (s dbagT) insertNew(k string, v int) bool { return s.t.InsertNew(k, v) }
func (s dbagT) insertNewList(o []obj) bool     { return s.t.InsertNewList(o) }
func (s dbagT) lookup(k string) []int          { return s.t.Lookup([]int{}, k) }
func (s dbagT) member(k string) bool           { return s.t.Member(k) }
func (s dbagT) delete(k string)                { s.t.Delete(k) }
func (s dbagT) deleteObject(k string, v int)   { s.t.DeleteObject(k, v) }
func (s dbagT) take(k string) []int            { return s.t.Take([]int{}, k) }
func (s dbagT) selectCount(v int) int {
	return s.t.SelectCount(func(_ string, x int) bool { return x == v })
}
func (s dbagT) selectAll(limit int) ([]obj, error) {
	return pageAll(func(l int, c *Continuation[string, int]) ([]obj, *Continuation[string, int], error) {
		return s.t.Select(yes, l, c)
	}, limit)
}
func (s dbagT) len() int       { return s.t.Len() }
func (s dbagT) objects() []obj { return sortedObjs(s.t.All()) }

func newTUT(kind string, opts ...Option) tut {
	switch kind {
	case "set":
		t, err := NewSet[string, int](opts...)
		must(err)
		return setT{t}
	case "ordered_set":
		t, err := NewOrderedSet[string, int](opts...)
		must(err)
		return osetT{t}
	case "bag":
		t, err := NewBag[string, int](opts...)
		must(err)
		return bagT{t}
	case "duplicate_bag":
		t, err := NewDuplicateBag[string, int](opts...)
		must(err)
		return dbagT{t}
	}
	panic("unknown kind " + kind)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

var kinds = []string{"set", "ordered_set", "bag", "duplicate_bag"}

// model is the reference: one mutex, one map of per-key lists, and ETS's
// rules written out plainly.
type model struct {
	mu   sync.Mutex
	kind string
	m    map[string][]int
}

func newModel(kind string) *model { return &model{kind: kind, m: map[string][]int{}} }

func (m *model) set() bool { return m.kind == "set" || m.kind == "ordered_set" }

func (m *model) put(k string, v int) {
	switch {
	case m.set():
		m.m[k] = []int{v}
	case m.kind == "bag" && slices.Contains(m.m[k], v):
	default:
		m.m[k] = append(m.m[k], v)
	}
}

func (m *model) insert(k string, v int) { m.mu.Lock(); defer m.mu.Unlock(); m.put(k, v) }
func (m *model) insertList(o []obj) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range o {
		m.put(x.Key, x.Value)
	}
}
func (m *model) insertNew(k string, v int) bool { return m.insertNewList([]obj{{k, v}}) }
func (m *model) insertNewList(o []obj) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range o {
		if _, ok := m.m[x.Key]; ok {
			return false
		}
	}
	for _, x := range o {
		m.put(x.Key, x.Value)
	}
	return true
}
func (m *model) lookup(k string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int{}, m.m[k]...)
}
func (m *model) member(k string) bool { m.mu.Lock(); defer m.mu.Unlock(); _, ok := m.m[k]; return ok }
func (m *model) delete(k string)      { m.mu.Lock(); defer m.mu.Unlock(); delete(m.m, k) }
func (m *model) deleteObject(k string, v int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.m[k]
	if m.kind == "bag" || m.set() {
		if i := slices.Index(l, v); i >= 0 {
			l = slices.Delete(l, i, i+1)
		}
	} else {
		l = slices.DeleteFunc(l, func(x int) bool { return x == v })
	}
	if len(l) == 0 {
		delete(m.m, k)
	} else {
		m.m[k] = l
	}
}
func (m *model) take(k string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := append([]int{}, m.m[k]...)
	delete(m.m, k)
	return l
}
func (m *model) selectCount(v int) int {
	n := 0
	for _, o := range m.objects() {
		if o.Value == v {
			n++
		}
	}
	return n
}
func (m *model) selectAll(int) ([]obj, error) { return m.objects(), nil }
func (m *model) len() int                     { return len(m.objects()) }
func (m *model) objects() []obj {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []obj
	for _, k := range slices.Sorted(func(y func(string) bool) {
		for k := range m.m {
			if !y(k) {
				return
			}
		}
	}) {
		for _, v := range m.m[k] {
			out = append(out, obj{k, v})
		}
	}
	return out
}
func (m *model) updateCounter(k string, i int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.m[k]
	if !ok {
		return 0, ErrAbsent
	}
	l[0] += i
	return l[0], nil
}
func (m *model) updateCounterDefault(k string, i, d int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; !ok {
		m.m[k] = []int{d}
	}
	m.m[k][0] += i
	return m.m[k][0]
}
func (m *model) updateElement(k string, v int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[k]; !ok {
		return false
	}
	m.m[k][0] = v
	return true
}
