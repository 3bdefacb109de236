package shard_test

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/elixirscope-go/foundation/shard"
)

func ExampleSet() {
	users, err := shard.NewSet[string, int]()
	if err != nil {
		panic(err)
	}
	users.Insert("ada", 36)
	fmt.Println(users.InsertNew("ada", 99)) // key present: nothing changes
	age, ok := users.Lookup("ada")
	fmt.Println(age, ok)
	users.InsertList([]shard.Object[string, int]{{Key: "bob", Value: 1}, {Key: "bob", Value: 2}})
	bob, _ := users.Lookup("bob") // the last object of a list wins, as in ETS
	fmt.Println(bob, users.Len())
	// Output:
	// false
	// 36 true
	// 2 2
}

func ExampleUpdateCounter() {
	hits, _ := shard.NewSet[string, int64]()
	_, err := shard.UpdateCounter(hits, "GET /", 1)
	fmt.Println(errors.Is(err, shard.ErrAbsent)) // ETS's badarg
	fmt.Println(shard.UpdateCounterDefault(hits, "GET /", 1, 100))
	n, _ := shard.UpdateCounter(hits, "GET /", 5)
	fmt.Println(n)
	// Output:
	// true
	// 101
	// 106
}

func ExampleOrderedSet() {
	t, _ := shard.NewOrderedSet[string, int]()
	for i, k := range []string{"k10", "k1", "k09", "k2"} {
		t.Insert(k, i)
	}
	first, _ := t.First()
	next, _ := t.Next("k05x") // need not be in the table
	_, ok := t.Next("k2")     // '$end_of_table'
	fmt.Println(first, next, ok)
	for k := range t.Range("k1", "k2", true) {
		fmt.Print(k, " ")
	}
	fmt.Println()
	// Output:
	// k09 k09 false
	// k2 k10 k1
}

func ExampleBag() {
	b, _ := shard.NewBag[string, int]()
	for _, v := range []int{1, 2, 3, 1} {
		b.Insert("a", v) // the second 1 is ignored: it is already there
	}
	b.DeleteObject("a", 1)
	b.Insert("a", 1) // goes to the end
	fmt.Println(b.Lookup(nil, "a"))
	// Output: [2 3 1]
}

func ExampleDuplicateBag() {
	b, _ := shard.NewDuplicateBag[string, int]()
	for _, v := range []int{1, 2, 1, 3, 1} {
		b.Insert("a", v)
	}
	fmt.Println(b.Lookup(nil, "a"), b.Len())
	fmt.Println(b.DeleteObject("a", 1), b.Lookup(nil, "a")) // every copy goes
	// Output:
	// [1 2 1 3 1] 5
	// 3 [2 3]
}

func ExampleSet_Select() {
	t, _ := shard.NewSet[int, string](shard.WithShards(4))
	for i := range 10 {
		t.Insert(i, fmt.Sprint("v", i))
	}
	even := func(k int, _ string) bool { return k%2 == 0 }
	var keys []int
	page, cont, err := t.Select(even, 2, nil)
	for err == nil {
		for _, o := range page {
			keys = append(keys, o.Key)
		}
		if cont == nil {
			break
		}
		page, cont, err = t.Select(even, 2, cont)
	}
	slices.Sort(keys) // a Set has no order
	fmt.Println(keys, err)
	// Output: [0 2 4 6 8] <nil>
}

func ExampleSortedBag() {
	idx, _ := shard.NewSortedBag[string, uint64]()
	for _, id := range []uint64{10, 11, 12, 14, 13, 15} { // 13 arrives late
		idx.Insert("type:login", id)
	}
	fmt.Println(idx.Page(nil, "type:login", 0, math.MaxUint64, false, 0, 0))
	fmt.Println(idx.Page(nil, "type:login", 11, 14, true, 1, 2)) // newest first, skip 1, take 2
	fmt.Println(idx.DeleteBelow("type:login", 12), idx.Count("type:login"))
	// Output:
	// [10 11 12 13 14 15]
	// [13 12]
	// 2 4
}

func ExampleWithShards() {
	_, err := shard.NewSet[string, int](shard.WithShards(0))
	fmt.Println(errors.Is(err, shard.ErrOption), err)
	// Output: true shard: bad option: shards 0 not in [1, 65536]
}
