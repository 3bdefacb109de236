package clock

import (
	"testing"
	"time"
)

func TestRealNowFollowsTheWallClock(t *testing.T) {
	c := Real()
	for i := 0; i < 1000; i++ {
		before := time.Now()
		got := c.Now()
		after := time.Now()
		// Derived from a monotonic anchor: within a millisecond of the wall
		// clock read around it (no wall step happens during a test).
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("Now() = %v, outside [%v, %v]", got, before, after)
		}
	}
}

func TestRealNowIsMonotonic(t *testing.T) {
	c := Real()
	last := c.Now()
	for i := 0; i < 10000; i++ {
		n := c.Now()
		if n.Before(last) {
			t.Fatalf("went back: %v after %v", n, last)
		}
		last = n
	}
}

func TestManualTimers(t *testing.T) {
	m := NewManual(time.Unix(0, 0))
	a, b := m.NewTimer(2*time.Second), m.NewTimer(time.Second)
	if m.Waiters() != 2 {
		t.Fatalf("waiters %d", m.Waiters())
	}
	m.Add(time.Second)
	select {
	case <-b.C():
	default:
		t.Fatal("1s timer did not fire")
	}
	if !a.Stop() || a.Stop() {
		t.Fatal("Stop of a pending timer must report true once")
	}
	if m.Waiters() != 0 {
		t.Fatalf("waiters %d after stop", m.Waiters())
	}
	if z := m.NewTimer(0); len(z.C()) != 1 {
		t.Fatal("zero timer must fire at once")
	}
}

func BenchmarkRealNow(b *testing.B) {
	c := Real()
	var s int64
	for i := 0; i < b.N; i++ {
		s += c.Now().UnixNano()
	}
	_ = s
}

func BenchmarkTimeNow(b *testing.B) {
	var s int64
	for i := 0; i < b.N; i++ {
		s += time.Now().UnixNano()
	}
	_ = s
}
