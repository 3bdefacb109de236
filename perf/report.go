package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// percentiles are the table's latency columns.
var percentiles = []struct {
	name string
	q    float64 // 0..100, as hdrhistogram takes it
}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}}

// writeReport writes the tables of every result, then with two results a
// side-by-side, as Markdown (the terminal and summary.md show the same).
func writeReport(w io.Writer, o *options, results []*result) {
	for _, r := range results {
		writeTable(w, o, r)
	}
	if len(results) == 2 {
		writeCompare(w, results[0], results[1])
	}
}

func loopText(o *options) string {
	if o.rate > 0 {
		return fmt.Sprintf("open loop at %s ops/s (latency from the intended start)", siCount(o.rate))
	}
	return "closed loop (as fast as possible)"
}

func writeTable(w io.Writer, o *options, r *result) {
	state := ""
	if r.interrupted {
		state = ", interrupted"
	}
	fmt.Fprintf(w, "\n### %s: %d workers, %s, %s%s\n\n", r.target, o.workers, r.elapsed.Round(time.Millisecond), loopText(o), state)
	fmt.Fprintln(w, "| operation | ops | ops/s | p50 | p90 | p99 | p99.9 | max | allocs/op | B/op | errors |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	secs := r.elapsed.Seconds()
	for i := range numOps {
		or := &r.ops[i]
		if or.count == 0 && o.mix[i] == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s |", op(i), or.count, siCount(float64(or.count)/secs))
		for _, p := range percentiles {
			fmt.Fprintf(w, " %s |", fmtNs(or.hist.ValueAtQuantile(p.q), or.count))
		}
		fmt.Fprintf(w, " %s |", fmtNs(or.hist.Max(), or.count))
		if or.calibrate {
			fmt.Fprintf(w, " %.1f | %.0f |", or.allocs, or.bytes)
		} else {
			fmt.Fprint(w, " – | – |")
		}
		fmt.Fprintf(w, " %d |\n", or.errors)
	}
	perOp := func(v uint64) float64 {
		if r.total == 0 {
			return 0
		}
		return float64(v) / float64(r.total)
	}
	fmt.Fprintf(w, "| **all** | %d | %s | | | | | | %.2f | %.0f | |\n\n", r.total, siCount(float64(r.total)/secs),
		perOp(r.mallocs), perOp(r.allocBytes))
	fmt.Fprintln(w, "p50 … p99.9: latency percentiles of the operation over the run; max: its single slowest call, one sample that a GC pause, a preemption or another process on the machine can set (the latency picture ends each line at it).")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "allocs/op and B/op per operation: that operation alone, %d times in a row (%d for queries and updates) on one goroutine; **all**: the whole run's heap allocations (every goroutine) ÷ operations.\n\n",
		o.runs, max(1, o.runs/10))
	fmt.Fprintf(w, "GC: %d cycles, pauses %s in total, %s at most (of the last 256); heap in use %s at the end of the run, %s after a GC.\n",
		r.gcCount, r.gcTotal.Round(time.Microsecond), r.gcMax.Round(time.Microsecond), siBytes(r.heapInUse), siBytes(r.heapAfter))
	if s := r.sub; s.supported {
		fmt.Fprintf(w, "Events: the store accepted %d and refused %d (EventStats.Stored and .Dropped over the run).\n", s.stored, s.refused)
		fmt.Fprintf(w, "Subscribers (two harness goroutines drain the streams, as an application would): "+
			"the event subscriber received %d events and missed %d because its buffer (%d events, -sub-buffer) was full; "+
			"the config subscriber received %d changes and missed %d. "+
			"Store and Update never wait for a subscriber: a missed event is stored and found by Query all the same, "+
			"only that subscriber does not receive it (EventSubscription.Dropped counts it).\n",
			s.events, s.dropped, s.buffer, s.changes, s.missed)
		if s.dropped > 0 && o.rate == 0 {
			fmt.Fprintln(w, "In a closed loop the workers keep every CPU busy and the draining goroutine runs only when the scheduler preempts one of them; a larger -sub-buffer, or an open loop (-rate) with CPU to spare, lets it keep up.")
		}
	} else {
		fmt.Fprintln(w, "Subscribers: none (the target has no subscriptions).")
	}
	for i := range numOps {
		if e := r.ops[i].lastErr; e != nil {
			fmt.Fprintf(w, "Last error of %s: %v\n", op(i), e)
		}
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}

// writeCompare writes a's and b's throughput and latencies side by side,
// with ratios oriented so that above 1 means a is better: a/b for ops/s,
// b/a for latencies.
func writeCompare(w io.Writer, a, b *result) {
	fmt.Fprintf(w, "\n### %s vs %s\n\n", a.target, b.target)
	fmt.Fprintf(w, "× after ops/s is %s ÷ %s (above 1: %s does more); × after a latency is %s ÷ %s (above 1: %s is faster).\n\n",
		a.target, b.target, a.target, b.target, a.target, a.target)
	fmt.Fprintf(w, "| operation | ops/s %s | ops/s %s | × | p50 %s | p50 %s | × | p99 %s | p99 %s | × | allocs/op %s | allocs/op %s |\n",
		a.target, b.target, a.target, b.target, a.target, b.target, a.target, b.target)
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	ratio := func(x, y float64) string {
		if x == 0 || y == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2g", x/y)
	}
	for i := range numOps {
		oa, ob := &a.ops[i], &b.ops[i]
		if oa.count == 0 && ob.count == 0 {
			continue
		}
		ta, tb := float64(oa.count)/a.elapsed.Seconds(), float64(ob.count)/b.elapsed.Seconds()
		p50a, p50b := oa.hist.ValueAtQuantile(50), ob.hist.ValueAtQuantile(50)
		p99a, p99b := oa.hist.ValueAtQuantile(99), ob.hist.ValueAtQuantile(99)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f |\n", op(i),
			siCount(ta), siCount(tb), ratio(ta, tb),
			fmtNs(p50a, oa.count), fmtNs(p50b, ob.count), ratio(float64(p50b), float64(p50a)),
			fmtNs(p99a, oa.count), fmtNs(p99b, ob.count), ratio(float64(p99b), float64(p99a)),
			oa.allocs, ob.allocs)
	}
	ta, tb := float64(a.total)/a.elapsed.Seconds(), float64(b.total)/b.elapsed.Seconds()
	fmt.Fprintf(w, "| **all** | %s | %s | %s | | | | | | | | |\n\n", siCount(ta), siCount(tb), ratio(ta, tb))
	fmt.Fprintln(w, "The runs are sequential: on a shared machine, noise moves them apart. In a closed loop the mix fixes each operation's share, so every row's ops/s × is the overall one; compare latencies row by row.")
	fmt.Fprintf(w, "GC: %s %d cycles (max pause %s), %s %d cycles (max pause %s).\n",
		a.target, a.gcCount, a.gcMax.Round(time.Microsecond), b.target, b.gcCount, b.gcMax.Round(time.Microsecond))
}

