package shard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// seed returns SEED from the environment or a fresh one, and logs it.
func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if e := os.Getenv("SEED"); e != "" {
		v, err := strconv.ParseUint(e, 10, 64)
		if err != nil {
			t.Fatalf("SEED: %v", err)
		}
		s = v
	}
	t.Logf("SEED=%d", s)
	return s
}

func randObjs(r *rand.Rand, keys int) []obj {
	o := make([]obj, r.IntN(5))
	for i := range o {
		o[i] = obj{fmt.Sprintf("k%02d", r.IntN(keys)), r.IntN(4)}
	}
	return o
}

// TestModel runs random operation sequences on each kind and on the
// mutex-and-map model, and compares every result and the table after each.
func TestModel(t *testing.T) {
	s := seed(t)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			for run := range 20 {
				r := rand.New(rand.NewPCG(s, uint64(run)))
				shards := 1 + r.IntN(5)
				tb, m := newTUT(kind, WithShards(shards)), newModel(kind)
				keys := 2 + r.IntN(20)
				for step := range 400 {
					k := fmt.Sprintf("k%02d", r.IntN(keys))
					v := r.IntN(4)
					var got, want any
					op := r.IntN(14)
					switch op {
					case 0, 1:
						tb.insert(k, v)
						m.insert(k, v)
					case 2:
						o := randObjs(r, keys)
						tb.insertList(o)
						m.insertList(o)
					case 3:
						got, want = tb.insertNew(k, v), m.insertNew(k, v)
					case 4:
						o := randObjs(r, keys)
						got, want = tb.insertNewList(o), m.insertNewList(o)
					case 5:
						got, want = tb.lookup(k), m.lookup(k)
					case 6:
						got, want = tb.member(k), m.member(k)
					case 7:
						tb.delete(k)
						m.delete(k)
					case 8:
						tb.deleteObject(k, v)
						m.deleteObject(k, v)
					case 9:
						got, want = tb.take(k), m.take(k)
					case 10:
						got, want = tb.selectCount(v), m.selectCount(v)
					case 11:
						all, err := tb.selectAll(r.IntN(4))
						if err != nil {
							t.Fatal(err)
						}
						slices.SortStableFunc(all, func(a, b obj) int {
							if a.Key < b.Key {
								return -1
							}
							if a.Key > b.Key {
								return 1
							}
							return 0
						})
						got, want = asJSON(all), asJSON(m.objects())
					case 12, 13:
						c, ok := tb.(counters)
						if !ok {
							continue
						}
						switch r.IntN(3) {
						case 0:
							g, ge := c.updateCounter(k, v-1)
							w, we := m.updateCounter(k, v-1)
							got, want = fmt.Sprint(g, ge), fmt.Sprint(w, we)
						case 1:
							got, want = c.updateCounterDefault(k, v-1, 7), m.updateCounterDefault(k, v-1, 7)
						case 2:
							got, want = c.updateElement(k, v), m.updateElement(k, v)
						}
					}
					if asJSON(got) != asJSON(want) {
						t.Fatalf("run %d step %d op %d key %s: got %v, model %v", run, step, op, k, got, want)
					}
					if g, w := asJSON(tb.objects()), asJSON(m.objects()); g != w {
						t.Fatalf("run %d step %d op %d key %s: table\n%s\nmodel\n%s", run, step, op, k, g, w)
					}
					if tb.len() != m.len() {
						t.Fatalf("run %d step %d: Len %d, model %d", run, step, tb.len(), m.len())
					}
				}
			}
		})
	}
}
