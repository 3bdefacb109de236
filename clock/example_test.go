package clock_test

import (
	"fmt"
	"time"

	"github.com/elixirscope-go/foundation/clock"
)

// A Manual clock moves only when told to; a timer made on it fires when the
// clock reaches its deadline.
func ExampleManual() {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	m := clock.NewManual(start)
	t := m.NewTimer(time.Minute)

	m.Add(30 * time.Second)
	select {
	case <-t.C():
		fmt.Println("fired early")
	default:
		fmt.Println("pending at", m.Now().Format(time.TimeOnly))
	}

	m.Add(30 * time.Second)
	fmt.Println("fired at", (<-t.C()).Format(time.TimeOnly))
	// Output:
	// pending at 03:04:35
	// fired at 03:05:05
}

// Real is the system clock; code that takes a Clock uses it in production.
func ExampleReal() {
	c := clock.Real()
	t := c.NewTimer(time.Millisecond)
	<-t.C()
	fmt.Println(!c.Now().IsZero())
	// Output: true
}
