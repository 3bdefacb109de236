package ring_test

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elixirscope-go/foundation/ring"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type discard struct {
	seq uint64
	v   int
	why ring.Reason
}

// recorder collects OnDiscard calls (single goroutine tests).
type recorder struct{ got []discard }

func (r *recorder) on(seq uint64, v *int, why ring.Reason) {
	r.got = append(r.got, discard{seq, *v, why})
}

func ptr(v int) *int { return &v }

func collect(it func(func(uint64, *int) bool)) (seqs []uint64, vals []int) {
	for s, v := range it {
		seqs = append(seqs, s)
		vals = append(vals, *v)
	}
	return seqs, vals
}

func TestNewInvalid(t *testing.T) {
	for _, c := range []struct {
		name     string
		capacity int
		cfg      ring.Config[int]
	}{
		{"capacity=0", 0, ring.Config[int]{}},
		{"capacity=-1", -1, ring.Config[int]{}},
		{"capacity>max", ring.MaxCapacity + 1, ring.Config[int]{}},
		{"shards=-1", 8, ring.Config[int]{Shards: -1}},
		{"shards>capacity", 8, ring.Config[int]{Shards: 9}},
		{"policy=9", 8, ring.Config[int]{Policy: 9}},
		{"claimblock=3", 8, ring.Config[int]{ClaimBlock: 3}},
		{"claimblock>capacity", 8, ring.Config[int]{ClaimBlock: 16}},
		{"claimblock=-1", 8, ring.Config[int]{ClaimBlock: -1}},
		{"claimblock+DropNewest", 8, ring.Config[int]{ClaimBlock: 4, Policy: ring.DropNewest}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := ring.New(c.capacity, c.cfg)
			assert.Nil(t, b)
			assert.ErrorIs(t, err, ring.ErrInvalid)
		})
	}
}

func TestNewValid(t *testing.T) {
	for _, c := range []struct {
		capacity, shards int
	}{{1, 0}, {1, 1}, {3, 0}, {5, 2}, {7, 3}, {8, 8}, {1 << 10, 0}} {
		b, err := ring.New[int](c.capacity, ring.Config[int]{Shards: c.shards})
		require.NoError(t, err)
		assert.Equal(t, c.capacity, b.Cap())
		assert.Equal(t, 0, b.Len())
		assert.Equal(t, uint64(1), b.First())
		assert.Equal(t, uint64(1), b.Next())
		b.Close()
	}
}

func TestBadArguments(t *testing.T) {
	b, err := ring.New[int](4, ring.Config[int]{})
	require.NoError(t, err)
	_, err = b.Push(ptr(1))
	require.NoError(t, err)
	//lint:ignore SA1012 a nil context on purpose: it is refused
	_, err = b.PushContext(nil, ptr(2))
	assert.ErrorIs(t, err, ring.ErrInvalid)
	_, err = b.Push(nil)
	assert.ErrorIs(t, err, ring.ErrInvalid)
	//lint:ignore SA1012 a nil context on purpose: it is refused
	_, err = b.PushBatch(nil, []*int{ptr(2)})
	assert.ErrorIs(t, err, ring.ErrInvalid)
	_, err = b.PushBatch(context.Background(), []*int{ptr(2), nil})
	assert.ErrorIs(t, err, ring.ErrInvalid)
	first, err := b.PushBatch(context.Background(), nil)
	assert.NoError(t, err)
	assert.Zero(t, first)
	assert.Equal(t, uint64(2), b.Next(), "nothing stored by refused calls")
	assert.Equal(t, ring.Stats{Pushed: 1, Len: 1, Cap: 4}, b.Stats())
	for _, s := range []uint64{0, 2, 3, math.MaxUint64, 1 << 62} {
		_, ok := b.Get(s)
		assert.False(t, ok, "seq %d", s)
	}
	assert.Zero(t, b.RemoveOldest(nil))
}

