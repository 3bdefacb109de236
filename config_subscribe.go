package foundation

import "github.com/elixirscope-go/foundation/internal/fanout"

// Subscribe returns a subscription to every later change, in order. Its
// channel is buffered (64); a subscriber that falls behind never blocks an
// update: it loses changes, counted by [ConfigSubscription.Dropped] (and
// visible as a gap in versions). The channel is closed only by the
// subscription's Close or the Foundation's Close.
func (c *ConfigService) Subscribe() *ConfigSubscription {
	s := &ConfigSubscription{sub: newSubscriber[ConfigChange](64)}
	if !c.subs.add(s.sub) { // the service's close has closed the list (and every sub in it)
		s.sub.Close()
		return s
	}
	s.remove = func() { c.subs.remove(s.sub) }
	return s
}

// ConfigSubscription receives config changes; see [ConfigService.Subscribe].
type ConfigSubscription struct {
	sub    *subscriber[ConfigChange]
	remove func()
}

// C returns the channel of changes.
func (s *ConfigSubscription) C() <-chan ConfigChange { return s.sub.C() }

// Dropped returns how many changes this subscriber lost because its
// channel was full (it read too slowly); the versions it then receives jump
// by as many.
func (s *ConfigSubscription) Dropped() uint64 { return s.sub.Dropped() }

// Close ends the subscription and closes its channel. Idempotent.
func (s *ConfigSubscription) Close() {
	if s.remove != nil {
		s.remove()
	}
	s.sub.Close()
}

// subscriber is one buffered channel of a broadcast (see fanout.Sub).
type subscriber[T any] = fanout.Sub[T]

func newSubscriber[T any](buffer int) *subscriber[T] { return fanout.NewSub[T](buffer) }

// broadcaster fans values out to subscribers over the copy-on-write list
// that the event store's subscriptions use too (fanout.List).
type broadcaster[T any] struct {
	list fanout.List[*subscriber[T]]
}

func (b *broadcaster[T]) add(s *subscriber[T]) bool { return b.list.Add(s) }

func (b *broadcaster[T]) remove(s *subscriber[T]) { b.list.Remove(s) }

// send offers *v to every subscriber (by pointer: copied only into a
// subscriber's channel).
func (b *broadcaster[T]) send(v *T) {
	for _, s := range b.list.Load() {
		s.Send(*v)
	}
}

func (b *broadcaster[T]) closeAll() {
	for _, s := range b.list.Close() {
		s.Close()
	}
}
