package ring_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/elixirscope-go/foundation/ring"
)

// model is the reference: a plain slice of the retained (seq, value) pairs.
type model struct {
	capacity  int
	policy    ring.Policy
	retained  []modelItem
	next      uint64
	discards  []discard
	over, rem uint64
	dropped   uint64
	closed    bool
}

type modelItem struct {
	seq uint64
	v   int
}

func (m *model) first() uint64 {
	if len(m.retained) == 0 {
		return m.next
	}
	return m.retained[0].seq
}

func (m *model) drop(why ring.Reason) {
	it := m.retained[0]
	m.retained = m.retained[1:]
	m.discards = append(m.discards, discard{it.seq, it.v, why})
	if why == ring.Overwritten {
		m.over++
	} else {
		m.rem++
	}
}

// push models a batch (n == len(vs)); it returns the expected first seq and
// error class.
func (m *model) push(vs []int) (uint64, error) {
	n := len(vs)
	if m.closed {
		return 0, ring.ErrClosed
	}
	if n > m.capacity {
		m.dropped += uint64(n)
		return 0, ring.ErrFull
	}
	if m.policy != ring.DropOldest && n > m.capacity-len(m.retained) {
		m.dropped += uint64(n)
		if m.policy == ring.Block {
			return 0, context.Canceled
		}
		return 0, ring.ErrFull
	}
	first := m.next
	for _, v := range vs {
		if len(m.retained) == m.capacity {
			m.drop(ring.Overwritten)
		}
		m.retained = append(m.retained, modelItem{m.next, v})
		m.next++
	}
	return first, nil
}