// TestPushGet runs every policy over shard layouts, including capacities the
// shard count does not divide, for three laps of the ring.
func TestPushGet(t *testing.T) {
	for _, pol := range []ring.Policy{ring.DropOldest, ring.DropNewest, ring.Block} {
		for _, c := range []struct{ capacity, shards int }{{1, 1}, {8, 1}, {8, 2}, {8, 8}, {5, 2}, {7, 3}} {
			t.Run(pol.String(), func(t *testing.T) {
				var rec recorder
				b, err := ring.New(c.capacity, ring.Config[int]{Shards: c.shards, Policy: pol, OnDiscard: rec.on})
				require.NoError(t, err)
				defer b.Close()
				n := 3 * c.capacity
				for i := 1; i <= n; i++ {
					if pol != ring.DropOldest && b.Len() == c.capacity {
						// make room for one: DropNewest/Block never overwrite.
						f := b.First()
						require.Equal(t, 1, b.RemoveOldest(func(s uint64, _ *int) bool { return s == f }))
					}
					s, err := b.Push(ptr(i * 10))
					require.NoError(t, err)
					require.Equal(t, uint64(i), s, "seqs start at 1 and are dense")
					v, ok := b.Get(s)
					require.True(t, ok)
					require.Equal(t, i*10, *v)
				}
				st := b.Stats()
				assert.Equal(t, uint64(n), st.Pushed)
				assert.Equal(t, c.capacity, st.Len)
				assert.Equal(t, st.Pushed, uint64(st.Len)+st.Overwritten+st.Removed)
				assert.Equal(t, uint64(n-c.capacity+1), b.First())
				for s := uint64(1); s <= uint64(n); s++ {
					v, ok := b.Get(s)
					if s < b.First() {
						assert.False(t, ok, "seq %d gone", s)
						continue
					}
					require.True(t, ok, "seq %d retained", s)
					assert.Equal(t, int(s)*10, *v)
				}
				require.Len(t, rec.got, n-c.capacity)
				want := ring.Overwritten
				if pol != ring.DropOldest {
					want = ring.Removed
				}
				for i, d := range rec.got {
					assert.Equal(t, discard{uint64(i + 1), (i + 1) * 10, want}, d)
				}
			})
		}
	}
}

func TestDropNewest(t *testing.T) {
	b, err := ring.New[int](4, ring.Config[int]{Policy: ring.DropNewest, Shards: 2})
	require.NoError(t, err)
	defer b.Close()
	for i := 1; i <= 4; i++ {
		_, err := b.Push(ptr(i))
		require.NoError(t, err)
	}
	_, err = b.Push(ptr(5))
	assert.ErrorIs(t, err, ring.ErrFull)
	_, err = b.PushBatch(context.Background(), []*int{ptr(6), ptr(7)})
	assert.ErrorIs(t, err, ring.ErrFull)
	assert.Equal(t, uint64(5), b.Next(), "a refused push burns no seq")
	assert.Equal(t, 2, b.RemoveBefore(3))
	_, err = b.PushBatch(context.Background(), []*int{ptr(6), ptr(7), ptr(8)})
	assert.ErrorIs(t, err, ring.ErrFull, "3 > room of 2: nothing stored")
	first, err := b.PushBatch(context.Background(), []*int{ptr(6), ptr(7)})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), first)
	_, vals := collect(b.Ascend(0))
	assert.Equal(t, []int{3, 4, 6, 7}, vals)
	assert.Equal(t, ring.Stats{Pushed: 6, Dropped: 1 + 2 + 3, Removed: 2, Len: 4, Cap: 4}, b.Stats())
}

func TestBatchTooLarge(t *testing.T) {
	for _, pol := range []ring.Policy{ring.DropOldest, ring.DropNewest, ring.Block} {
		t.Run(pol.String(), func(t *testing.T) {
			b, err := ring.New[int](3, ring.Config[int]{Policy: pol})
			require.NoError(t, err)
			defer b.Close()
			_, err = b.Push(ptr(1))
			require.NoError(t, err)
			_, err = b.PushBatch(context.Background(), []*int{ptr(1), ptr(2), ptr(3), ptr(4)})
			assert.ErrorIs(t, err, ring.ErrFull)
			assert.Equal(t, ring.Stats{Pushed: 1, Dropped: 4, Len: 1, Cap: 3}, b.Stats())
		})
	}
}

