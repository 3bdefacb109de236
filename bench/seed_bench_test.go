package bench

import (
	"testing"

	"github.com/elixirscope-go/foundation/bench/suite"
)

// One benchmark per row of the seed table; sub-benchmarks
// impl=<implementation>/{serial,parallel}. Run with -cpu 1,2.

func BenchmarkConfigGet(b *testing.B)           { suite.RunOp(b, "Config.get") }
func BenchmarkConfigUpdate(b *testing.B)        { suite.RunOp(b, "Config.update") }
func BenchmarkEventsStore(b *testing.B)         { suite.RunOp(b, "Events.store") }
func BenchmarkEventsQuery(b *testing.B)         { suite.RunOp(b, "Events.query") }
func BenchmarkTelemetryExecute(b *testing.B)    { suite.RunOp(b, "Telemetry.execute") }
func BenchmarkTelemetryGetMetrics(b *testing.B) { suite.RunOp(b, "Telemetry.get_metrics") }

func TestEveryRowHasFoundationAndGenServer(t *testing.T) {
	for _, op := range suite.Ops {
		impls := map[string]bool{}
		for _, c := range suite.For(op.Name) {
			impls[c.Impl] = true
		}
		if !impls["foundation"] || !impls["genserver"] || !impls["mutex"] {
			t.Errorf("%s: implementations %v lack foundation, genserver or mutex", op.Name, impls)
		}
	}
}
