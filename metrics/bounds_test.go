package metrics

import (
	"math"
	"slices"
	"testing"
)

func TestDefaultBounds(t *testing.T) {
	b := DefaultBounds(DefaultLowest, DefaultHighest)
	if len(b) != 39 || b[0] != 1 || b[len(b)-1] < float64(DefaultHighest) || !slices.IsSorted(b) {
		t.Fatalf("DefaultBounds(1ns, 1h) = %v", b)
	}
	if got := DefaultBounds(1000, 3000); !slices.Equal(got, []float64{1000, 2000, 5000}) {
		t.Fatalf("DefaultBounds(1000, 3000) = %v", got)
	}
	if got := DefaultBounds(0, -5); !slices.Equal(got, []float64{1}) {
		t.Fatalf("DefaultBounds(0, -5) = %v", got)
	}
}

func TestCheckBounds(t *testing.T) {
	for _, bad := range [][]float64{nil, {1, 1}, {2, 1}, {1, math.NaN()}, {math.Inf(1)}} {
		if CheckBounds(bad) == nil {
			t.Errorf("CheckBounds(%v) = nil", bad)
		}
	}
	if err := CheckBounds([]float64{0.5, 1, 10}); err != nil {
		t.Error(err)
	}
}