func TestDropOldestBatchAndRemove(t *testing.T) {
	var rec recorder
	b, err := ring.New(4, ring.Config[int]{OnDiscard: rec.on, Shards: 3})
	require.NoError(t, err)
	defer b.Close()
	first, err := b.PushBatch(context.Background(), []*int{ptr(1), ptr(2), ptr(3)})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), first)
	first, err = b.PushBatch(context.Background(), []*int{ptr(4), ptr(5), ptr(6)})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), first)
	assert.Equal(t, []discard{{1, 1, ring.Overwritten}, {2, 2, ring.Overwritten}}, rec.got)
	// RemoveOldest stops at the first item the predicate rejects.
	n := b.RemoveOldest(func(_ uint64, v *int) bool { return *v <= 4 })
	assert.Equal(t, 2, n)
	seqs, _ := collect(b.Ascend(0))
	assert.Equal(t, []uint64{5, 6}, seqs)
	// The next pushes overwrite 5 but not the removed 3, 4.
	for i := 7; i <= 9; i++ {
		_, err := b.Push(ptr(i))
		require.NoError(t, err)
	}
	assert.Equal(t, []discard{
		{1, 1, ring.Overwritten}, {2, 2, ring.Overwritten},
		{3, 3, ring.Removed}, {4, 4, ring.Removed}, {5, 5, ring.Overwritten},
	}, rec.got)
	st := b.Stats()
	assert.Equal(t, ring.Stats{Pushed: 9, Overwritten: 3, Removed: 2, Len: 4, Cap: 4}, st)
	assert.Equal(t, 4, b.RemoveBefore(math.MaxUint64))
	assert.Equal(t, 0, b.Len())
	assert.Equal(t, uint64(10), b.First())
}

func TestIterate(t *testing.T) {
	b, err := ring.New[int](8, ring.Config[int]{Shards: 3})
	require.NoError(t, err)
	defer b.Close()
	for i := 1; i <= 11; i++ { // seqs 4..11 retained
		_, err := b.Push(ptr(i))
		require.NoError(t, err)
	}
	for _, c := range []struct {
		name string
		it   func(func(uint64, *int) bool)
		want []uint64
	}{
		{"asc/0", b.Ascend(0), []uint64{4, 5, 6, 7, 8, 9, 10, 11}},
		{"asc/6", b.Ascend(6), []uint64{6, 7, 8, 9, 10, 11}},
		{"asc/11", b.Ascend(11), []uint64{11}},
		{"asc/12", b.Ascend(12), nil},
		{"desc/max", b.Descend(math.MaxUint64), []uint64{11, 10, 9, 8, 7, 6, 5, 4}},
		{"desc/6", b.Descend(6), []uint64{6, 5, 4}},
		{"desc/3", b.Descend(3), nil},
		{"desc/0", b.Descend(0), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			seqs, vals := collect(c.it)
			assert.Equal(t, c.want, seqs)
			for i, s := range seqs {
				assert.Equal(t, int(s), vals[i])
			}
		})
	}
	n := 0
	for range b.Ascend(0) {
		if n++; n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n, "early break")
}

func TestBlock(t *testing.T) {
	b, err := ring.New[int](2, ring.Config[int]{Policy: ring.Block})
	require.NoError(t, err)
	defer b.Close()
	for i := 1; i <= 2; i++ {
		_, err := b.Push(ptr(i))
		require.NoError(t, err)
	}
	t.Run("ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err := b.PushContext(ctx, ptr(3))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, uint64(1), b.Stats().Dropped)
		assert.Equal(t, uint64(3), b.Next())
	})
	t.Run("removal wakes", func(t *testing.T) {
		done := make(chan uint64)
		go func() {
			s, err := b.Push(ptr(3))
			assert.NoError(t, err)
			done <- s
		}()
		parkedSoon()
		assert.Equal(t, 1, b.RemoveBefore(2))
		select {
		case s := <-done:
			assert.Equal(t, uint64(3), s)
		case <-time.After(10 * time.Second):
			t.Fatal("blocked push not woken by removal")
		}
	})
	t.Run("close wakes", func(t *testing.T) {
		done := make(chan error)
		go func() {
			_, err := b.Push(ptr(4))
			done <- err
		}()
		parkedSoon()
		b.Close()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, ring.ErrClosed)
		case <-time.After(10 * time.Second):
			t.Fatal("blocked push not woken by Close")
		}
	})
}

// parkedSoon gives a just-started goroutine a chance to reach its wait; the
// tests are correct whether or not it has (the wake-up is checked either way).
func parkedSoon() {
	for i := 0; i < 20; i++ {
		runtime.Gosched()
	}
}

