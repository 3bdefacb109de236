package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/elixirscope-go/foundation"
)

// Latency histograms cover 1 ns to 100 s with 3 significant figures;
// slower values are clamped to the top (and still counted).
const (
	histLowest  = 1
	histHighest = int64(100 * time.Second)
	histSigFigs = 3
)

// The workload's vocabulary: event types, telemetry event names, counter and
// histogram names. Names are fixed so that no operation builds a string.
var (
	eventTypes = []string{"function_entry", "function_exit", "state_change", "message_send",
		"message_receive", "process_spawn", "process_exit", "error"}
	executeNames   = []string{"perf.http.request", "perf.db.query", "perf.cache.lookup", "perf.rpc.call"}
	counterNames   = []string{"perf.requests", "perf.cache_hits", "perf.cache_misses", "perf.retries"}
	histogramNames = []string{"perf.request_ns", "perf.payload_bytes", "perf.queue_ns", "perf.batch_size"}
)

// eventsPerCorrelation is how many consecutive stores of a worker share a
// correlation id (a request that emits a few events); corrPool is how many
// ids each worker cycles through.
const (
	eventsPerCorrelation = 8
	corrPool             = 1 << 14
)

// worker is one workload goroutine's state. Only its own goroutine touches it
// during the run, except counts, which the sampler reads.
type worker struct {
	id      int
	t       target
	rng     *rand.Rand
	cum     [numOps]float64 // cumulative mix weights
	hist    [numOps]*hdrhistogram.Histogram
	errs    [numOps]uint64
	lastErr [numOps]error
	corr    []string // this worker's correlation ids
	corrIdx int
	inCorr  int
	payload []byte
	mds     []foundation.Metadata // read-only metadata per execute name
	updates uint64
	sink    float64 // keeps config reads observable

	_      [64]byte // keep the sampled counts off the lines above
	counts [numOps]atomic.Uint64
	_      [64]byte
}

func newWorker(id int, t target, o *options) *worker {
	w := &worker{id: id, t: t, rng: rand.New(rand.NewPCG(o.seed, uint64(id)))}
	c := 0.0
	for i, p := range o.mix {
		c += p
		w.cum[i] = c
	}
	w.cum[numOps-1] = 1.0001 // guard against rounding
	for i := range w.hist {
		w.hist[i] = hdrhistogram.New(histLowest, histHighest, histSigFigs)
	}
	w.corr = make([]string, corrPool)
	for i := range w.corr {
		w.corr[i] = fmt.Sprintf("req-%d-%d", id, i)
	}
	w.payload = make([]byte, 256)
	for i := range w.payload {
		w.payload[i] = byte('a' + (i+id)%26)
	}
	for _, n := range executeNames {
		w.mds = append(w.mds, foundation.Metadata{"worker": id, "route": n})
	}
	return w
}

// pick draws the next operation by the mix.
func (w *worker) pick() op {
	u := w.rng.Float64()
	for i := range numOps {
		if u < w.cum[i] {
			return i
		}
	}
	return numOps - 1
}

// do runs one operation on the target.
func (w *worker) do(o op) error {
	t := w.t
	switch o {
	case opGet:
		w.sink += t.configGet()
		return nil
	case opUpdate:
		w.updates++
		return t.configUpdate("ai.planning.sampling_rate", 0.5+float64(w.updates%5)/10)
	case opStore:
		w.inCorr++
		if w.inCorr == eventsPerCorrelation {
			w.inCorr = 0
			w.corrIdx = (w.corrIdx + 1) % len(w.corr)
		}
		r := w.rng.Uint64()
		_, err := t.store(foundation.Event{
			Type:          eventTypes[r%uint64(len(eventTypes))],
			CorrelationID: w.corr[w.corrIdx],
			Data:          w.payload[:64+(r>>8)%192],
		})
		return err
	case opQueryType:
		r := w.rng.Uint64()
		_, err := t.query(foundation.Query{Type: eventTypes[r%uint64(len(eventTypes))], Limit: 100, Descending: true})
		return err
	case opQueryCorr:
		back := int(w.rng.Uint64() % 4) // the current request or one of the last three
		i := (w.corrIdx - back + len(w.corr)) % len(w.corr)
		_, err := t.query(foundation.Query{CorrelationID: w.corr[i]})
		return err
	case opExecute:
		r := w.rng.Uint64()
		i := r % uint64(len(executeNames))
		// A fresh map per call, as callers write it; the GenServer port
		// keeps the map it is handed, so reusing one would race.
		t.execute(executeNames[i], foundation.Measurements{
			"duration": float64(1000 + (r>>8)%1_000_000),
			"bytes":    float64((r >> 32) % 65536),
			"counter":  1,
		}, w.mds[i])
		return nil
	case opCounter:
		t.counterAdd(int(w.rng.Uint64()%uint64(len(counterNames))), 1)
		return nil
	case opHistogram:
		r := w.rng.Uint64()
		t.histogramRecord(int(r%uint64(len(histogramNames))), int64(100+(r>>8)%10_000_000))
		return nil
	}
	return nil
}

