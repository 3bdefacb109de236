package foundation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// TestEventSubscribeStreamingOff: interface.enable_streaming false makes
// Subscribe refuse (closed channel, an Err naming the setting), and Store,
// Query and the other reads go on as usual.
func TestEventSubscribeStreamingOff(t *testing.T) {
	f, _ := newStore(t, 100, func(c *foundation.Config) { c.Interface.EnableStreaming = false })
	es := f.Events()
	sub := es.Subscribe(foundation.Query{}, foundation.SubscriptionBuffer(8))
	err := sub.Err()
	require.Error(t, err)
	assert.True(t, errors.Is(err, foundation.ErrConstraint), "%v", err)
	assert.Contains(t, err.Error(), "interface.enable_streaming")
	_, open := <-sub.C()
	assert.False(t, open, "a refused subscription's channel is closed")
	sub.Close()
	sub.Close()

	id, err := es.Store(foundation.Event{Type: "a"})
	require.NoError(t, err)
	evs, err := es.Query(foundation.Query{Type: "a"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, id, evs[0].ID)
	assert.Zero(t, sub.Dropped())
}

// TestEventSubscribeErr: a subscription that was made has a nil Err, also
// once closed; one made after Close has an Err matching ErrClosed.
func TestEventSubscribeErr(t *testing.T) {
	f, clk := newStore(t, 100, nil)
	es := f.Events()
	sub := es.Subscribe(foundation.Query{})
	require.NoError(t, sub.Err())
	_, err := es.Store(foundation.Event{Type: "a"})
	require.NoError(t, err)
	clk.Add(time.Nanosecond) // its Time is the clock's: sent once the clock moves on
	ev := <-sub.C()
	assert.Equal(t, "a", ev.Type)
	sub.Close()
	assert.NoError(t, sub.Err())

	require.NoError(t, f.Close())
	late := es.Subscribe(foundation.Query{})
	assert.True(t, errors.Is(late.Err(), foundation.ErrClosed), "%v", late.Err())
	_, open := <-late.C()
	assert.False(t, open)
	late.Close()
}