func TestClose(t *testing.T) {
	for _, pol := range []ring.Policy{ring.DropOldest, ring.DropNewest, ring.Block} {
		t.Run(pol.String(), func(t *testing.T) {
			b, err := ring.New[int](4, ring.Config[int]{Policy: pol})
			require.NoError(t, err)
			s, err := b.Push(ptr(1))
			require.NoError(t, err)
			b.Close()
			b.Close()
			_, err = b.Push(ptr(2))
			assert.ErrorIs(t, err, ring.ErrClosed)
			_, err = b.PushContext(context.Background(), ptr(2))
			assert.ErrorIs(t, err, ring.ErrClosed)
			_, err = b.PushBatch(context.Background(), []*int{ptr(2)})
			assert.ErrorIs(t, err, ring.ErrClosed)
			v, ok := b.Get(s)
			assert.True(t, ok)
			assert.Equal(t, 1, *v)
			assert.Equal(t, ring.Stats{Pushed: 1, Len: 1, Cap: 4}, b.Stats())
			assert.Equal(t, 1, b.RemoveBefore(2))
		})
	}
}

func TestNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	var discarded int
	b, err := ring.New(64, ring.Config[int]{OnDiscard: func(uint64, *int, ring.Reason) { discarded++ }})
	require.NoError(t, err)
	defer b.Close()
	v := ptr(1)
	vs := []*int{v, v, v, v}
	for range 100 {
		_, _ = b.Push(v)
	}
	ctx := context.Background()
	var sum int
	for name, f := range map[string]func(){
		"Push":      func() { _, _ = b.Push(v) },
		"PushBatch": func() { _, _ = b.PushBatch(ctx, vs) },
		"Get":       func() { w, _ := b.Get(b.Next() - 1); sum += *w },
		"Ascend": func() {
			for _, w := range b.Ascend(b.Next() - 8) {
				sum += *w
			}
		},
		"Descend": func() {
			for _, w := range b.Descend(math.MaxUint64) {
				sum += *w
			}
		},
		"Stats": func() { sum += b.Stats().Len },
	} {
		assert.Zero(t, testing.AllocsPerRun(1000, f), name)
	}
	assert.NotZero(t, discarded)
}

func TestErrorsMatch(t *testing.T) {
	assert.False(t, errors.Is(ring.ErrFull, ring.ErrClosed))
	assert.False(t, errors.Is(ring.ErrInvalid, ring.ErrFull))
	assert.Equal(t, "DropOldest", ring.DropOldest.String())
	assert.Equal(t, "Removed", ring.Removed.String())
	assert.Equal(t, "Policy(7)", ring.Policy(7).String())
	assert.Equal(t, "Reason(0)", ring.Reason(0).String())
}

// stressItem carries a checksum of its fields so a torn read shows.
type stressItem struct {
	prod, i, sum uint64
}

func checksum(prod, i uint64) uint64 { return (prod*0x9E3779B97F4A7C15 ^ i) * 0xBF58476D1CE4E5B9 }

func (it *stressItem) ok() bool { return it.sum == checksum(it.prod, it.i) }

type pushRec struct{ t0, t1, seq uint64 }

// TestStress runs producers, readers and a remover at once while the ring
// wraps many times, then checks the invariants exactly: every seq assigned
// once; each item either retained or discarded exactly once, with the right
// reason; pushed = len + overwritten + removed; readers only ever saw the
// item pushed with the seq they asked for (no torn reads); iteration strictly
// ordered; and the order claim: a push that returned before another started
// has the lower seq.
func TestStress(t *testing.T) {
	producers, perProducer := 4, 20000
	if raceEnabled {
		perProducer = 3000
	}
	if n, err := strconv.Atoi(os.Getenv("RING_SOAK")); err == nil && n > 0 {
		perProducer *= n // RING_SOAK=50: a longer soak, outside CI
	}
	for _, c := range []struct {
		name             string
		policy           ring.Policy
		capacity, shards int
		block            int
	}{
		{"DropOldest/pow2", ring.DropOldest, 64, 4, 0},
		{"DropOldest/odd", ring.DropOldest, 50, 3, 0},
		{"DropOldest/tiny", ring.DropOldest, 3, 2, 0},
		{"DropOldest/one", ring.DropOldest, 1, 1, 0},
		{"Block/one", ring.Block, 2, 2, 0},
		{"DropNewest", ring.DropNewest, 64, 2, 0},
		{"Block", ring.Block, 32, 3, 0},
		{"ClaimBlock/4", ring.DropOldest, 64, 1, 4},
		{"ClaimBlock/8of256", ring.DropOldest, 256, 4, 8},
		{"ClaimBlock/odd", ring.DropOldest, 50, 3, 2},
		{"ClaimBlock/full", ring.DropOldest, 16, 2, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			stress(t, c.policy, c.capacity, c.shards, c.block, producers, perProducer)
		})
	}
}

