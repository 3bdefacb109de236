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

func TestRealUnixNanoMatchesNow(t *testing.T) {
	c := Real()
	u := UnixNanoFunc(c)
	last := u()
	for i := 0; i < 10000; i++ {
		before := time.Now().UnixNano()
		got := u()
		after := time.Now().UnixNano()
		if got < before-int64(time.Millisecond) || got > after+int64(time.Millisecond) {
			t.Fatalf("UnixNano() = %d, outside [%d, %d]", got, before, after)
		}
		if got < last {
			t.Fatalf("went back: %d after %d", got, last)
		}
		last = got
	}
}

func TestUnixNanoFuncOfManual(t *testing.T) {
	at := time.Unix(100, 5)
	m := NewManual(at)
	u := UnixNanoFunc(m)
	if got := u(); got != at.UnixNano() {
		t.Fatalf("got %d, want %d", got, at.UnixNano())
	}
	m.Add(time.Second)
	if got := u(); got != at.Add(time.Second).UnixNano() {
		t.Fatalf("after Add: got %d", got)
	}
}

func BenchmarkRealUnixNano(b *testing.B) {
	c := Real()
	u := UnixNanoFunc(c)
	b.Run("Now().UnixNano", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += c.Now().UnixNano()
		}
		_ = s
	})
	b.Run("UnixNano", func(b *testing.B) {
		var s int64
		for i := 0; i < b.N; i++ {
			s += u()
		}
		_ = s
	})
}
