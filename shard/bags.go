// The Bag and DuplicateBag halves of this file are alike: edit both.

package shard

import "iter"

// Bag is an ETS bag table: a key holds several distinct objects, in
// insertion order; inserting an object that is already there changes
// nothing. Keys are spread over shards by a seeded hash, each shard a Go map
// of per-key lists behind its own RWMutex.
//
// Every method is safe for concurrent use. Single-object operations and list
// inserts are atomic and isolated; iteration is not a snapshot (see the
// package doc). A Bag must be made with [NewBag]; copies of a *Bag share
// the table.
type Bag[K, V comparable] struct{ c *bagCore[K, V] }

// DuplicateBag is an ETS duplicate_bag table: a key holds several objects,
// duplicates included, in insertion order. It is built like [Bag].
//
// Every method is safe for concurrent use, with the guarantees of [Bag]. A
// DuplicateBag must be made with [NewDuplicateBag].
type DuplicateBag[K, V comparable] struct{ c *bagCore[K, V] }

// NewBag makes an empty bag table (ets:new(T, [bag])). It returns an
// error wrapping [ErrOption] for a bad option.
func NewBag[K, V comparable](opts ...Option) (*Bag[K, V], error) {
	c, err := newBagCore[K, V](false, opts)
	if err != nil {
		return nil, err
	}
	return &Bag[K, V]{c: c}, nil
}

// Insert adds the object {k, v} at the end of k's list (ets:insert/2).
// If {k, v} is already there, nothing changes: the existing copy keeps its place. It locks k's shard only.
func (b *Bag[K, V]) Insert(k K, v V) { b.c.insert(k, v) }

// InsertList adds every object of objs, in list order, atomically and
// isolated (ets:insert/2 with a list): the shards it touches are
// write-locked in ascending order for the whole insert. (OTP 23.0-25.2 put
// a list into a bag in reverse order, erlang/otp#6730; this follows the fix,
// list order, as ETS documents.) An empty list does nothing.
func (b *Bag[K, V]) InsertList(objs []Object[K, V]) { b.c.insertList(objs) }

// InsertNew adds {k, v} only if key k has no object at all, and reports
// whether it did (ets:insert_new/2).
func (b *Bag[K, V]) InsertNew(k K, v V) bool { return b.c.insertNew(k, v) }

// InsertNewList adds all of objs, in list order, if none of their keys is
// present, and nothing otherwise (ets:insert_new/2 with a list); atomic like
// [Bag.InsertList]. A key repeated inside objs is not a conflict.
func (b *Bag[K, V]) InsertNewList(objs []Object[K, V]) bool { return b.c.insertNewList(objs) }

// Lookup appends the values of key k to dst, in insertion order, and returns
// it (ets:lookup/2). It read-locks k's shard; it allocates only if dst is
// too small.
func (b *Bag[K, V]) Lookup(dst []V, k K) []V { return b.c.lookup(dst, k) }

// Count returns the number of objects under key k (length(ets:lookup(T, K))).
func (b *Bag[K, V]) Count(k K) int { return b.c.count(k) }

// Member reports whether key k has any object (ets:member/2).
func (b *Bag[K, V]) Member(k K) bool { return b.c.count(k) > 0 }

// Delete removes every object of key k (ets:delete/2).
func (b *Bag[K, V]) Delete(k K) { b.c.take(nil, k) }

// DeleteObject removes the object {k, v}, if present, and returns how many objects it removed
// (ets:delete_object/2, which always returns true).
func (b *Bag[K, V]) DeleteObject(k K, v V) int { return b.c.deleteObject(k, v) }

// Take removes every object of key k and appends their values to dst in
// insertion order (ets:take/2).
func (b *Bag[K, V]) Take(dst []V, k K) []V { return b.c.take(dst, k) }

// Select returns up to limit objects for which pred is true, and a
// continuation for the next ones, or nil when the table has been scanned
// (ets:select/3, ets:select/1). limit 0 means no limit. Each shard is copied
// under its read lock and pred runs on the copy, with no lock held. An
// object present and unchanged for the whole scan is returned exactly once.
// Errors: [ErrNilFunc], [ErrLimit], [ErrContinuation]; the table is never
// changed.
func (b *Bag[K, V]) Select(pred func(K, V) bool, limit int, c *Continuation[K, V]) ([]Object[K, V], *Continuation[K, V], error) {
	return b.c.selectObjs(b, pred, limit, c)
}

// SelectCount returns the number of objects for which pred is true
// (ets:select_count/2). A nil pred counts nothing.
func (b *Bag[K, V]) SelectCount(pred func(K, V) bool) int { return b.c.selectCount(pred) }

// SelectDelete removes the objects for which pred is true and returns how
// many (ets:select_delete/2). pred runs on a copy of each shard with no lock
// held; each removal is atomic, the pass as a whole is not.
func (b *Bag[K, V]) SelectDelete(pred func(K, V) bool) int { return b.c.selectDelete(pred) }

// All returns an iterator over the objects (ets:foldl/3, ets:tab2list/1),
// each key's objects in insertion order. It copies one shard at a time
// under its read lock and yields from the copy with no lock held, so each
// shard is seen as of one instant, but the table as a whole is not a
// snapshot.
func (b *Bag[K, V]) All() iter.Seq2[K, V] { return b.c.all() }

// Len returns the number of objects, duplicates included (ets:info(T, size)).
func (b *Bag[K, V]) Len() int { return b.c.len() }

