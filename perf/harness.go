package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // the harness (never the library) serves live pprof with -http
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Profiling rates while a run is measured: one blocking event sampled per
// 10 µs spent blocked, one mutex contention event in 10.
const (
	blockProfileRate     = 10_000
	mutexProfileFraction = 10
)

// opResult is one operation's measurements in a run.
type opResult struct {
	count     int64
	errors    uint64
	lastErr   error
	hist      *hdrhistogram.Histogram // merged over the workers
	allocs    float64                 // heap allocations per op, run alone
	bytes     float64                 // heap bytes per op, run alone
	calibrate bool                    // allocs and bytes were measured
}

// result is one target's run.
type result struct {
	target      string
	dir         string // where its files are
	elapsed     time.Duration
	interrupted bool
	ops         [numOps]opResult
	total       int64
	timeline    []sample

	mallocs, allocBytes  uint64 // during the run, all goroutines
	gcCount              uint32
	gcTotal, gcMax       time.Duration
	heapInUse, heapAfter uint64
	sub                  subStats
	files                []string // written, relative to dir
	notes                []string // problems worth telling (a profile that could not be taken, ...)
}

// execute runs the workload on every target and writes the report. opts is
// already checked and the output folder writable.
func execute(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	if o.http != "" {
		ln, err := net.Listen("tcp", o.http)
		if err != nil {
			return usagef("-http %s: %v", o.http, err)
		}
		srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		fmt.Fprintf(stderr, "perf: live pprof on http://%s/debug/pprof/\n", ln.Addr())
	}

	mk := []func() (target, error){func() (target, error) { return newFoundationTarget(o.capacity) }}
	if o.compare {
		mk = append(mk, func() (target, error) { return newGenserverTarget(o.capacity), nil })
	}
	var results []*result
	for i, m := range mk {
		if ctx.Err() != nil {
			break
		}
		t, err := m()
		if err != nil {
			return fmt.Errorf("starting the target: %w", err)
		}
		dir := o.out
		if i > 0 {
			dir = filepath.Join(o.out, t.name())
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.close()
				return err
			}
		}
		r, err := runTarget(ctx, t, o, dir, stderr)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return errors.New("interrupted before any measurement")
	}
	var sb bytes.Buffer
	writeReport(&sb, o, results)
	if _, err := stdout.Write(sb.Bytes()); err != nil {
		return err
	}
	if err := writeSummary(o, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "perf: wrote %s\n", filepath.Join(o.out, "summary.md"))
	if results[len(results)-1].interrupted {
		fmt.Fprintln(stderr, "perf: interrupted; the report covers the time measured")
	}
	return nil
}

