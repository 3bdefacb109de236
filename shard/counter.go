package shard

// Integer is the constraint of counter values: any integer type.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// CounterTable is satisfied by *[Set] and *[OrderedSet] with an integer
// value: the tables [UpdateCounter] works on. Its method is unexported, so
// other types cannot satisfy it.
type CounterTable[K comparable, V Integer] interface {
	modify(k K, f func(old V, ok bool) (V, bool)) (V, bool)
}

// UpdateCounter adds incr to the value of key k and returns the new value
// (ets:update_counter/3 on position 2). It is atomic: concurrent updates of
// one key never lose an increment. Arithmetic wraps like Go's (ETS has
// bignums). An absent key is ETS's badarg: the error is [ErrAbsent] and the
// table is unchanged. It locks k's shard for writers; readers of a [Set] are
// not blocked.
//
//	n, err := shard.UpdateCounter(hits, "GET /", 1)
func UpdateCounter[T CounterTable[K, V], K comparable, V Integer](t T, k K, incr V) (V, error) {
	nv, ok := t.modify(k, func(old V, ok bool) (V, bool) { return old + incr, ok })
	if !ok {
		return 0, ErrAbsent
	}
	return nv, nil
}

// UpdateCounterDefault is [UpdateCounter] with a default
// (ets:update_counter/4): when k is absent it first inserts {k, def}, then
// adds incr, so the result is def+incr. (ETS ignores the key of the default
// object; here there is none.)
func UpdateCounterDefault[T CounterTable[K, V], K comparable, V Integer](t T, k K, incr, def V) V {
	nv, _ := t.modify(k, func(old V, ok bool) (V, bool) {
		if !ok {
			old = def
		}
		return old + incr, true
	})
	return nv
}