// Memory estimates the bytes the table uses: shards, map slots and the
// value lists' capacity. Memory that keys and values point to is not
// counted. O(keys).
func (b *Bag[K, V]) Memory() int { return b.c.memory() }

// DeleteAllObjects removes every object (ets:delete_all_objects/1), one
// shard at a time: each shard atomically, the table as a whole not.
func (b *Bag[K, V]) DeleteAllObjects() { b.c.deleteAll() }

// NewDuplicateBag makes an empty duplicate_bag table (ets:new(T, [duplicate_bag])). It returns an
// error wrapping [ErrOption] for a bad option.
func NewDuplicateBag[K, V comparable](opts ...Option) (*DuplicateBag[K, V], error) {
	c, err := newBagCore[K, V](true, opts)
	if err != nil {
		return nil, err
	}
	return &DuplicateBag[K, V]{c: c}, nil
}

// Insert adds the object {k, v} at the end of k's list (ets:insert/2).
// An identical object already there is kept: a duplicate is appended. It locks k's shard only.
func (b *DuplicateBag[K, V]) Insert(k K, v V) { b.c.insert(k, v) }

// InsertList adds every object of objs, in list order, atomically and
// isolated (ets:insert/2 with a list): the shards it touches are
// write-locked in ascending order for the whole insert. (OTP 23.0-25.2 put
// a list into a bag in reverse order, erlang/otp#6730; this follows the fix,
// list order, as ETS documents.) An empty list does nothing.
func (b *DuplicateBag[K, V]) InsertList(objs []Object[K, V]) { b.c.insertList(objs) }

// InsertNew adds {k, v} only if key k has no object at all, and reports
// whether it did (ets:insert_new/2).
func (b *DuplicateBag[K, V]) InsertNew(k K, v V) bool { return b.c.insertNew(k, v) }

// InsertNewList adds all of objs, in list order, if none of their keys is
// present, and nothing otherwise (ets:insert_new/2 with a list); atomic like
// [DuplicateBag.InsertList]. A key repeated inside objs is not a conflict.
func (b *DuplicateBag[K, V]) InsertNewList(objs []Object[K, V]) bool { return b.c.insertNewList(objs) }

// Lookup appends the values of key k to dst, in insertion order, and returns
// it (ets:lookup/2). It read-locks k's shard; it allocates only if dst is
// too small.
func (b *DuplicateBag[K, V]) Lookup(dst []V, k K) []V { return b.c.lookup(dst, k) }

// Count returns the number of objects under key k (length(ets:lookup(T, K))).
func (b *DuplicateBag[K, V]) Count(k K) int { return b.c.count(k) }

// Member reports whether key k has any object (ets:member/2).
func (b *DuplicateBag[K, V]) Member(k K) bool { return b.c.count(k) > 0 }

// Delete removes every object of key k (ets:delete/2).
func (b *DuplicateBag[K, V]) Delete(k K) { b.c.take(nil, k) }

// DeleteObject removes every copy of the object {k, v} and returns how many objects it removed
// (ets:delete_object/2, which always returns true).
func (b *DuplicateBag[K, V]) DeleteObject(k K, v V) int { return b.c.deleteObject(k, v) }

// Take removes every object of key k and appends their values to dst in
// insertion order (ets:take/2).
func (b *DuplicateBag[K, V]) Take(dst []V, k K) []V { return b.c.take(dst, k) }

// Select returns up to limit objects for which pred is true, and a
// continuation for the next ones, or nil when the table has been scanned
// (ets:select/3, ets:select/1). limit 0 means no limit. Each shard is copied
// under its read lock and pred runs on the copy, with no lock held. An
// object present and unchanged for the whole scan is returned exactly once.
// Errors: [ErrNilFunc], [ErrLimit], [ErrContinuation]; the table is never
// changed.
func (b *DuplicateBag[K, V]) Select(pred func(K, V) bool, limit int, c *Continuation[K, V]) ([]Object[K, V], *Continuation[K, V], error) {
	return b.c.selectObjs(b, pred, limit, c)
}

// SelectCount returns the number of objects for which pred is true
// (ets:select_count/2). A nil pred counts nothing.
func (b *DuplicateBag[K, V]) SelectCount(pred func(K, V) bool) int { return b.c.selectCount(pred) }

// SelectDelete removes the objects for which pred is true and returns how
// many (ets:select_delete/2). pred runs on a copy of each shard with no lock
// held; each removal is atomic, the pass as a whole is not.
func (b *DuplicateBag[K, V]) SelectDelete(pred func(K, V) bool) int { return b.c.selectDelete(pred) }

// All returns an iterator over the objects (ets:foldl/3, ets:tab2list/1),
// each key's objects in insertion order. It copies one shard at a time
// under its read lock and yields from the copy with no lock held, so each
// shard is seen as of one instant, but the table as a whole is not a
// snapshot.
func (b *DuplicateBag[K, V]) All() iter.Seq2[K, V] { return b.c.all() }

// Len returns the number of objects, duplicates included (ets:info(T, size)).
func (b *DuplicateBag[K, V]) Len() int { return b.c.len() }

// Memory estimates the bytes the table uses: shards, map slots and the
// value lists' capacity. Memory that keys and values point to is not
// counted. O(keys).
func (b *DuplicateBag[K, V]) Memory() int { return b.c.memory() }

// DeleteAllObjects removes every object (ets:delete_all_objects/1), one
// shard at a time: each shard atomically, the table as a whole not.
func (b *DuplicateBag[K, V]) DeleteAllObjects() { b.c.deleteAll() }