// runTarget runs the workload on t, with the profiles o asks for, writes the
// target's files in dir and closes t.
func runTarget(ctx context.Context, t target, o *options, dir string, stderr io.Writer) (*result, error) {
	defer t.close()
	r := &result{target: t.name(), dir: dir}
	t.bind(counterNames, histogramNames)
	stopSubs := t.subscribe(o.subBuffer)

	path := func(name string) string { return filepath.Join(dir, name) }
	prof := o.profiles

	// Cumulative profiles (allocs, block, mutex) are written as the
	// difference between their end and their start, so that each file
	// covers this run only.
	var baseAllocs, baseBlock, baseMutex []byte
	if prof["block"] {
		runtime.SetBlockProfileRate(blockProfileRate)
		baseBlock = profileBytes("block")
	}
	if prof["mutex"] {
		runtime.SetMutexProfileFraction(mutexProfileFraction)
		baseMutex = profileBytes("mutex")
	}
	if prof["allocs"] {
		baseAllocs = profileBytes("allocs")
	}

	var cpuFile *os.File
	if prof["cpu"] {
		f, err := os.Create(path("cpu.pprof"))
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			os.Remove(f.Name())
			r.notes = append(r.notes, "cpu profile not taken: "+err.Error())
		} else {
			cpuFile = f
		}
	}

	// The execution trace covers a window in the middle of the run (at
	// most 2 s), so the file stays small and shows the steady state.
	tr := &traceWindow{path: path("trace.out")}
	if prof["trace"] {
		window := min(2*time.Second, o.duration/2)
		tr.schedule((o.duration-window)/2, window)
	}

	bar := newProgress(stderr, t.name(), o.duration)
	var goroutines []byte
	var prev sample
	tick := func(s sample) {
		if prof["goroutine"] && goroutines == nil && s.at >= o.duration/2 {
			goroutines = profileBytes("goroutine")
		}
		var n, pn uint64
		for i := range s.counts {
			n += s.counts[i]
			pn += prev.counts[i]
		}
		dt := s.at - prev.at
		if dt < 50*time.Millisecond { // the last, partial interval: too short to tell a rate
			return
		}
		bar.update(s.at, float64(n-pn)/dt.Seconds())
		prev = s
	}

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	workers, timeline, elapsed, interrupted := runWorkload(ctx, t, o, tick)
	runtime.ReadMemStats(&m1)
	bar.done(elapsed, interrupted)
	tr.stop()
	if cpuFile != nil {
		pprof.StopCPUProfile()
		if err := cpuFile.Close(); err != nil {
			return nil, err
		}
		r.files = append(r.files, "cpu.pprof")
	}
	if prof["goroutine"] && goroutines == nil {
		goroutines = profileBytes("goroutine")
	}
	r.sub = stopSubs()

	r.elapsed, r.interrupted, r.timeline = elapsed, interrupted, timeline
	r.mallocs = m1.Mallocs - m0.Mallocs
	r.allocBytes = m1.TotalAlloc - m0.TotalAlloc
	r.gcCount = m1.NumGC - m0.NumGC
	r.gcTotal = time.Duration(m1.PauseTotalNs - m0.PauseTotalNs)
	// PauseNs holds the last 256 pauses: the largest of this run's that are
	// still there (all of them unless the run had more than 256 cycles).
	first := m0.NumGC + 1
	if m1.NumGC >= 256 && first < m1.NumGC-255 {
		first = m1.NumGC - 255
	}
	for i := first; i <= m1.NumGC; i++ {
		r.gcMax = max(r.gcMax, time.Duration(m1.PauseNs[(i+255)%256]))
	}
	r.heapInUse = m1.HeapInuse
	for i := range r.ops {
		h := hdrhistogram.New(histLowest, histHighest, histSigFigs)
		for _, w := range workers {
			h.Merge(w.hist[i])
			r.ops[i].errors += w.errs[i]
			if w.lastErr[i] != nil {
				r.ops[i].lastErr = w.lastErr[i]
			}
		}
		r.ops[i].hist = h
		r.ops[i].count = h.TotalCount()
		r.total += h.TotalCount()
	}

	// Profiles of what the run left: the heap holds the store's events.
	if prof["heap"] {
		runtime.GC()
		if err := writeProfile(path("heap.pprof"), profileBytes("heap")); err != nil {
			return nil, err
		}
		r.files = append(r.files, "heap.pprof")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.heapAfter = ms.HeapInuse
	for _, p := range []struct {
		name string
		base []byte
	}{{"allocs", baseAllocs}, {"block", baseBlock}, {"mutex", baseMutex}} {
		if !prof[p.name] {
			continue
		}
		data, err := diffProfile(profileBytes(p.name), p.base)
		if err != nil {
			r.notes = append(r.notes, fmt.Sprintf("%s profile: %v (written whole, since program start)", p.name, err))
			data = profileBytes(p.name)
		}
		if err := writeProfile(path(p.name+".pprof"), data); err != nil {
			return nil, err
		}
		r.files = append(r.files, p.name+".pprof")
	}
	if prof["block"] {
		runtime.SetBlockProfileRate(0)
	}
	if prof["mutex"] {
		runtime.SetMutexProfileFraction(0)
	}
	if goroutines != nil {
		if err := writeProfile(path("goroutine.pprof"), goroutines); err != nil {
			return nil, err
		}
		r.files = append(r.files, "goroutine.pprof")
	}
	if prof["trace"] {
		if err := tr.err(); err != nil {
			r.notes = append(r.notes, "execution trace not taken: "+err.Error())
		} else if tr.started() {
			r.files = append(r.files, "trace.out")
		} else {
			r.notes = append(r.notes, "execution trace not taken: the run ended before its window")
		}
	}

	// Allocations per operation, each run alone on one goroutine.
	calibrate(t, o, r)

	if err := writePlots(r); err != nil {
		return nil, fmt.Errorf("writing the pictures: %w", err)
	}
	return r, nil
}

// calibrate measures the heap allocations of each operation of the mix run
// alone, -allocs-runs times in a row, on a fresh worker (whole process: the GenServer
// port's servers allocate on their callers' behalf).
func calibrate(t target, o *options, r *result) {
	w := newWorker(o.workers, t, o)
	for i := range numOps {
		if o.mix[i] == 0 {
			continue
		}
		n := o.runs
		if i == opQueryType || i == opQueryCorr || i == opUpdate {
			n = max(1, n/10)
		}
		_ = w.do(i) // warm up: first-use lookups
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		for range n {
			_ = w.do(i)
		}
		runtime.ReadMemStats(&b)
		r.ops[i].allocs = float64(b.Mallocs-a.Mallocs) / float64(n)
		r.ops[i].bytes = float64(b.TotalAlloc-a.TotalAlloc) / float64(n)
		r.ops[i].calibrate = true
	}
}

// profileBytes returns the named runtime/pprof profile in its protobuf form.
func profileBytes(name string) []byte {
	var b bytes.Buffer
	_ = pprof.Lookup(name).WriteTo(&b, 0)
	return b.Bytes()
}

func writeProfile(path string, data []byte) error {
	return os.WriteFile(path, data, 0o644)
}

// traceWindow takes an execution trace between two moments of a run.
type traceWindow struct {
	path string
	mu   sync.Mutex
	f    *os.File
	on   bool
	e    error
	done bool
	t    *time.Timer
}

// schedule starts the trace after delay and stops it after length.
func (tw *traceWindow) schedule(delay, length time.Duration) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.t = time.AfterFunc(delay, func() {
		tw.mu.Lock()
		defer tw.mu.Unlock()
		if tw.done {
			return
		}
		f, err := os.Create(tw.path)
		if err != nil {
			tw.e = err
			return
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			os.Remove(tw.path)
			tw.e = err
			return
		}
		tw.f, tw.on = f, true
		tw.t = time.AfterFunc(length, tw.stop)
	})
}

// stop ends the trace if it is on and cancels it if it has not started.
func (tw *traceWindow) stop() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.done {
		return
	}
	tw.done = true
	if tw.t != nil {
		tw.t.Stop()
	}
	if tw.on {
		trace.Stop()
		if err := tw.f.Close(); err != nil && tw.e == nil {
			tw.e = err
		}
	}
}

func (tw *traceWindow) started() bool { tw.mu.Lock(); defer tw.mu.Unlock(); return tw.on }
func (tw *traceWindow) err() error    { tw.mu.Lock(); defer tw.mu.Unlock(); return tw.e }
