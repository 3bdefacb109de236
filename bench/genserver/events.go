package genserver

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/elixirscope-go/foundation"
)

// maxEventSize is foundation's default maximum event Data size.
const maxEventSize = 1_000_000

// EventStore owns an [EventLog] in one goroutine. Store and Query are calls;
// a store also casts foundation.events_stored (and events_evicted) to the
// telemetry server.
type EventStore struct {
	in   chan evMsg
	quit chan struct{}
	pool *sync.Pool
	tel  *TelemetryService
	log  *EventLog // owned by loop
}

// EventLog is the event store's state: a slice in id order, bounded by max
// events (the oldest is evicted), with two index maps from type and from
// correlation id to ids. It is not safe for concurrent use: the GenServer
// port owns it in one goroutine, the mutex design in bench/ wraps it in a
// lock, so that both do exactly the same work.
type EventLog struct {
	max   int
	maxRs int
	maxSz int

	events []foundation.Event // events[i].ID == first+i
	first  uint64
	next   uint64
	byType map[string][]uint64
	byCorr map[string][]uint64
}

// NewEventLog returns an empty log holding at most maxEvents events, capping
// queries at maxResults and refusing Data longer than maxSize.
func NewEventLog(maxEvents, maxResults, maxSize int) *EventLog {
	return &EventLog{max: maxEvents, maxRs: maxResults, maxSz: maxSize, first: 1, next: 1,
		byType: make(map[string][]uint64), byCorr: make(map[string][]uint64)}
}

// Len returns the number of events held.
func (s *EventLog) Len() int { return len(s.events) }

type evMsg struct {
	query bool
	ev    foundation.Event
	q     foundation.Query
	reply chan evReply
}

type evReply struct {
	id  uint64
	evs []foundation.Event
	err error
}

func newEventStore(quit chan struct{}, tel *TelemetryService, maxEvents, maxResults, maxSize int) *EventStore {
	return &EventStore{in: make(chan evMsg), quit: quit, pool: newPool[evReply](), tel: tel,
		log: NewEventLog(maxEvents, maxResults, maxSize)}
}

func (s *EventStore) loop() {
	for {
		select {
		case m := <-s.in:
			if m.query {
				evs, err := s.log.Query(&m.q)
				m.reply <- evReply{evs: evs, err: err}
			} else {
				id, evicted, err := s.log.Store(&m.ev)
				if err == nil {
					s.tel.Execute("foundation.events_stored", storedOne, nil)
					if evicted {
						s.tel.Execute("foundation.events_evicted", evictedOne, nil)
					}
				}
				m.reply <- evReply{id: id, err: err}
			}
		case <-s.quit:
			return
		}
	}
}

// Store stores a copy of ev and returns its id.
func (s *EventStore) Store(ev foundation.Event) (uint64, error) {
	r, ok := call(s.in, s.quit, s.pool, func(reply chan evReply) evMsg { return evMsg{ev: ev, reply: reply} })
	if !ok {
		return 0, fmt.Errorf("events.store: %w", foundation.ErrClosed)
	}
	return r.id, r.err
}

// Query returns copies of the events matching q, in id order (newest first
// when q.Descending), after q.Offset, at most q.Limit (0 or more than the
// max results: the max results).
func (s *EventStore) Query(q foundation.Query) ([]foundation.Event, error) {
	r, ok := call(s.in, s.quit, s.pool, func(reply chan evReply) evMsg { return evMsg{query: true, q: q, reply: reply} })
	if !ok {
		return nil, fmt.Errorf("events.query: %w", foundation.ErrClosed)
	}
	return r.evs, r.err
}

var (
	storedOne  = foundation.Measurements{"counter": 1}
	evictedOne = foundation.Measurements{"counter": 1}
)

