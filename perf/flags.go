package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// usageError is bad input: a flag, a value, an output folder. main exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// op is one kind of operation of the workload.
type op int

// The operations, in table order.
const (
	opGet op = iota
	opUpdate
	opStore
	opQueryType
	opQueryCorr
	opExecute
	opCounter
	opHistogram
	numOps
)

// opNames are the names used by -mix and in the tables.
var opNames = [numOps]string{"get", "update", "store", "query_type", "query_corr", "execute", "counter", "histogram"}

func (o op) String() string { return opNames[o] }

// defaultMix is mostly config reads, then event stores and telemetry, a few
// queries and a trickle of config updates (each update also stores a
// config_updated event and notifies subscribers).
const defaultMix = "get=55,store=15,execute=12,counter=7,histogram=7,query_type=1.5,query_corr=2.5,update=0.05"

// defaultSubBuffer is the buffer of the harness's event subscriber. In a
// closed loop the workers keep every P busy and the draining goroutine runs
// only when the scheduler preempts one (about every 10 ms); the buffer holds
// the events stored meanwhile. maxSubBuffer caps -sub-buffer (each buffered
// event is a copy of the event).
const (
	defaultSubBuffer = 1 << 16
	maxSubBuffer     = 1 << 16
)

// allProfiles are the profiles -profiles accepts, in the order they are written.
var allProfiles = []string{"cpu", "heap", "allocs", "mutex", "block", "goroutine", "trace"}

// options are the parsed flags.
type options struct {
	duration  time.Duration
	workers   int
	mix       [numOps]float64 // weights, summing to 1
	mixText   string
	rate      float64 // total target ops/s; 0 = closed loop
	capacity  int     // event capacity; 0 = the target's default
	out       string
	profiles  map[string]bool
	compare   bool
	http      string
	seed      uint64
	subBuffer int      // the event subscriber's buffer, in events
	runs      int      // calibration runs per operation for allocs/op
	args      []string // as given, for the summary
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("perf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{args: args}
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run the workload (per target with -compare)")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "number of worker goroutines")
	fs.StringVar(&o.mixText, "mix", defaultMix, "operation weights, `name=weight,...`; names: "+strings.Join(opNames[:], ", "))
	fs.Float64Var(&o.rate, "rate", 0, "target total `ops/s`, open loop (latency from the intended start); 0 = closed loop, as fast as possible")
	fs.IntVar(&o.capacity, "capacity", 0, "event store capacity (storage.hot.max_events); 0 = the default (100,000)")
	fs.StringVar(&o.out, "out", "perf-out", "output `folder` for the profiles, pictures and summary.md")
	profiles := fs.String("profiles", strings.Join(allProfiles, ","), "profiles to take, comma-separated: "+strings.Join(allProfiles, ",")+"; or none")
	fs.BoolVar(&o.compare, "compare", false, "also run the same workload on the GenServer port (bench/genserver) and compare")
	fs.StringVar(&o.http, "http", "", "serve live pprof (net/http/pprof) on this `address` while running, e.g. localhost:6060")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the workers' random choices")
	fs.IntVar(&o.subBuffer, "sub-buffer", defaultSubBuffer, "buffer of the subscriber that drains the event stream, in `events` (at most 65536)")
	fs.IntVar(&o.runs, "allocs-runs", 2000, "times each operation runs alone after the workload to measure allocs/op (a tenth for queries and updates)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./perf [flags]\n\nA mixed workload over an embedded Foundation, with profiles, pictures and a summary.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments: %q", fs.Args())
	}
	if o.duration <= 0 {
		return nil, usagef("-duration must be > 0, got %v", o.duration)
	}
	if o.workers <= 0 {
		return nil, usagef("-workers must be > 0, got %d", o.workers)
	}
	if o.workers > 10_000 {
		return nil, usagef("-workers %d: at most 10000", o.workers)
	}
	if math.IsNaN(o.rate) || math.IsInf(o.rate, 0) || o.rate < 0 {
		return nil, usagef("-rate must be >= 0 (0 = closed loop), got %v", o.rate)
	}
	if o.runs <= 0 {
		return nil, usagef("-allocs-runs must be > 0, got %d", o.runs)
	}
	if o.subBuffer <= 0 || o.subBuffer > maxSubBuffer {
		return nil, usagef("-sub-buffer must be in 1..%d, got %d", maxSubBuffer, o.subBuffer)
	}
	if o.capacity < 0 {
		return nil, usagef("-capacity must be >= 0, got %d", o.capacity)
	}
	if o.out == "" {
		return nil, usagef("-out must not be empty")
	}
	mix, err := parseMix(o.mixText)
	if err != nil {
		return nil, usageError{err}
	}
	o.mix = mix
	o.profiles, err = parseProfiles(*profiles)
	if err != nil {
		return nil, usageError{err}
	}
	return o, nil
}

// parseMix parses "name=weight,..." into weights that sum to 1. Weights are
// non-negative numbers (fractions allowed); unnamed operations get 0.
func parseMix(s string) ([numOps]float64, error) {
	var w [numOps]float64
	var seen [numOps]bool
	total := 0.0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return w, fmt.Errorf("-mix: %q is not name=weight", part)
		}
		name = strings.TrimSpace(name)
		i := slices.Index(opNames[:], name)
		if i < 0 {
			return w, fmt.Errorf("-mix: unknown operation %q (known: %s)", name, strings.Join(opNames[:], ", "))
		}
		if seen[i] {
			return w, fmt.Errorf("-mix: %q given twice", name)
		}
		seen[i] = true
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return w, fmt.Errorf("-mix: weight of %q must be a number >= 0, got %q", name, val)
		}
		w[i] = f
		total += f
	}
	if total <= 0 {
		return w, fmt.Errorf("-mix %q: no operation has a weight > 0", s)
	}
	for i := range w {
		w[i] /= total
	}
	return w, nil
}

func parseProfiles(s string) (map[string]bool, error) {
	m := map[string]bool{}
	if strings.TrimSpace(s) == "none" {
		return m, nil
	}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allProfiles, p) {
			return nil, fmt.Errorf("-profiles: unknown profile %q (known: %s, or none)", p, strings.Join(allProfiles, ","))
		}
		m[p] = true
	}
	return m, nil
}

// prepareOut creates the output folder and checks that a file can be
// written in it, so that a bad -out fails before any work.
func prepareOut(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: cannot create the output folder: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".perf-probe-*")
	if err != nil {
		return fmt.Errorf("-out %s: cannot write in the output folder: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	return nil
}
