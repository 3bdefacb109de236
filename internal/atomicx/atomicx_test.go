package atomicx

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// The amd64 build stores through the address of the atomic types' only
// field: both must be one word at offset 0.
func TestLayout(t *testing.T) {
	var u atomic.Uint64
	var p atomic.Pointer[int]
	if unsafe.Sizeof(u) != 8 || unsafe.Sizeof(p) != unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("sizes %d, %d", unsafe.Sizeof(u), unsafe.Sizeof(p))
	}
	var u32 atomic.Uint32
	StoreRelease32(&u32, 43)
	if u32.Load() != 43 {
		t.Fatal("StoreRelease32 not seen by Load")
	}
	PrefetchWrite(unsafe.Pointer(&u)) // a hint: no effect to observe, but it must not fault
	PrefetchWrite(nil)
	StoreRelease(&u, 42)
	if u.Load() != 42 {
		t.Fatal("StoreRelease not seen by Load")
	}
	x := 7
	StorePointerBeforeRelease(&p, &x)
	if p.Load() != &x {
		t.Fatal("StorePointerBeforeRelease not seen by Load")
	}
	StorePointerBeforeRelease(&p, nil)
	if p.Load() != nil {
		t.Fatal("nil store not seen")
	}
}

// A message-passing test: a writer publishes (pointer, then state) and a
// reader that sees the state must see the pointer and what it points to.
func TestPublishOrder(t *testing.T) {
	type item struct{ n uint64 }
	var state atomic.Uint64
	var val atomic.Pointer[item]
	const rounds = 200000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= rounds; i++ {
			for state.Load() != 2*(i-1) { // wait for the reader's ack
				runtime.Gosched()
			}
			StorePointerBeforeRelease(&val, &item{n: i})
			StoreRelease(&state, 2*i-1)
		}
	}()
	for i := uint64(1); i <= rounds; i++ {
		for state.Load() != 2*i-1 {
			runtime.Gosched()
		}
		if v := val.Load(); v == nil || v.n != i {
			t.Fatalf("round %d: read %v", i, v)
		}
		state.Store(2 * i)
	}
	wg.Wait()
	runtime.GC() // the items stored without a fence are still GC-visible
}

func BenchmarkStoreRelease(b *testing.B) {
	var u atomic.Uint64
	for i := 0; i < b.N; i++ {
		StoreRelease(&u, uint64(i))
	}
}

func BenchmarkStoreSeqCst(b *testing.B) {
	var u atomic.Uint64
	for i := 0; i < b.N; i++ {
		u.Store(uint64(i))
	}
}
