package ring_test

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/elixirscope-go/foundation/ring"
)

type event struct {
	kind string
	at   int // a fixed clock: seconds
}

// Example keeps the last three events, tells an index what left, reads by
// seq, iterates newest first and prunes by age.
func Example() {
	b, err := ring.New(3, ring.Config[event]{
		Shards: 1,
		OnDiscard: func(seq uint64, e *event, why ring.Reason) {
			fmt.Printf("forget %d %s (%v)\n", seq, e.kind, why)
		},
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	for i, kind := range []string{"boot", "login", "query", "logout"} {
		if _, err := b.Push(&event{kind: kind, at: 10 * i}); err != nil {
			panic(err)
		}
	}
	if e, ok := b.Get(2); ok {
		fmt.Println("seq 2:", e.kind)
	}
	_, ok := b.Get(1)
	fmt.Println("seq 1 retained:", ok)
	for seq, e := range b.Descend(math.MaxUint64) {
		fmt.Println(seq, e.kind, e.at)
	}
	n := b.RemoveOldest(func(_ uint64, e *event) bool { return e.at < 25 })
	fmt.Println("pruned", n, "left", b.Len())
	fmt.Printf("%+v\n", b.Stats())
	// Output:
	// forget 1 boot (Overwritten)
	// seq 2: login
	// seq 1 retained: false
	// 4 logout 30
	// 3 query 20
	// 2 login 10
	// forget 2 login (Removed)
	// forget 3 query (Removed)
	// pruned 2 left 1
	// {Pushed:4 Overwritten:1 Dropped:0 Removed:2 Len:1 Cap:3}
}

// ExampleBuffer_PushBatch shows the all-or-nothing batch under DropNewest.
func ExampleBuffer_PushBatch() {
	b, _ := ring.New(4, ring.Config[int]{Policy: ring.DropNewest})
	defer b.Close()
	one, two, three := 1, 2, 3
	first, err := b.PushBatch(context.Background(), []*int{&one, &two, &three})
	fmt.Println(first, err)
	_, err = b.PushBatch(context.Background(), []*int{&one, &two})
	fmt.Println(errors.Is(err, ring.ErrFull), b.Len())
	// Output:
	// 1 <nil>
	// true 3
}

// ExampleBuffer_PushContext shows a Block push that waits for room until
// its context ends.
func ExampleBuffer_PushContext() {
	b, _ := ring.New(1, ring.Config[int]{Policy: ring.Block})
	defer b.Close()
	v := 7
	_, _ = b.Push(&v)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already done: the push does not wait
	_, err := b.PushContext(ctx, &v)
	fmt.Println(err, b.Stats().Dropped)
	b.RemoveBefore(b.Next())
	seq, err := b.PushContext(ctx, &v) // room now: ctx is not consulted
	fmt.Println(seq, err)
	// Output:
	// context canceled 1
	// 2 <nil>
}