// FuzzRing interprets the input as a program of pushes, batches, removals,
// lookups and iterations on one Buffer and on the model, and compares every
// result, every OnDiscard call and the counters after each step.
//
// Byte 0: capacity-1 (mod 16); byte 1: shards (mod capacity+1, 0 = default);
// byte 2: policy (mod 3); then (op, arg) pairs.
func FuzzRing(f *testing.F) {
	f.Add([]byte{3, 2, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 2, 3, 5, 1, 6, 0})
	f.Add([]byte{4, 3, 1, 0, 1, 0, 2, 2, 4, 3, 3, 0, 9, 4, 1, 6, 2, 2, 1})
	f.Add([]byte{1, 0, 2, 0, 1, 0, 2, 0, 3, 4, 0, 0, 5, 7, 255, 0, 6})
	f.Add([]byte{15, 7, 0, 2, 15, 2, 14, 3, 20, 4, 2, 6, 1, 6, 4, 5, 9})
	f.Add([]byte{6, 5, 0, 2, 5, 2, 5, 8, 0, 3, 3, 0, 1, 4, 0, 2, 3, 6, 3})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		capacity := int(data[0]%16) + 1
		shards := int(data[1]) % (capacity + 1)
		policy := ring.Policy(data[2] % 3)
		var got []discard
		b, err := ring.New(capacity, ring.Config[int]{
			Shards: shards,
			Policy: policy,
			OnDiscard: func(seq uint64, v *int, why ring.Reason) {
				got = append(got, discard{seq, *v, why})
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		m := &model{capacity: capacity, policy: policy, next: 1}
		val := 0
		newVals := func(n int) ([]int, []*int) {
			vs, ps := make([]int, n), make([]*int, n)
			for i := range vs {
				val++
				vs[i] = val
				ps[i] = &vs[i]
			}
			return vs, ps
		}
		check := func(err, want error, what string) {
			t.Helper()
			if (err == nil) != (want == nil) || (want != nil && !errors.Is(err, want)) {
				t.Fatalf("%s: got error %v, want %v", what, err, want)
			}
		}
		for pc := 3; pc+1 < len(data); pc += 2 {
			op, arg := data[pc]%9, data[pc+1]
			switch op {
			case 0, 1: // push one
				vs, ps := newVals(1)
				wantSeq, wantErr := m.push(vs)
				var s uint64
				var err error
				switch {
				case policy == ring.Block:
					s, err = b.PushContext(canceled, ps[0])
				case arg%2 == 0:
					s, err = b.Push(ps[0])
				default:
					s, err = b.PushContext(context.Background(), ps[0])
				}
				check(err, wantErr, "push")
				if s != wantSeq {
					t.Fatalf("push: seq %d, want %d", s, wantSeq)
				}
			case 2: // batch of 0..capacity+1
				vs, ps := newVals(int(arg) % (capacity + 2))
				var wantSeq uint64
				var wantErr error
				if len(vs) > 0 {
					wantSeq, wantErr = m.push(vs)
				}
				s, err := b.PushBatch(canceled, ps)
				check(err, wantErr, "batch")
				if s != wantSeq {
					t.Fatalf("batch: first %d, want %d", s, wantSeq)
				}
			case 3: // RemoveBefore a seq around the window
				lim := m.first() + uint64(arg%8) - min(m.first(), 2)
				if arg == 255 {
					lim = math.MaxUint64
				}
				want := 0
				for len(m.retained) > 0 && m.retained[0].seq < lim {
					m.drop(ring.Removed)
					want++
				}
				if n := b.RemoveBefore(lim); n != want {
					t.Fatalf("RemoveBefore(%d) = %d, want %d", lim, n, want)
				}
			case 4: // RemoveOldest while value%4 != arg%4
				pred := func(v int) bool { return v%4 != int(arg%4) }
				want := 0
				for len(m.retained) > 0 && pred(m.retained[0].v) {
					m.drop(ring.Removed)
					want++
				}
				if n := b.RemoveOldest(func(_ uint64, v *int) bool { return pred(*v) }); n != want {
					t.Fatalf("RemoveOldest = %d, want %d", n, want)
				}
			case 5: // Get around the window
				s := m.next + 2 - min(m.next+2, uint64(arg%(uint8(capacity)+5)))
				i, found := slices.BinarySearchFunc(m.retained, s, func(it modelItem, s uint64) int {
					return int(it.seq) - int(s)
				})
				v, ok := b.Get(s)
				if ok != found || (ok && *v != m.retained[i].v) {
					t.Fatalf("Get(%d) = %v, want %v", s, ok, found)
				}
			case 6: // Ascend from, with an early stop
				from := m.first() + uint64(arg%4) - min(m.first(), 1)
				stop := int(arg/4) % (capacity + 2)
				var want, have []modelItem
				for _, it := range m.retained {
					if it.seq >= from {
						want = append(want, it)
					}
				}
				for s, v := range b.Ascend(from) {
					if len(have) == stop {
						break
					}
					have = append(have, modelItem{s, *v})
				}
				if !slices.Equal(have, want[:min(stop, len(want))]) {
					t.Fatalf("Ascend(%d) = %v, want %v", from, have, want)
				}
			case 7: // Descend from
				from := m.next - uint64(arg%4)
				if arg >= 128 {
					from = math.MaxUint64
				}
				var want, have []modelItem
				for _, it := range slices.Backward(m.retained) {
					if it.seq <= from {
						want = append(want, it)
					}
				}
				for s, v := range b.Descend(from) {
					have = append(have, modelItem{s, *v})
				}
				if !slices.Equal(have, want) {
					t.Fatalf("Descend(%d) = %v, want %v", from, have, want)
				}
			case 8: // Close (rarely), or a nil item
				if arg == 255 {
					b.Close()
					m.closed = true
				} else {
					_, err := b.Push(nil)
					check(err, ring.ErrInvalid, "nil push")
				}
			}
			want := ring.Stats{
				Pushed: m.next - 1, Overwritten: m.over, Dropped: m.dropped, Removed: m.rem,
				Len: len(m.retained), Cap: capacity,
			}
			if st := b.Stats(); st != want {
				t.Fatalf("op %d: stats %+v, want %+v", op, st, want)
			}
			if b.First() != m.first() || b.Next() != m.next || b.Len() != len(m.retained) {
				t.Fatalf("op %d: first/next/len %d/%d/%d, want %d/%d/%d", op,
					b.First(), b.Next(), b.Len(), m.first(), m.next, len(m.retained))
			}
			if !slices.Equal(got, m.discards) {
				t.Fatalf("op %d: discards %v, want %v", op, got, m.discards)
			}
		}
	})
}
