package eventstore

import (
	"fmt"
	"testing"
	"time"
)

// indexKeys counts the keys of an index over its stripes.
func indexKeys(x *index) int {
	n := 0
	for _, b := range x.stripes {
		n += b.Keys()
	}
	return n
}

// TestLazyIndexesStayBounded: the indexes forget evicted events lazily
// (trimmed on insert, swept by the pruner every ~capacity/2 stores), so
// with a unique correlation id per event (keys that never get a second
// insert) the correlation index still holds about the capacity's worth of
// keys, not one per event ever stored; and no query sees a forgotten event.
func TestLazyIndexesStayBounded(t *testing.T) {
	const n = 1000
	es := testStore(t, capacity(n), nil)
	const total = 50 * n
	for i := 0; i < total; i++ {
		if _, err := es.Store(&Event{Type: fmt.Sprintf("t%d", i%3), CorrelationID: fmt.Sprintf("c%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The last kick may still be in the pruner's hands: wait for the sweep.
	deadline := time.Now().Add(10 * time.Second)
	// A key sits in one stripe (a unique id is inserted once).
	for indexKeys(es.byCorr) > n+n/2+1 {
		if time.Now().After(deadline) {
			t.Fatalf("correlation index holds %d keys for a store of %d events", indexKeys(es.byCorr), n)
		}
		time.Sleep(time.Millisecond)
	}
	if n := indexKeys(es.byType); n > 3*len(es.byType.stripes) {
		t.Fatalf("type index holds %d keys, want at most 3 a stripe", n)
	}
	// Forgotten events are never returned, whatever the index still holds.
	// Event i has ID i+1 when one goroutine stores on one P. With per-P
	// claim blocks (ring.Config.ClaimBlock) a goroutine that moves to
	// another P leaves its block's rest as holes, which take slots, and an
	// event may stay up to the ring's slack past the newest capacity IDs:
	// the checks keep clear of the boundary by 300 events.
	for _, id := range []int{0, total / 2, total - n - 300} {
		res, err := es.Query(Query{CorrelationID: fmt.Sprintf("c%d", id)})
		if err != nil || len(res) != 0 {
			t.Fatalf("query of evicted c%d = %v, %v", id, res, err)
		}
		corr, err := es.Correlated(fmt.Sprintf("c%d", id))
		if err != nil || len(corr) != 0 {
			t.Fatalf("Correlated(c%d) = %v, %v", id, corr, err)
		}
	}
	for _, id := range []int{total - n + 300, total - 1} {
		res, err := es.Query(Query{CorrelationID: fmt.Sprintf("c%d", id)})
		if err != nil || len(res) != 1 {
			t.Fatalf("query of held c%d = %v, %v", id, res, err)
		}
	}
}

// TestReadSkipsHoles: with per-P claim blocks, the IDs of a block that its
// P did not use become holes when Read meets them or Flush runs: Read
// reports ReadSkip for them (a reader walking IDs steps over them without
// counting a loss), and the event itself is still found.
func TestReadSkipsHoles(t *testing.T) {
	es := testStore(t, capacity(4096), nil)
	if es.slack == 0 {
		t.Skip("the store claims one ID at a time at this GOMAXPROCS")
	}
	id, err := es.Store(&Event{Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	// Read itself makes a hole of an unused rest (ring.Settle): an idle
	// P's block does not stop the reader.
	if _, st := es.Read(id + 1); st != ReadSkip {
		t.Fatalf("Read of the block's unused rest = %v, want ReadSkip", st)
	}
	es.Flush()
	if _, st := es.Read(id); st != ReadFound {
		t.Fatalf("Read(%d) = %v", id, st)
	}
	for h := id + 1; h < es.Next(); h++ {
		if _, st := es.Read(h); st != ReadSkip {
			t.Fatalf("Read(%d) of a hole = %v, want ReadSkip", h, st)
		}
	}
	if st := es.Stats(); st.Stored != 1 || st.Len != 1 {
		t.Fatalf("Stats after Flush = %+v", st)
	}
}
