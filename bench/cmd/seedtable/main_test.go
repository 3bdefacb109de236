package main

import (
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/bench/suite"
)

// TestVariants: a foundation variant ("foundation-into") is compared with
// foundation, the mutex design and the other designs' same variant
// ("mutex-into"); that peer is not foundation's best other implementation,
// since it works under the variant's contract.
func TestVariants(t *testing.T) {
	res := func(impl string, ns1, ns2 int) *result {
		r := &result{c: suite.Case{Op: "Events.query", Impl: impl}, ran: [2]bool{true, true}}
		r.r[0] = testing.BenchmarkResult{N: 1000, T: time.Duration(ns1) * 1000}
		r.r[1] = testing.BenchmarkResult{N: 1000, T: time.Duration(ns2) * 1000}
		return r
	}
	results := []*result{
		res("foundation", 10000, 8000),
		res("foundation-into", 2000, 1000),
		res("genserver", 9000, 12000),
		res("mutex", 8000, 4000),
		res("mutex-into", 1000, 500),
	}
	var b strings.Builder
	print(&b, results, []int{1, 2}, 200*time.Millisecond)
	out := b.String()
	for _, want := range []string{
		"| Events.query | 20.0× / 25.0× | 1.11× / 0.67× | mutex / mutex | 1.25× / 2.00× |",
		"| Events.query | foundation-into | 0.20× / 0.12× | 0.25× / 0.25× | mutex-into 2.00× / 2.00× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if variantPeer(results, "Events.query", "mutex") || !variantPeer(results, "Events.query", "mutex-into") ||
		variantPeer(results, "Events.query", "foundation-into") {
		t.Error("variantPeer")
	}
}
