package fanout

import (
	"sync"
	"testing"
)

// TestListAndSub: sends reach every listed subscriber without blocking, a
// full channel counts drops, Close empties the list and refuses later Adds,
// and a Send racing Close never panics.
func TestListAndSub(t *testing.T) {
	var l List[*Sub[int]]
	a, b := NewSub[int](1), NewSub[int](4)
	l.Add(a)
	l.Add(b)
	for i := range 3 {
		for _, s := range l.Load() {
			s.Send(i)
		}
	}
	if a.Dropped() != 2 || b.Dropped() != 0 || len(b.C()) != 3 {
		t.Fatalf("dropped %d/%d, buffered %d", a.Dropped(), b.Dropped(), len(b.C()))
	}
	l.Remove(a)
	if got := l.Load(); len(got) != 1 || got[0] != b {
		t.Fatalf("after Remove: %v", got)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			b.Send(i)
		}
	}()
	for _, s := range l.Close() {
		s.Close()
	}
	wg.Wait()
	if l.Add(NewSub[int](1)) || len(l.Load()) != 0 {
		t.Fatal("Add after Close")
	}
	b.Close() // idempotent
}