// writeSummary writes out/summary.md: the run's settings, the tables, and
// links to the profiles and pictures.
func writeSummary(o *options, results []*result) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# perf summary\n\n")
	fmt.Fprintf(&b, "`go run ./perf %s` on %s, %s/%s, %d CPUs (GOMAXPROCS %d), %s.\n\n",
		strings.Join(o.args, " "), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		runtime.GOMAXPROCS(0), time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Mix: `%s`; event capacity: %s.\n", o.mixText, capacityText(o.capacity))
	writeReport(&b, o, results)
	for _, r := range results {
		rel, _ := filepath.Rel(o.out, r.dir)
		link := func(name string) string { return filepath.ToSlash(filepath.Join(rel, name)) }
		fmt.Fprintf(&b, "\n## %s: pictures and profiles\n\n", r.target)
		fmt.Fprintf(&b, "![latency percentiles, %s](%s)\n\n", r.target, link("latency.png"))
		fmt.Fprintf(&b, "![throughput over time, %s](%s)\n\n", r.target, link("throughput.png"))
		for _, f := range r.files {
			if strings.HasSuffix(f, ".png") {
				continue
			}
			how := "go tool pprof -top"
			if f == "trace.out" {
				how = "go tool trace"
			}
			fmt.Fprintf(&b, "- [%s](%s): `%s %s`\n", f, link(f), how, filepath.Join(r.dir, f))
		}
	}
	fmt.Fprintf(&b, "\nProfiles: cpu covers the whole run; heap is what was live after it (the store's events); ")
	fmt.Fprintf(&b, "allocs, block and mutex cover the run only (end minus start); goroutine is taken halfway; ")
	fmt.Fprintf(&b, "the trace is a window of at most 2 s in the middle of the run.\n")
	return os.WriteFile(filepath.Join(o.out, "summary.md"), b.Bytes(), 0o644)
}

func capacityText(n int) string {
	if n == 0 {
		return "default"
	}
	return fmt.Sprint(n)
}

// fmtNs formats a latency in ns with three significant figures; "–" when
// there were no operations.
func fmtNs(ns int64, count int64) string {
	if count == 0 {
		return "–"
	}
	d := float64(ns)
	switch {
	case d < 1e3:
		return fmt.Sprintf("%.0fns", d)
	case d < 1e6:
		return fmt.Sprintf("%.3gµs", d/1e3)
	case d < 1e9:
		return fmt.Sprintf("%.3gms", d/1e6)
	}
	return fmt.Sprintf("%.3gs", d/1e9)
}

// siCount formats a count or rate with a k/M/G suffix.
func siCount(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.3g", v)
}

func siBytes(v uint64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(v)/(1<<10))
	}
	return fmt.Sprintf("%d B", v)
}