func stress(t *testing.T, policy ring.Policy, capacity, shards, block, producers, perProducer int) {
	total := producers * (perProducer + perProducer/16) // every 16th push is a batch of two
	// With block claiming, seqs also go to holes and unused block rests:
	// at most a block per push that steals, plus a block per P.
	maxSeq := total + 1
	if block > 1 {
		maxSeq = total*block + block*runtime.GOMAXPROCS(0) + 1
	}
	owner := make([]atomic.Pointer[stressItem], maxSeq)
	discarded := make([]atomic.Pointer[stressItem], maxSeq)
	var discards [3]atomic.Int64
	var badDiscard atomic.Int64
	b, err := ring.New(capacity, ring.Config[stressItem]{
		Shards:     shards,
		Policy:     policy,
		ClaimBlock: block,
		OnDiscard: func(seq uint64, v *stressItem, why ring.Reason) {
			if seq == 0 || seq >= uint64(maxSeq) || !v.ok() || !discarded[seq].CompareAndSwap(nil, v) {
				badDiscard.Add(1)
			}
			discards[why].Add(1)
		},
	})
	require.NoError(t, err)
	defer b.Close()

	var clock atomic.Uint64 // a logical clock to order push intervals
	var producing sync.WaitGroup
	var stop atomic.Bool
	recs := make([][]pushRec, producers)
	var refused atomic.Int64
	for p := 0; p < producers; p++ {
		producing.Add(1)
		go func() {
			defer producing.Done()
			ctx := context.Background()
			last := uint64(0)
			for i := 0; i < perProducer; i++ {
				it := &stressItem{prod: uint64(p), i: uint64(i), sum: checksum(uint64(p), uint64(i))}
				t0 := clock.Add(1)
				var s uint64
				var err error
				it2 := &stressItem{prod: it.prod, i: it.i, sum: it.sum}
				if i%16 == 15 { // some batches of two
					s, err = b.PushBatch(ctx, []*stressItem{it, it2})
				} else {
					s, err = b.PushContext(ctx, it)
				}
				t1 := clock.Add(1)
				if errors.Is(err, ring.ErrFull) {
					refused.Add(1)
					if i%16 == 15 {
						refused.Add(1)
					}
					runtime.Gosched()
					continue
				}
				if err != nil {
					t.Errorf("push: %v", err)
					return
				}
				if s <= last && block <= 1 {
					t.Errorf("producer %d: seq %d after %d", p, s, last)
				}
				if block > 1 && s+2 > uint64(maxSeq) {
					t.Errorf("seq %d beyond the test's bound %d", s, maxSeq)
					return
				}
				last = s
				recs[p] = append(recs[p], pushRec{t0, t1, s})
				if !owner[s].CompareAndSwap(nil, it) {
					t.Errorf("seq %d assigned twice", s)
				}
				if i%16 == 15 {
					if !owner[s+1].CompareAndSwap(nil, it2) {
						t.Errorf("seq %d assigned twice", s+1)
					}
					recs[p] = append(recs[p], pushRec{t0, t1, s + 1})
				}
			}
		}()
	}

	type obs struct {
		seq uint64
		v   *stressItem
	}
	var others sync.WaitGroup
	observed := make([][]obs, 2)
	for r := 0; r < 2; r++ {
		others.Add(1)
		go func() {
			defer others.Done()
			for n := 0; !stop.Load(); n++ {
				first, next := b.First(), b.Next()
				if next > first {
					s := first + uint64(n)%(next-first)
					if v, ok := b.Get(s); ok {
						if !v.ok() {
							t.Errorf("torn item at seq %d", s)
						}
						if len(observed[r]) < 50000 {
							observed[r] = append(observed[r], obs{s, v})
						}
					}
				}
				prev := uint64(0)
				it := b.Ascend(first)
				if n%2 == 1 {
					prev = math.MaxUint64
					it = b.Descend(math.MaxUint64)
				}
				k := 0
				for s, v := range it {
					if (n%2 == 0 && s <= prev) || (n%2 == 1 && s >= prev) || !v.ok() {
						t.Errorf("iteration out of order or torn: %d after %d", s, prev)
					}
					prev = s
					if k++; k == 16 {
						break
					}
				}
				runtime.Gosched() // leave the producers CPU when GOMAXPROCS is 1
			}
		}()
	}
	var removedByCalls atomic.Int64
	others.Add(1)
	go func() {
		defer others.Done()
		for n := 0; !stop.Load(); n++ {
			var k int
			switch n % 3 {
			case 0:
				k = b.RemoveOldest(func(_ uint64, v *stressItem) bool { return v.i%5 != 0 })
			case 1:
				k = b.RemoveBefore(b.First() + uint64(n%7))
			default:
				k = b.RemoveOldest(func(uint64, *stressItem) bool { return true })
			}
			removedByCalls.Add(int64(k))
			runtime.Gosched()
		}
	}()
	finished := make(chan struct{})
	go func() { producing.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute): // a generous guard, not a timing assertion
		buf := make([]byte, 1<<20)
		t.Fatalf("producers stuck:\n%s", buf[:runtime.Stack(buf, true)])
	}
	stop.Store(true)
	others.Wait()

	// Invariants, with the ring quiescent.
	st := b.Stats()
	pushed := b.Next() - 1
	if block > 1 {
		pushed = uint64(len(slices.Concat(recs...)))
	}
	assert.Equal(t, pushed, st.Pushed)
	assert.Equal(t, int64(total), int64(pushed)+refused.Load(), "every item pushed or refused")
	assert.Equal(t, len(slices.Concat(recs...)), int(pushed))
	assert.Equal(t, uint64(refused.Load()), st.Dropped)
	assert.Zero(t, badDiscard.Load(), "OnDiscard: bad seq, torn item, or called twice for one seq")
	assert.Equal(t, uint64(discards[ring.Overwritten].Load()), st.Overwritten)
	assert.Equal(t, uint64(discards[ring.Removed].Load()), st.Removed)
	assert.Equal(t, uint64(removedByCalls.Load()), st.Removed)
	assert.Equal(t, st.Pushed, uint64(st.Len)+st.Overwritten+st.Removed)
	if policy != ring.DropOldest {
		assert.Zero(t, st.Overwritten)
	}
	retained := 0
	prev := uint64(0)
	for s, v := range b.Ascend(0) {
		require.Greater(t, s, prev)
		prev = s
		retained++
		assert.Same(t, owner[s].Load(), v, "seq %d", s)
		assert.Nil(t, discarded[s].Load(), "seq %d both retained and discarded", s)
	}
	assert.Equal(t, st.Len, retained)
	for s := uint64(1); s < b.Next(); s++ {
		o := owner[s].Load()
		if block > 1 && o == nil { // a hole or an unused seq: never an item
			_, ok := b.Get(s)
			assert.False(t, ok, "seq %d: no push got it, Get finds it", s)
			assert.Nil(t, discarded[s].Load(), "seq %d: no push got it, discarded", s)
			continue
		}
		require.NotNil(t, o, "seq %d never recorded", s)
		_, ok := b.Get(s)
		if d := discarded[s].Load(); d != nil {
			assert.Same(t, o, d, "seq %d discarded with another item", s)
			assert.False(t, ok)
		} else {
			assert.True(t, ok, "seq %d neither retained nor discarded", s)
		}
	}
	for _, os := range observed {
		for _, o := range os {
			if w := owner[o.seq].Load(); w != o.v {
				t.Fatalf("reader saw seq %d holding another item", o.seq)
			}
		}
	}
	if block <= 1 {
		checkOrder(t, recs)
	}
}

