// Package shard provides ETS-like in-memory tables for Go: the four kinds of
// Erlang's ets (set, ordered_set, bag, duplicate_bag), generic over key and
// value and sharded so that writers on different shards never wait for each
// other, plus [SortedBag], a bag whose values under a key stay sorted, built
// for secondary indexes (key → IDs) with paging and pruning.
//
// Every exported function and method is safe for concurrent use unless its
// doc says otherwise. Tables are made by their constructors (the zero value
// is not usable) and are not copied.
//
// # Tables
//
//   - [Set]: one object a key. One hash table of our own whose reads take no
//     lock and do not allocate; writers lock their stripe of buckets only,
//     and on amd64 overwriting an existing key takes no lock at all (a CAS
//     on the object's own sequence word) and does not allocate.
//   - [OrderedSet]: one object a key, in key order (one tidwall/btree by
//     default, like ETS; with [WithShards] one per shard, merged on ordered
//     reads): First, Last, Next and Prev (from keys not in the table too)
//     and ranges, ascending and descending.
//   - [Bag]: several distinct objects a key, in insertion order.
//   - [DuplicateBag]: several objects a key, duplicates kept, in insertion order.
//   - [SortedBag]: several distinct values a key, in value order, with
//     Page (offset, limit, bounds, either direction) and DeleteBelow.
//     Writers lock the key's list; with 8-byte values (int64, uint64,
//     float64, ...) on 64-bit platforms its reads take no lock (a sequence
//     lock per key).
//
// Keys are spread over shards by a hash seeded per table (hash/maphash).
// [WithShards] sets the shard count (default [DefaultShards], four per P,
// except [OrderedSet], which defaults to one shard because its ordered reads
// merge all shards: see its doc for the trade-off). A [Set] rounds it up to
// a power of two: its shards are stripes of one table's buckets.
//
// # ETS and Go names
//
//	ETS                                  shard
//	ets:new(T, [set])                    NewSet
//	ets:new(T, [ordered_set])            NewOrderedSet, NewOrderedSetFunc
//	ets:new(T, [bag])                    NewBag
//	ets:new(T, [duplicate_bag])          NewDuplicateBag
//	ets:insert(T, Obj)                   Insert
//	ets:insert(T, [Obj, ...])            InsertList
//	ets:insert_new(T, Obj | [Obj, ...])  InsertNew, InsertNewList
//	ets:lookup(T, K)                     Lookup
//	ets:member(T, K)                     Member
//	ets:delete(T, K)                     Delete
//	ets:delete_object(T, Obj)            DeleteObject (bags), DeleteObjectFunc (sets)
//	ets:take(T, K)                       Take
//	ets:update_counter(T, K, Incr)       UpdateCounter
//	ets:update_counter(T, K, Incr, Def)  UpdateCounterDefault
//	ets:update_element(T, K, {2, V})     UpdateElement, Update (with a function)
//	ets:select(T, MS, Limit), select/1   Select (predicate, limit, Continuation)
//	ets:select_count/2                   SelectCount
//	ets:select_delete/2                  SelectDelete
//	ets:match_object(T, {K, '_'})        Lookup
//	ets:foldl/3, ets:tab2list/1          All (an iter.Seq2)
//	ets:foldr/3 (ordered_set)            Backward
//	ets:first/1, last/1, next/2, prev/2  First, Last, Next, Prev
//	ets:info(T, size)                    Len
//	ets:info(T, memory)                  Memory (bytes, an estimate)
//	ets:delete_all_objects/1             DeleteAllObjects
//	'$end_of_table'                      a false ok, or a nil *Continuation
//	badarg                               ErrAbsent, ErrNilFunc, ErrLimit, ...
//
// # Consistency
//
// As in ETS, every single-object operation (Insert, InsertNew, Lookup,
// Delete, DeleteObject, Take, UpdateCounter, UpdateElement, Update) is
// atomic and isolated: a reader sees an object before or after a write,
// never half of it. InsertList and InsertNewList are atomic and isolated
// too: they lock every shard they touch, in ascending order; in a [Set]
// they also hold every object of the list for writing before they release
// any (two-phase locking), and a reader, which takes no lock, waits on an
// object held for writing, so it never sees part of a list.
//
// Iteration (All, Backward, Range, Select, SelectCount) is not a snapshot.
// It visits one shard at a time (ordered tables: a chunk of one shard at a
// time) without holding any lock while your code runs. What a concurrent
// iterator can see: every object that is in the table, unchanged, for the
// whole iteration is seen exactly once; an object inserted, changed or
// removed during the iteration is seen at most once (bags: each copy at most
// once), with its old or its new value, or not at all. An [OrderedSet]
// yields keys strictly in order, each at most once. Bags copy one shard
// under its read lock, so each shard is seen as of one instant.
// DeleteAllObjects and SelectDelete are atomic per shard, not for the table.
// Len sums per-shard counts and may be off by the writes in flight.
//
// # Differences from ETS
//
// A list inserted into a bag keeps its order: OTP 23.0 to 25.2 inserted it
// reversed (erlang/otp#6730, fixed by PR #6752); this package follows the
// fix and the documentation. Counters are Go integers: they wrap instead of
// growing into bignums. A [Continuation] only resumes a scan of the table
// that made it; another table answers [ErrContinuation]. Functions you pass
// to Update and DeleteObjectFunc run exactly once while the key's shard is
// locked for writers (readers of a Set are not blocked), so they must be
// quick and must not use the table; predicates given to Select and the
// iterators' loop bodies run with no lock held.
//
// # Example
//
//	hits, err := shard.NewSet[string, int64]()
//	if err != nil {
//		return err
//	}
//	shard.UpdateCounterDefault(hits, "GET /", 1, 0)
//	n, _ := hits.Lookup("GET /") // 1
//
//	byType, _ := shard.NewSortedBag[string, uint64]()
//	byType.Insert("login", 41)
//	byType.Insert("login", 42)
//	page := byType.Page(nil, "login", 0, math.MaxUint64, true, 0, 10) // [42 41]
//	fmt.Println(n, page)
package shard

// doccheck: the package doc's code block 1 is a table, not Go; block 2 is
// built by docs_test.go in the repository root.
//
// text: 1
