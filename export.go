package foundation

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/internal/eventstore"
)

// Exporter receives the stored events, in batches, and acknowledges them.
// Give one to [New] with [WithExporter]. The package jsonl ships a durable
// JSON Lines sink: a *jsonl.Sink[Event] is an Exporter.
//
// Export is called by one goroutine at a time, with the events in ID order
// (IDs rise from batch to batch; a gap means events were lost to export, see
// [EventStats.ExportDropped]). A nil error acknowledges the whole batch: the
// store will not offer it again. An error makes the store retry the same
// batch, with backoff, so delivery is at least once. The batch slice and the
// events' Data are only valid during the call: copy what you keep; Export
// may modify them.
//
// Export must honour ctx: the store gives each call a deadline of
// interface.query_timeout and cancels it on Close. A call that overruns its
// deadline by more than a short grace is abandoned (counted as a failure; the
// store calls Export again only once it has returned); a panic is recovered
// and counted as a failure. Neither affects Store. If the Exporter also
// implements io.Closer, the Foundation's Close calls Close once, after the
// last Export.
type Exporter interface {
	Export(ctx context.Context, batch []Event) error
}

const (
	exportGrace      = 250 * time.Millisecond // past the deadline, before a call is abandoned
	exportMaxBackoff = 5 * time.Second
	exportCloseWait  = 5 * time.Second // Close waits this long for abandoned calls
	exportFinalWait  = 2 * time.Second // Close's last flush, at most
)

// exportPipeline reads stored events from the ring in ID order into a
// bounded local buffer (pending, at most capture.processing.max_queue_size
// events), hands them to the Exporter in batches of
// capture.processing.batch_size, at the latest capture.processing.
// flush_interval after the first of them was read, and drops them once
// acknowledged. While the exporter fails, the buffer fills up and stays
// full; the events past it stay in the ring, and those the ring evicts or the
// pruner removes before the exporter takes them are counted as dropped.
//
// Every field without a comment is owned by the run goroutine.
type exportPipeline struct {
	eng      *eventstore.Store // the store's engine, set once before run starts
	config   func() *Config    // the config in effect (capture.processing, interface.query_timeout)
	clock    Clock
	log      *slog.Logger
	exp      Exporter
	maxQueue int
	next     uint64  // the next ID to read from the ring
	pending  []Event // read, not yet acknowledged; IDs ascending

	kick   chan struct{} // capacity 1: Store wakes the loop
	kickAt atomic.Uint64 // Store kicks when it commits an ID >= kickAt (MaxUint64: nobody waits)

	pendingN atomic.Int64  // len(pending), for Stats
	exported atomic.Uint64 // events acknowledged
	dropped  atomic.Uint64 // events lost to export
	acked    atomic.Uint64 // highest acknowledged ID

	inflight chan error     // an abandoned Export call, until it returns
	calls    sync.WaitGroup // Export calls running (Close waits for them)

	mu      sync.Mutex // guards the health fields below
	failing int        // consecutive failed calls
	lastErr string
	hung    bool
}

// newExportPipeline returns the pipeline of exporter e; its eng is set by
// the event store once the engine exists (the engine's Stored hook is the
// pipeline's stored).
func newExportPipeline(e Exporter, maxQueue int, config func() *Config, clk Clock, log *slog.Logger) *exportPipeline {
	if maxQueue <= 0 {
		maxQueue = 1000
	}
	p := &exportPipeline{config: config, clock: clk, log: log, exp: e, maxQueue: maxQueue, next: 1, kick: make(chan struct{}, 1)}
	p.kickAt.Store(1)
	return p
}

