package foundation_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/elixirscope-go/foundation"
)

func ExampleEventStore_Query() {
	clk := foundation.NewManualClock(time.Unix(1_700_000_000, 0))
	f, err := foundation.New(foundation.WithClock(clk))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	es := f.Events()

	id, _ := es.Store(foundation.Event{Type: "login", CorrelationID: "req-1", Data: []byte(`{"user":"ada"}`)})
	_, _ = es.StoreBatch([]foundation.Event{
		{Type: "query", CorrelationID: "req-1"},
		{Type: "login", CorrelationID: "req-2"},
		{Type: "logout", CorrelationID: "req-1"},
	})
	ev, _ := es.Get(id)
	fmt.Println(ev.ID, ev.Type, string(ev.Data), time.Unix(0, ev.Time).UTC().Format(time.RFC3339))

	// IDs are unique, not consecutive: stores on different cores take them
	// from blocks of their own. Results are in (Time, ID) order.
	clk.Add(time.Second)
	_, _ = es.Store(foundation.Event{Type: "login", CorrelationID: "req-3"})
	logins, _ := es.Query(foundation.Query{Type: "login", Descending: true})
	for _, e := range logins {
		fmt.Println("login", e.CorrelationID)
	}
	page, _ := es.Query(foundation.Query{CorrelationID: "req-1", Limit: 2, Offset: 1})
	for _, e := range page {
		fmt.Println("req-1 page", e.Type)
	}
	_, err = es.Query(foundation.Query{Limit: -1})
	fmt.Println(err != nil)
	st := es.Stats()
	fmt.Println(st.Stored, st.Len)
	// Output:
	// 1 login {"user":"ada"} 2023-11-14T22:13:20Z
	// login req-3
	// login req-2
	// login req-1
	// req-1 page query
	// req-1 page logout
	// true
	// 5 5
}

// Paging through every event of a type with one reused buffer: each page
// is written over the last, so the loop allocates nothing once the buffer
// has grown to a page. What must outlive a page is copied out.
func ExampleEventStore_QueryInto() {
	clk := foundation.NewManualClock(time.Unix(1_700_000_000, 0))
	f, err := foundation.New(foundation.WithClock(clk))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	es := f.Events()
	for i := range 10 {
		clk.Add(time.Second)
		_, _ = es.Store(foundation.Event{Type: "order", Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}

	var buf foundation.EventBuffer
	q := foundation.Query{Type: "order", Limit: 4, Descending: true}
	var newest []byte
	for {
		page, err := es.QueryInto(&buf, q)
		if err != nil {
			panic(err)
		}
		for i, e := range page {
			if i > 0 {
				fmt.Print(" ")
			}
			fmt.Print(string(e.Data))
		}
		fmt.Println()
		if newest == nil && len(page) > 0 {
			newest = bytes.Clone(page[0].Data) // the next page overwrites page
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Cursor()
	}
	fmt.Println("newest:", string(newest))
	// Output:
	// {"n":9} {"n":8} {"n":7} {"n":6}
	// {"n":5} {"n":4} {"n":3} {"n":2}
	// {"n":1} {"n":0}
	// newest: {"n":9}
}

func ExampleEventStore_Subscribe() {
	f, err := foundation.New()
	if err != nil {
		panic(err)
	}
	defer f.Close()
	es := f.Events()

	sub := es.Subscribe(foundation.Query{Type: "error"})
	defer sub.Close()
	_, _ = es.Store(foundation.Event{Type: "info", Data: []byte("fine")})
	_, _ = es.Store(foundation.Event{Type: "error", Data: []byte("disk full")})

	e := <-sub.C()
	fmt.Println(e.ID, e.Type, string(e.Data), sub.Dropped())
	// Output:
	// 2 error disk full 0
}
