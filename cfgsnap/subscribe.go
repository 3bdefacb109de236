package cfgsnap

import "github.com/elixirscope-go/foundation/internal/fanout"

// Subscription receives every change of a [Store], in version order. It is
// safe for concurrent use; its zero value is not usable (use
// [Store.Subscribe]).
type Subscription struct {
	sub   *fanout.Sub[Change]
	owner interface{ unsubscribe(*Subscription) }
}

// MaxSubscribeBuffer caps the buffer of [Store.Subscribe]: a larger
// buffer is taken as this one (a Change is 88 bytes, so at most 5.5 MiB
// per subscription).
const MaxSubscribeBuffer = 1 << 16

// Subscribe returns a subscription whose channel buffers up to buffer
// changes (negative means 0, more than [MaxSubscribeBuffer] means that).
// Sends never block the writer: when the buffer is full the change is
// dropped and counted by [Subscription.Dropped] (the next received Version
// also jumps). On a closed store the returned subscription's channel is
// already closed.
func (st *Store[T]) Subscribe(buffer int) *Subscription {
	s := &Subscription{sub: fanout.NewSub[Change](min(buffer, MaxSubscribeBuffer)), owner: st}
	if !st.subs.Add(s) {
		s.sub.Close()
	}
	return s
}

func (st *Store[T]) unsubscribe(s *Subscription) {
	st.subs.Remove(s)
	s.sub.Close()
}

// announce notifies *ch, or, for an UpdateMany, each of many. The
// changes are passed by pointer (a Change is 11 words) and copied only
// into a subscriber's channel.
func (st *Store[T]) announce(ch *Change, many []Change) {
	if many == nil {
		st.notify(ch)
		return
	}
	for i := range many {
		st.notify(&many[i])
	}
}

// notify offers ch to every subscriber without blocking. Called by the one
// goroutine that publishes, so in version order. The list is one atomic
// load (none when no one listens); a subscription closed meanwhile refuses
// the send.
func (st *Store[T]) notify(ch *Change) {
	for _, s := range st.subs.Load() {
		s.sub.Send(*ch)
	}
}

// C returns the channel of changes. It is closed by [Subscription.Close] or
// [Store.Close], never otherwise.
func (s *Subscription) C() <-chan Change { return s.sub.C() }

// Dropped returns how many changes this subscriber lost because its buffer
// was full (it read too slowly).
func (s *Subscription) Dropped() uint64 { return s.sub.Dropped() }

// Close stops the subscription and closes its channel; the store keeps no
// reference to it afterwards. Idempotent.
func (s *Subscription) Close() { s.owner.unsubscribe(s) }
