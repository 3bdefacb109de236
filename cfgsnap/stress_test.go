package cfgsnap

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seed prints (and takes from SEED) the seed of a randomized test.
func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if env := os.Getenv("SEED"); env != "" {
		s, _ = strconv.ParseUint(env, 10, 64)
	}
	t.Logf("SEED=%d", s)
	return s
}

// TestStress runs readers, whole-value writers, leaf writers and CAS
// incrementers at once. Invariants: a reader never sees the version go
// backwards nor the two pair fields differ (the validator requires them
// equal and UpdateFunc sets both, so a difference is a half-applied change);
// the CAS increments sum exactly; a subscriber sees strictly rising versions
// and received + dropped = every change.
func TestStress(t *testing.T) {
	for _, durable := range []bool{false, true} {
		name := "memory"
		if durable {
			name = "durable"
		}
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed(t), 1))
			opts := Config[testCfg]{Validate: validPair}
			if durable {
				opts.Dir, opts.NoSync, opts.SnapshotEvery = t.TempDir(), true, 97
			}
			st := open(t, opts)
			sub := st.Subscribe(64)
			const readers, writers, casers, perWriter, perCaser = 4, 2, 3, 300, 200
			var stop atomic.Bool
			var wg, rwg sync.WaitGroup
			var received uint64
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				var last uint64
				for ch := range sub.C() {
					if ch.Version <= last {
						t.Errorf("subscriber: version %d after %d", ch.Version, last)
					}
					last = ch.Version
					received++
				}
			}()
			for range readers {
				rwg.Add(1)
				go func() {
					defer rwg.Done()
					var last uint64
					for !stop.Load() {
						s := st.Load()
						if s.Version() < last {
							t.Errorf("version went back: %d after %d", s.Version(), last)
							return
						}
						last = s.Version()
						if p := s.Ptr().Pair; p.A != p.B {
							t.Errorf("half-applied change at version %d: %+v", s.Version(), p)
							return
						}
					}
				}()
			}
			for w := range writers {
				wg.Add(1)
				r := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
				go func() {
					defer wg.Done()
					for range perWriter {
						n := r.Int64N(1000)
						if r.IntN(2) == 0 {
							if _, err := st.UpdateFunc(func(c *testCfg) error { c.Pair = pair{n, n}; return nil }); err != nil {
								t.Error(err)
							}
						} else if _, err := st.Update("pair.a", n); err != nil && !errors.Is(err, ErrInvalid) {
							t.Error(err) // refused unless pair.b happens to equal n
						}
						if _, err := st.Update("rate", r.Float64()); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			for range casers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for done := 0; done < perCaser; {
						s := st.Load()
						_, err := st.CompareAndUpdate(s.Version(), "custom_name", s.Ptr().Renamed+1)
						switch {
						case err == nil:
							done++
						case !errors.Is(err, ErrVersionConflict):
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			stop.Store(true)
			final := st.Load()
			if got := final.Value().Renamed; got != casers*perCaser {
				t.Fatalf("CAS increments sum to %d, want %d", got, casers*perCaser)
			}
			sub.Close()
			rwg.Wait()
			if received+sub.Dropped() != final.Version() {
				t.Fatalf("subscriber: %d received + %d dropped != %d changes", received, sub.Dropped(), final.Version())
			}
			if durable {
				want := final.Value()
				st.Close()
				st2 := open(t, opts)
				if st2.Load().Value() != want || st2.Load().Version() != final.Version() || len(st2.Recovery().Problems) != 0 {
					t.Fatalf("reopen: %+v", st2.Recovery())
				}
			}
		})
	}
}
