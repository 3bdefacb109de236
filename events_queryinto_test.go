package foundation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// TestQueryIntoErrors: QueryInto refuses what Query refuses, with the same
// errors, and a nil buffer with ErrInvalidQuery, without a panic.
func TestQueryIntoErrors(t *testing.T) {
	f, _ := newStore(t, 64, nil)
	es := f.Events()
	_, err := es.Store(foundation.Event{Type: "a"})
	require.NoError(t, err)
	var buf foundation.EventBuffer
	for _, q := range []foundation.Query{{Limit: -1}, {Offset: -1}, {Offset: foundation.MaxQueryOffset + 1}, {Since: 5, Until: 4}} {
		_, err := es.QueryInto(&buf, q)
		assert.ErrorIs(t, err, foundation.ErrInvalidQuery, "%+v", q)
		assert.ErrorIs(t, err, foundation.ErrValidation, "%+v", q)
	}
	evs, err := es.QueryInto(nil, foundation.Query{})
	assert.Nil(t, evs)
	assert.ErrorIs(t, err, foundation.ErrInvalidQuery)
	assert.ErrorContains(t, err, "buffer")
	evs, err = es.QueryIntoContext(context.Background(), &buf, foundation.Query{})
	require.NoError(t, err)
	assert.Len(t, evs, 1)
}

// TestQueryIntoReuse: one buffer through pages of varying length and
// content gives what Query gives each time; writes to a page's Data stay
// in the page; the next use of the buffer overwrites the page.
func TestQueryIntoReuse(t *testing.T) {
	f, _ := newStore(t, 1024, nil)
	es := f.Events()
	for i := range 300 {
		ev := foundation.Event{Type: fmt.Sprint("t", i%3)}
		if i%2 == 0 {
			ev.CorrelationID = fmt.Sprint("c", i%5)
		}
		if i%3 != 2 {
			ev.Data = bytes.Repeat([]byte{byte(i)}, 1+i%17)
		}
		_, err := es.Store(ev)
		require.NoError(t, err)
	}
	var buf foundation.EventBuffer
	for _, q := range []foundation.Query{
		{Limit: 300}, {Type: "t2", Limit: 10}, {Type: "t0", Descending: true}, {CorrelationID: "c1", Limit: 7},
		{Type: "t2"}, {Limit: 1}, {Type: "t1", CorrelationID: "c3"}, {Type: "nope"}, {Descending: true},
	} {
		want, err := es.Query(q)
		require.NoError(t, err)
		got, err := es.QueryInto(&buf, q)
		require.NoError(t, err)
		require.Equal(t, want, got, "%+v", q)
		for i := range got {
			if len(got[i].Data) == 0 {
				continue
			}
			require.Equal(t, len(got[i].Data), cap(got[i].Data), "Data is capped")
			got[i].Data[0] ^= 0xff
			got[i].Data = append(got[i].Data, 1, 2, 3)
		}
		again, err := es.Query(q)
		require.NoError(t, err)
		require.Equal(t, want, again, "writes to a page changed the store: %+v", q)
	}
	// The next use overwrites the page (the documented contract).
	first, err := es.QueryInto(&buf, foundation.Query{Type: "t0", Limit: 1})
	require.NoError(t, err)
	id := first[0].ID
	_, err = es.QueryInto(&buf, foundation.Query{Type: "t1", Limit: 1})
	require.NoError(t, err)
	assert.NotEqual(t, id, first[0].ID)
	buf.Reset()
	got, err := es.QueryInto(&buf, foundation.Query{Limit: 5})
	require.NoError(t, err)
	assert.Len(t, got, 5)
}

// TestQueryIntoAllocs: QueryInto allocates nothing once its buffer has
// grown (events in memory).
func TestQueryIntoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	f, _ := newStore(t, 4096, nil)
	es := f.Events()
	for i := range 2000 {
		_, err := es.Store(foundation.Event{Type: fmt.Sprint("t", i%4), CorrelationID: fmt.Sprint("c", i%9), Data: make([]byte, 64)})
		require.NoError(t, err)
	}
	var buf foundation.EventBuffer
	q := foundation.Query{Type: "t1", Limit: 100, Descending: true}
	_, err := es.QueryInto(&buf, q)
	require.NoError(t, err)
	n := testing.AllocsPerRun(200, func() {
		if evs, err := es.QueryInto(&buf, q); err != nil || len(evs) != 100 {
			panic(errors.New("query failed"))
		}
	})
	assert.Zero(t, n)
}

// TestQueryIntoStringsNeverChange: the strings of a page stay what they were
// after the buffer is reused and after their events left the store (a
// string backed by the buffer would change with the next page).
func TestQueryIntoStringsNeverChange(t *testing.T) {
	f, _ := newStore(t, 64, nil)
	es := f.Events()
	for i := range 64 {
		_, err := es.Store(foundation.Event{Type: fmt.Sprint("type-", i%2), CorrelationID: fmt.Sprintf("corr-%03d", i), Data: []byte{byte(i)}})
		require.NoError(t, err)
	}
	var buf foundation.EventBuffer
	page, err := es.QueryInto(&buf, foundation.Query{Limit: 64})
	require.NoError(t, err)
	kept := map[string]string{} // the strings as a caller keeps them: map keys
	for _, ev := range page {
		kept[ev.CorrelationID] = ev.Type
	}
	for round := range 3 { // later pages over the same buffer; new events evict the old
		for i := range 64 {
			_, err := es.Store(foundation.Event{Type: "other", CorrelationID: fmt.Sprintf("xxxx-%d%02d", round, i), Data: []byte{0xee}})
			require.NoError(t, err)
		}
		_, err := es.QueryInto(&buf, foundation.Query{Limit: 64})
		require.NoError(t, err)
		runtime.GC()
	}
	require.Len(t, kept, 64)
	for i := range 64 {
		typ, ok := kept[fmt.Sprintf("corr-%03d", i)]
		require.True(t, ok, "corr-%03d changed", i)
		require.Equal(t, fmt.Sprint("type-", i%2), typ)
	}
}
