// Package bench compares foundation with the GenServer port of the
// ElixirScope Foundation design (bench/genserver) and with the peers a Go
// user would pick, operation by operation of the seed latency table (the
// design's targets, in bench/suite's Ops). The benchmark bodies live in
// bench/suite; run them with go test -bench . here, or print the table with
// go run ./cmd/seedtable. scripts/perf.sh at the repository root runs these
// and every other benchmark that PERF.md cites, and cmd/perftables fills
// PERF.md's tables from its output.
package bench
