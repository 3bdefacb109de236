// Command perf is the profiling harness of foundation: it runs a realistic
// mixed workload over an embedded default Foundation and writes what tells
// where the time goes.
//
// From the repository root:
//
//	go run ./perf                               # about 20 s, GOMAXPROCS workers
//	go run ./perf -duration 10s -compare        # the same workload on the GenServer port too
//	go run ./perf -rate 200000 -http :6060      # open loop at 200k ops/s, live pprof
//
// # What it measures
//
// Every worker picks operations at random by the weights of -mix: config
// reads (get), config updates (update), event stores with a type and a
// correlation id (store), queries by type (query_type) and by correlation id
// (query_corr), telemetry executes (execute), bound counter adds (counter)
// and histogram records (histogram). A subscriber drains the event stream
// (through a buffer of -sub-buffer events) and another the config changes,
// as an application would; the report says how many events each received
// and how many it missed because its buffer was full (a store never waits
// for a subscriber, so a missed event is still stored).
//
// The latency of every operation goes into a per-worker HDR histogram. In a
// closed loop (-rate 0, the default) each worker runs as fast as it can and
// latency is the operation's own time. With -rate, the workers share a
// target rate and latency is measured from each operation's intended start
// time, so that a stall shows up in every operation it delayed instead of
// being hidden by coordinated omission.
//
// # What it writes
//
// In the folder -out (default ./perf-out): cpu.pprof, heap.pprof,
// allocs.pprof, mutex.pprof, block.pprof, goroutine.pprof (each opens with
// `go tool pprof -top`), trace.out (a 2 s window of the execution trace, for
// `go tool trace`), latency.png (percentile curves per operation),
// throughput.png (operations per second over time), and summary.md with the
// table, linking the rest. With -compare, the GenServer run's files go to
// out/genserver/ and summary.md gains a side-by-side table.
//
// Progress goes to stderr: a bar redrawn in place on a terminal, a line
// every few seconds when stderr is a file or a pipe.
//
// Ctrl-C stops the run early; what was measured until then is still written.
package main

// doccheck: the package doc's code block 1 holds shell commands, not Go
// (docs_test.go in the repository root builds the Go ones).
//
// text: 1

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run is the whole harness: parse args, check them, run the workload on each
// target, write the report. It returns a [usageError] for bad input, found
// before any work starts. stdout gets the tables, stderr the progress bar.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if err := prepareOut(opts.out); err != nil {
		return usageError{err}
	}
	return execute(ctx, opts, stdout, stderr)
}