// stored is Store's hook: one atomic load unless the loop waits for id.
func (p *exportPipeline) stored(id uint64) {
	if k := p.kickAt.Load(); id >= k && p.kickAt.CompareAndSwap(k, math.MaxUint64) {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// fill reads events from the ring into pending, up to maxQueue. It stops at
// an ID whose push is still in flight; IDs that left the ring (or were
// pruned) before being read are counted as dropped.
func (p *exportPipeline) fill() {
	es := p.eng
	end := es.Next()
	for p.next < end && len(p.pending) < p.maxQueue {
		ev, st := es.Read(p.next)
		switch st {
		case eventstore.ReadGone:
			lost := min(es.First(), end) - p.next
			p.dropped.Add(lost)
			p.next += lost
			continue
		case eventstore.ReadInFlight:
			p.pendingN.Store(int64(len(p.pending)))
			return // its Store will kick us
		case eventstore.ReadFound:
			p.pending = append(p.pending, Event(ev))
		case eventstore.ReadSkip: // an ID no event got
		default:
			p.dropped.Add(1)
		}
		p.next++
	}
	p.pendingN.Store(int64(len(p.pending)))
}

// waitFor arms the kick for id and reports whether it is already there (the
// caller must then not sleep).
func (p *exportPipeline) waitFor(id uint64) bool {
	p.kickAt.Store(id)
	if id < p.eng.Next() {
		if p.eng.StateOf(id) != eventstore.ReadInFlight {
			p.kickAt.Store(math.MaxUint64)
			return true
		}
	}
	return false
}

// run is the supervised export loop.
func (p *exportPipeline) run(ctx context.Context) error {
	defer p.finalFlush()
	clk := p.clock
	var deadline time.Time // when the oldest pending event must be flushed
	for {
		if ctx.Err() != nil {
			return nil
		}
		proc := p.config().Capture.Processing
		batch := max(min(proc.BatchSize, p.maxQueue), 1)
		p.fill()
		if len(p.pending) == 0 {
			deadline = time.Time{}
			if p.waitFor(p.next) {
				continue
			}
			select {
			case <-ctx.Done():
				return nil
			case <-p.kick:
			}
			continue
		}
		now := clk.Now()
		if deadline.IsZero() {
			deadline = now.Add(proc.FlushInterval)
		}
		if len(p.pending) < batch && now.Before(deadline) {
			if p.waitFor(p.next + uint64(batch-len(p.pending)) - 1) {
				continue
			}
			tm := clk.NewTimer(deadline.Sub(now))
			select {
			case <-ctx.Done():
				tm.Stop()
				return nil
			case <-p.kick:
				tm.Stop()
			case <-tm.C():
			}
			continue
		}
		n := min(batch, len(p.pending))
		if err := p.call(ctx, p.pending[:n], p.config().Interface.QueryTimeout); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failing := p.fail(err)
			d := min(max(proc.FlushInterval, 10*time.Millisecond)<<min(failing-1, 16), exportMaxBackoff)
			tm := clk.NewTimer(d)
			select {
			case <-ctx.Done():
				tm.Stop()
				return nil
			case <-tm.C():
			}
			continue
		}
		p.ack(n)
		if len(p.pending) == 0 {
			deadline = time.Time{}
		}
	}
}

// ack drops the first n pending events, acknowledged.
func (p *exportPipeline) ack(n int) {
	p.acked.Store(p.pending[n-1].ID)
	p.exported.Add(uint64(n))
	rest := copy(p.pending, p.pending[n:])
	clear(p.pending[rest:])
	p.pending = p.pending[:rest]
	p.pendingN.Store(int64(rest))
	p.mu.Lock()
	p.failing, p.lastErr = 0, ""
	p.mu.Unlock()
}

func (p *exportPipeline) fail(err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing++
	p.lastErr = err.Error()
	if p.failing == 1 || p.failing%100 == 0 {
		p.log.Warn("event export failing", "attempts", p.failing, "error", p.lastErr,
			"pending", len(p.pending), "dropped", p.dropped.Load())
	}
	return p.failing
}

// problem is the reason for a degraded health, or "".
func (p *exportPipeline) problem() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.hung:
		return "event exporter hung: a call overran its deadline and has not returned"
	case p.failing > 0:
		return fmt.Sprintf("event export failing (%d attempts, %d events buffered, %d dropped): %s",
			p.failing, p.pendingN.Load(), p.dropped.Load(), p.lastErr)
	}
	return ""
}

// call runs one Export with a deadline, recovering a panic, and abandons a
// call that overruns its deadline by more than exportGrace.
func (p *exportPipeline) call(ctx context.Context, batch []Event, timeout time.Duration) error {
	if p.inflight != nil {
		select {
		case <-p.inflight:
			p.inflight = nil
			p.mu.Lock()
			p.hung = false
			p.mu.Unlock()
		default:
			return newError(kTimeout, nil, "event exporter: previous call still running")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	p.calls.Add(1)
	go func() {
		defer p.calls.Done()
		done <- p.safeExport(cctx, batch)
	}()
	select {
	case err := <-done:
		return err
	case <-cctx.Done():
	}
	grace := time.NewTimer(exportGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
	}
	// Abandon the call; it may still read batch, so pending gets new memory.
	p.inflight = done
	p.pending = slices.Clone(p.pending)
	p.mu.Lock()
	p.hung = true
	p.mu.Unlock()
	return newError(kTimeout, cctx.Err(), fmt.Sprintf("event exporter did not return within %s", timeout), "timeout", timeout.String())
}

func (p *exportPipeline) safeExport(ctx context.Context, batch []Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newError(kInternal, nil, fmt.Sprintf("event exporter panicked: %v", r))
		}
	}()
	return p.exp.Export(ctx, batch)
}

// finalFlush runs when the loop stops (Close): one last attempt, bounded by
// exportFinalWait, to export what is stored.
func (p *exportPipeline) finalFlush() {
	if p.inflight != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), exportFinalWait)
	defer cancel()
	batch := max(min(p.config().Capture.Processing.BatchSize, p.maxQueue), 1)
	for ctx.Err() == nil {
		p.fill()
		if len(p.pending) == 0 {
			return
		}
		n := min(batch, len(p.pending))
		if err := p.call(ctx, p.pending[:n], exportFinalWait); err != nil {
			p.log.Warn("event export: final flush failed", "error", err.Error(), "pending", len(p.pending))
			return
		}
		p.ack(n)
	}
}

// close waits (bounded) for abandoned calls and closes the exporter if it is
// an io.Closer.
func (p *exportPipeline) close() {
	done := make(chan struct{})
	go func() { p.calls.Wait(); close(done) }()
	t := time.NewTimer(exportCloseWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.log.Error("event exporter still running after close; abandoning it")
		return
	}
	if c, ok := p.exp.(io.Closer); ok {
		if err := c.Close(); err != nil {
			p.log.Warn("event exporter close failed", "error", err.Error())
		}
	}
}
