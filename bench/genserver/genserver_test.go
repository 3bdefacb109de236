package genserver

import (
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/elixirscope-go/foundation"
)

func TestSystem(t *testing.T) {
	cfg := foundation.DefaultConfig()
	cfg.Storage.Hot.MaxEvents = 8
	s := StartWithConfig(cfg)
	defer s.Stop()

	if got := s.ConfigGet().AI.Planning.SamplingRate; got != 1.0 {
		t.Fatalf("sampling_rate = %v", got)
	}
	if err := s.ConfigUpdate("ai.planning.sampling_rate", 0.5); err != nil {
		t.Fatal(err)
	}
	if got := s.ConfigGet().AI.Planning.SamplingRate; got != 0.5 {
		t.Fatalf("sampling_rate = %v after update", got)
	}
	for _, tc := range []struct {
		path  string
		value any
		want  error
	}{
		{"ai.planning.sampling_rate", 1.5, foundation.ErrRange},
		{"ai.planning.sampling_rate", "x", foundation.ErrTypeMismatch},
		{"ai.provider", "openai", foundation.ErrUpdateForbidden},
		{"interface.max_results", 0, foundation.ErrValidation},
	} {
		if err := s.ConfigUpdate(tc.path, tc.value); !errors.Is(err, tc.want) {
			t.Errorf("update %s=%v: %v, want %v", tc.path, tc.value, err, tc.want)
		}
	}
	if got := s.ConfigGet().AI.Planning.SamplingRate; got != 0.5 {
		t.Fatalf("failed update changed the config: %v", got)
	}
	evs, err := s.QueryEvents(foundation.Query{Type: "config_updated"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("config_updated events: %v, %v", evs, err)
	}

	// Fill past the bound: 1 config event + 10 more, 8 kept.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			corr := "a"
			if i%2 == 1 {
				corr = "b"
			}
			if _, err := s.StoreEvent(foundation.Event{Type: "t", CorrelationID: corr, Data: []byte{byte(i)}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, _ := s.QueryEvents(foundation.Query{})
	if len(all) != 8 || all[0].ID != 4 || all[7].ID != 11 {
		t.Fatalf("bounded store: %d events, ids %d..%d", len(all), all[0].ID, all[len(all)-1].ID)
	}
	a, _ := s.QueryEvents(foundation.Query{CorrelationID: "a", Descending: true, Limit: 2})
	if len(a) != 2 || a[0].ID < a[1].ID {
		t.Fatalf("correlation query: %+v", a)
	}
	if _, err := s.StoreEvent(foundation.Event{}); !errors.Is(err, foundation.ErrInvalidEvent) {
		t.Fatalf("empty type: %v", err)
	}
	if _, err := s.QueryEvents(foundation.Query{Limit: -1}); !errors.Is(err, foundation.ErrInvalidQuery) {
		t.Fatalf("negative limit: %v", err)
	}

	s.Execute("req", foundation.Measurements{"counter": 2, "latency": 100}, nil)
	s.Execute("req", foundation.Measurements{"counter": 1, "latency": 300, "gauge": 7}, nil)
	m := s.Metrics()
	if m["req"] != 7 && m["req"] != 3 { // counter 3 and gauge 7 share the name
		t.Fatalf("req = %v", m["req"])
	}
	if m["req.latency.count"] != 2 || m["foundation.events_stored"] != 11 || m["foundation.config_updates"] != 1 {
		t.Fatalf("metrics: %v", m)
	}

	s.Stop()
	if _, err := s.StoreEvent(foundation.Event{Type: "t"}); !errors.Is(err, foundation.ErrClosed) {
		t.Fatalf("after Stop: %v", err)
	}
	s.Execute("req", nil, nil) // dropped, no panic
}

// TestEventLogQueryAppend: QueryAppend, reusing its slices, returns what
// Query returns, with each Data a capped copy in the arena.
func TestEventLogQueryAppend(t *testing.T) {
	log := NewEventLog(100, 50, 1000)
	for i := range 150 {
		ev := foundation.Event{Type: []string{"a", "b"}[i%2], CorrelationID: []string{"", "x", "y"}[i%3], Time: int64(i + 1)}
		if i%4 != 0 {
			ev.Data = []byte{byte(i), byte(i)}
		}
		if _, _, err := log.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	var (
		dst   []foundation.Event
		arena []byte
	)
	for _, q := range []foundation.Query{{}, {Type: "a", Descending: true}, {CorrelationID: "x", Limit: 5, Offset: 2},
		{Since: 70, Until: 90}, {Type: "b", Limit: 1}, {Limit: -1}} {
		want, werr := log.Query(&q)
		var err error
		dst, arena, err = log.QueryAppend(dst[:0], arena[:0], &q)
		if (err == nil) != (werr == nil) || len(want) != len(dst) || (len(want) > 0 && !reflect.DeepEqual(want, dst)) {
			t.Fatalf("%+v: %v %v, Query %v %v", q, dst, err, want, werr)
		}
		for i := range dst {
			if cap(dst[i].Data) != len(dst[i].Data) {
				t.Fatalf("%+v: [%d].Data not capped", q, i)
			}
		}
	}
}
