package cfgsnap

import "sync/atomic"

// Subscription receives every change of a [Store], in version order. It is
// safe for concurrent use; its zero value is not usable (use
// [Store.Subscribe]).
type Subscription struct {
	c       chan Change
	dropped atomic.Uint64
	owner   interface{ unsubscribe(*Subscription) }
}

// Subscribe returns a subscription whose channel buffers up to buffer
// changes (negative means 0). Sends never block the writer: when the buffer
// is full the change is dropped and counted by [Subscription.Dropped] (the
// next received Version also jumps). On a closed store the returned
// subscription's channel is already closed.
func (st *Store[T]) Subscribe(buffer int) *Subscription {
	s := &Subscription{c: make(chan Change, max(buffer, 0)), owner: st}
	st.subMu.Lock()
	if st.subs == nil {
		close(s.c)
	} else {
		st.subs[s] = struct{}{}
		st.nsubs.Store(int32(len(st.subs)))
	}
	st.subMu.Unlock()
	return s
}

func (st *Store[T]) unsubscribe(s *Subscription) {
	st.subMu.Lock()
	if _, ok := st.subs[s]; ok {
		delete(st.subs, s)
		st.nsubs.Store(int32(len(st.subs)))
		close(s.c)
	}
	st.subMu.Unlock()
}

// announce notifies ch, or, for an UpdateMany, each of many.
func (st *Store[T]) announce(ch Change, many []Change) {
	if many == nil {
		st.notify(ch)
		return
	}
	for _, m := range many {
		st.notify(m)
	}
}

// notify offers ch to every subscriber without blocking. Called by the one
// goroutine that publishes (so in version order); subMu makes the sends and
// the closes in Close/unsubscribe mutually exclusive.
func (st *Store[T]) notify(ch Change) {
	if st.nsubs.Load() == 0 {
		// No subscriber: a Subscribe racing this change starts after it,
		// as it would had it taken the lock after this notify.
		return
	}
	st.subMu.Lock()
	for s := range st.subs {
		select {
		case s.c <- ch:
		default:
			s.dropped.Add(1)
		}
	}
	st.subMu.Unlock()
}

// C returns the channel of changes. It is closed by [Subscription.Close] or
// [Store.Close], never otherwise.
func (s *Subscription) C() <-chan Change { return s.c }

// Dropped returns how many changes this subscriber lost because its buffer
// was full (it read too slowly).
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops the subscription and closes its channel; the store keeps no
// reference to it afterwards. Idempotent.
func (s *Subscription) Close() { s.owner.unsubscribe(s) }