// Store validates ev (a type; Data within the max size), numbers it,
// stamps it with the current time when its Time is zero, copies its Data,
// evicts the oldest event when full (evicted reports it), and indexes it.
func (s *EventLog) Store(ev *foundation.Event) (id uint64, evicted bool, err error) {
	if ev.Type == "" {
		return 0, false, fmt.Errorf("events.store: empty type: %w", foundation.ErrInvalidEvent)
	}
	if len(ev.Data) > s.maxSz {
		return 0, false, fmt.Errorf("events.store: %d bytes: %w", len(ev.Data), foundation.ErrDataTooLarge)
	}
	e := *ev
	e.ID = s.next
	s.next++
	if e.Time == 0 {
		e.Time = time.Now().UnixNano()
	}
	if e.Data != nil {
		e.Data = bytes.Clone(e.Data)
	}
	if len(s.events) >= s.max {
		s.evictOldest()
		evicted = true
	}
	s.events = append(s.events, e)
	s.byType[e.Type] = append(s.byType[e.Type], e.ID)
	if e.CorrelationID != "" {
		s.byCorr[e.CorrelationID] = append(s.byCorr[e.CorrelationID], e.ID)
	}
	return e.ID, evicted, nil
}

func (s *EventLog) evictOldest() {
	old := s.events[0]
	s.events[0] = foundation.Event{}
	s.events = s.events[1:]
	s.first++
	popFront(s.byType, old.Type, old.ID)
	if old.CorrelationID != "" {
		popFront(s.byCorr, old.CorrelationID, old.ID)
	}
}

// popFront removes id, the oldest id of key, from the index.
func popFront(idx map[string][]uint64, key string, id uint64) {
	ids := idx[key]
	if len(ids) > 0 && ids[0] == id {
		ids = ids[1:]
	}
	if len(ids) == 0 {
		delete(idx, key)
		return
	}
	idx[key] = ids
}

// Query returns copies of the events matching q, as [EventStore.Query] says:
// through the type index, else the correlation index, else every event.
// Each Data is a copy of its own (an allocation per event).
func (s *EventLog) Query(q *foundation.Query) ([]foundation.Event, error) {
	out, _, err := s.query(q, nil, nil, false)
	return out, err
}

// QueryAppend is Query with the results appended to dst and their Data
// copied into arena (appended, each capped at its length): with dst and
// arena reused from one query to the next (dst[:0], arena[:0]), a query
// allocates nothing once they have grown. It returns both grown. The Types
// and CorrelationIDs are the log's own strings, as Query's are.
func (s *EventLog) QueryAppend(dst []foundation.Event, arena []byte, q *foundation.Query) ([]foundation.Event, []byte, error) {
	return s.query(q, dst, arena, true)
}

// query is Query (into false: new memory) and QueryAppend (into: dst and
// arena).
func (s *EventLog) query(q *foundation.Query, dst []foundation.Event, arena []byte, into bool) ([]foundation.Event, []byte, error) {
	if q.Limit < 0 || q.Offset < 0 || (q.Since != 0 && q.Until != 0 && q.Since > q.Until) {
		return dst, arena, fmt.Errorf("events.query: negative limit or offset, or since > until: %w", foundation.ErrInvalidQuery)
	}
	limit := q.Limit
	if limit == 0 || limit > s.maxRs {
		limit = s.maxRs
	}
	var ids []uint64 // nil: every event
	indexed := false
	switch {
	case q.Type != "":
		ids, indexed = s.byType[q.Type], true
	case q.CorrelationID != "":
		ids, indexed = s.byCorr[q.CorrelationID], true
	}
	n := len(s.events)
	if indexed {
		n = len(ids)
	}
	if !into {
		dst = make([]foundation.Event, 0, min(limit, n))
	}
	start := len(dst)
	skip := q.Offset
	for k := range n {
		i := k
		if q.Descending {
			i = n - 1 - k
		}
		var e *foundation.Event
		if indexed {
			e = &s.events[ids[i]-s.first]
		} else {
			e = &s.events[i]
		}
		if (q.Type != "" && e.Type != q.Type) ||
			(q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
			(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		c := *e
		if c.Data != nil {
			if into {
				a := len(arena)
				arena = append(arena, c.Data...)
				c.Data = arena[a:len(arena):len(arena)]
			} else {
				c.Data = bytes.Clone(c.Data)
			}
		}
		dst = append(dst, c)
		if len(dst)-start == limit {
			break
		}
	}
	return dst, arena, nil
}
