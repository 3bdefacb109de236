package cfgsnap

import (
	"math"
	"testing"
)

// Subscribe caps the buffer a caller asks for: a huge one is
// MaxSubscribeBuffer (no panic, no memory beyond the cap), a negative one
// is 0, and the capped subscription still receives changes.
func TestSubscribeBufferCapped(t *testing.T) {
	st := open(t, Config[testCfg]{})
	for _, c := range []struct{ ask, want int }{
		{math.MaxInt, MaxSubscribeBuffer}, {MaxSubscribeBuffer + 1, MaxSubscribeBuffer},
		{MaxSubscribeBuffer, MaxSubscribeBuffer}, {8, 8}, {0, 0}, {-1, 0}, {math.MinInt, 0},
	} {
		s := st.Subscribe(c.ask)
		if got := cap(s.C()); got != c.want {
			t.Errorf("Subscribe(%d): buffer %d, want %d", c.ask, got, c.want)
		}
		s.Close()
	}
	s := st.Subscribe(math.MaxInt)
	defer s.Close()
	if _, err := st.Update("count", 7); err != nil {
		t.Fatal(err)
	}
	if ch := <-s.C(); ch.Path != "count" || ch.New != 7 {
		t.Fatalf("got %+v", ch)
	}
}