// checkOrder verifies the linearizable order exactly: for every pair of
// pushes A, B with A returned (t1) before B started (t0), seq(A) < seq(B).
// Sweep B by start time, folding in every A that ended before it.
func checkOrder(t *testing.T, recs [][]pushRec) {
	var all []pushRec
	for _, r := range recs {
		all = append(all, r...)
	}
	byEnd := make([]pushRec, len(all))
	copy(byEnd, all)
	sortBy(all, func(r pushRec) uint64 { return r.t0 })
	sortBy(byEnd, func(r pushRec) uint64 { return r.t1 })
	var maxSeq uint64
	j := 0
	for _, b := range all {
		for ; j < len(byEnd) && byEnd[j].t1 < b.t0; j++ {
			maxSeq = max(maxSeq, byEnd[j].seq)
		}
		if maxSeq >= b.seq {
			t.Fatalf("push with seq %d started after a push with seq %d returned", b.seq, maxSeq)
		}
	}
}

func sortBy(rs []pushRec, key func(pushRec) uint64) {
	slices.SortFunc(rs, func(a, b pushRec) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
}

// TestClaimBlockHoles: with ClaimBlock, Flush makes holes of the unused
// rest of every P's block: they are settled, never items, not counted as
// pushes, and the pushes that lap them evict nothing; Stats stays exact.
func TestClaimBlockHoles(t *testing.T) {
	const capacity, block = 64, 8
	var discarded atomic.Int64
	b, err := ring.New(capacity, ring.Config[int]{
		Shards: 1, ClaimBlock: block,
		OnDiscard: func(uint64, *int, ring.Reason) { discarded.Add(1) },
	})
	require.NoError(t, err)
	defer b.Close()
	assert.Equal(t, uint64(block*(runtime.GOMAXPROCS(0)+2)), b.Slack())
	v := 7
	s, err := b.Push(&v)
	require.NoError(t, err)
	assert.False(t, b.Settled(b.Next()), "an unassigned seq is not settled")
	b.Flush()
	for q := uint64(1); q < b.Next(); q++ {
		assert.True(t, b.Settled(q), "seq %d", q)
		_, ok := b.Get(q)
		assert.Equal(t, q == s, ok, "seq %d", q)
	}
	st := b.Stats()
	assert.Equal(t, uint64(1), st.Pushed)
	assert.Equal(t, 1, st.Len)
	// Lap the holes many times, flushing now and then.
	pushed := uint64(1)
	for i := 0; i < 10*capacity; i++ {
		_, err := b.Push(&v)
		require.NoError(t, err)
		pushed++
		if i%13 == 0 {
			b.Flush()
		}
	}
	st = b.Stats()
	assert.Equal(t, pushed, st.Pushed)
	assert.Equal(t, uint64(discarded.Load()), st.Overwritten)
	assert.Equal(t, st.Pushed, uint64(st.Len)+st.Overwritten+st.Removed)
	held := 0
	for range b.Ascend(0) {
		held++
	}
	assert.Equal(t, st.Len, held)
	assert.LessOrEqual(t, held, capacity)
	// A remover steps over holes and never waits for an unused rest.
	n := b.RemoveOldest(func(uint64, *int) bool { return true })
	assert.Equal(t, held, n)
	st = b.Stats()
	assert.Zero(t, st.Len)
	assert.Equal(t, st.Pushed, st.Overwritten+st.Removed)
}

// TestGetBatch: GetBatch agrees with Get for every seq (retained,
// overwritten, removed, not yet assigned, past the largest seq), with power
// of two geometries (the inline path) and others.
func TestGetBatch(t *testing.T) {
	for _, c := range []struct{ capacity, shards int }{{1, 1}, {8, 1}, {8, 2}, {8, 8}, {64, 4}, {5, 2}, {7, 3}, {8, 3}} {
		t.Run(strconv.Itoa(c.capacity)+"/"+strconv.Itoa(c.shards), func(t *testing.T) {
			b, err := ring.New(c.capacity, ring.Config[int]{Shards: c.shards})
			require.NoError(t, err)
			defer b.Close()
			for i := 1; i <= 3*c.capacity+1; i++ {
				_, err := b.Push(ptr(i))
				require.NoError(t, err)
			}
			f := b.First()
			b.RemoveOldest(func(s uint64, _ *int) bool { return s == f })
			var seqs []uint64
			for s := uint64(0); s <= b.Next()+2; s++ {
				seqs = append(seqs, s)
			}
			seqs = append(seqs, math.MaxUint64, 1<<62, 1<<62-1)
			out := make([]*int, len(seqs))
			for i := range out {
				out[i] = ptr(-1) // overwritten by GetBatch, found or not
			}
			b.GetBatch(seqs, out)
			for i, s := range seqs {
				v, ok := b.Get(s)
				if !ok {
					assert.Nil(t, out[i], "seq %d", s)
					continue
				}
				assert.Same(t, v, out[i], "seq %d", s)
			}
			assert.Panics(t, func() { b.GetBatch(seqs, out[:1]) })
		})
	}
}
