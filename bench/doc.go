// Package bench compares foundation with the GenServer port of the design
// documents and with the peers a Go user would pick, operation by operation
// of the documents' latency table. The benchmark bodies live in
// bench/suite; run them with go test -bench . here, or print the table with
// go run ./cmd/seedtable.
package bench
