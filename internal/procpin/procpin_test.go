package procpin

import (
	"runtime"
	"testing"
)

func TestIDInRange(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	for i := 0; i < 1000; i++ {
		if id := ID(); id < 0 || id >= n {
			t.Fatalf("ID() = %d, GOMAXPROCS %d", id, n)
		}
	}
}

func BenchmarkID(b *testing.B) {
	s := 0
	for i := 0; i < b.N; i++ {
		s += ID()
	}
	_ = s
}