// record adds one latency to the op's histogram.
func (w *worker) record(o op, d time.Duration, err error) {
	v := int64(d)
	if v < histLowest {
		v = histLowest
	} else if v > histHighest {
		v = histHighest
	}
	_ = w.hist[o].RecordValue(v)
	if err != nil {
		w.errs[o]++
		w.lastErr[o] = err
	}
	w.counts[o].Add(1)
}

// runClosed runs operations back to back until stop is set: latency is each
// operation's own time.
func (w *worker) runClosed(stop *atomic.Bool) {
	for !stop.Load() {
		o := w.pick()
		start := time.Now()
		err := w.do(o)
		w.record(o, time.Since(start), err)
	}
}

// runOpen runs one operation every interval, from base, until stop is set.
// Latency counts from the intended start time, so an operation delayed by a
// slow predecessor carries the delay (no coordinated omission). A worker that
// falls behind runs back to back until it catches up; it does not skip.
func (w *worker) runOpen(stop *atomic.Bool, base time.Time, interval time.Duration) {
	next := base
	for !stop.Load() {
		if wait := time.Until(next); wait > 0 {
			if wait > 200*time.Microsecond {
				time.Sleep(wait - 100*time.Microsecond)
			}
			for time.Now().Before(next) {
				if stop.Load() {
					return
				}
				runtime.Gosched()
			}
		}
		o := w.pick()
		err := w.do(o)
		w.record(o, time.Since(next), err)
		next = next.Add(interval)
	}
}

// sample is the cumulative operation counts at one moment of a run.
type sample struct {
	at     time.Duration
	counts [numOps]uint64
}

// runWorkload runs the workers on t until d has passed or ctx is done,
// calling tick about every 100 ms with the elapsed time and the cumulative
// counts. It returns the workers (with their histograms), the timeline, the
// elapsed time, and whether ctx stopped it early.
func runWorkload(ctx context.Context, t target, o *options, tick func(sample)) ([]*worker, []sample, time.Duration, bool) {
	workers := make([]*worker, o.workers)
	for i := range workers {
		workers[i] = newWorker(i, t, o)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.workers) / o.rate)
		if interval <= 0 {
			interval = 1
		}
	}
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.rate > 0 {
				// Stagger the workers' schedules across one interval.
				w.runOpen(&stop, start.Add(interval*time.Duration(i)/time.Duration(o.workers)), interval)
			} else {
				w.runClosed(&stop)
			}
		}()
	}
	snap := func() sample {
		s := sample{at: time.Since(start)}
		for _, w := range workers {
			for i := range s.counts {
				s.counts[i] += w.counts[i].Load()
			}
		}
		return s
	}
	timeline := []sample{{}}
	tk := time.NewTicker(100 * time.Millisecond)
	deadline := time.NewTimer(o.duration)
	interrupted := false
loop:
	for {
		select {
		case <-tk.C:
			s := snap()
			timeline = append(timeline, s)
			tick(s)
		case <-deadline.C:
			break loop
		case <-ctx.Done():
			interrupted = true
			break loop
		}
	}
	tk.Stop()
	deadline.Stop()
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	last := snap()
	last.at = elapsed
	timeline = append(timeline, last)
	tick(last)
	return workers, timeline, elapsed, interrupted
}
