package eventstore

import (
	"strconv"
	"testing"
)

// TestQueryAllocs: a query allocates its results only (the Events and one
// arena for their bytes); its working state is pooled.
func TestQueryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := testStore(t, capacity(1<<12), nil)
	data := make([]byte, 16)
	for i := range 1000 {
		ev := Event{Type: "t" + strconv.Itoa(i&3), CorrelationID: "c" + strconv.Itoa(i&7), Data: data}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []Query{
		{Type: "t1", Limit: 100, Descending: true},
		{Type: "t2", Limit: 100},
		{CorrelationID: "c3", Limit: 50},
		{Limit: 100, Descending: true},
		{Type: "t1", Since: 1, Limit: 10},
	} {
		if n := testing.AllocsPerRun(100, func() {
			if evs, err := s.Query(q); err != nil || len(evs) == 0 {
				t.Fatalf("%+v: %d events, %v", q, len(evs), err)
			}
		}); n > 2 {
			t.Errorf("%+v: %v allocations per query, want at most 2", q, n)
		}
	}
}
