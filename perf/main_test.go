package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/elixirscope-go/foundation"
)

// runDuration keeps the in-process runs short, shorter under the race
// detector, which slows everything about tenfold.
func runDuration() string {
	if raceEnabled {
		return "600ms"
	}
	return "1500ms"
}

// TestRunCompare runs the harness in-process with -compare and checks
// everything it promises: both tables and the side-by-side, every profile
// (parsed as `go tool pprof` parses it), the trace, the pictures, summary.md.
func TestRunCompare(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-duration", runDuration(), "-workers", "2", "-compare", "-allocs-runs", "200", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	table := stdout.String()
	t.Logf("stdout:\n%s", table)
	for _, want := range []string{"### foundation:", "### genserver:", "### foundation vs genserver",
		"| operation | ops | ops/s | p50 | p90 | p99 | p99.9 | max | allocs/op | B/op | errors |",
		"| get |", "| store |", "| query_type |", "| query_corr |", "| execute |", "| counter |", "| histogram |", "| **all** |",
		"GC: ", "Events: the store accepted ", "the event subscriber received ", "max: its single slowest call"} {
		if !strings.Contains(table, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	// stderr is not a terminal here: progress comes as plain lines.
	if strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress to a non-terminal redraws with \\r:\n%q", stderr.String())
	}
	for _, want := range []string{"perf: foundation: running for ", "perf: foundation: done after ", "perf: genserver: done after "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	for _, dir := range []string{out, filepath.Join(out, "genserver")} {
		for _, name := range []string{"cpu", "heap", "allocs", "mutex", "block", "goroutine"} {
			checkProfile(t, filepath.Join(dir, name+".pprof"))
		}
		if fi, err := os.Stat(filepath.Join(dir, "trace.out")); err != nil || fi.Size() == 0 {
			t.Errorf("trace.out in %s: missing or empty (%v)", dir, err)
		}
		for _, name := range []string{"latency.png", "throughput.png"} {
			checkPNG(t, filepath.Join(dir, name))
		}
	}
	sum, err := os.ReadFile(filepath.Join(out, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"](latency.png)", "](throughput.png)", "](genserver/latency.png)",
		"[cpu.pprof](cpu.pprof)", "[trace.out](genserver/trace.out)", "### foundation vs genserver"} {
		if !bytes.Contains(sum, []byte(want)) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
}

func checkProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if len(p.SampleType) == 0 {
		t.Errorf("%s: no sample types", path)
	}
	if err := p.CheckValid(); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("%s: %v is too small", path, b)
	}
}

// TestInterrupt cancels a long run, as Ctrl-C does: it stops early and still
// writes its report.
func TestInterrupt(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(ctx, []string{"-duration", "10m", "-profiles", "cpu,heap,goroutine", "-allocs-runs", "100", "-http", "127.0.0.1:0", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Errorf("an interrupted run took %v", d)
	}
	if !strings.Contains(stderr.String(), "live pprof on http://127.0.0.1:") {
		t.Errorf("-http: no address announced:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "interrupted") {
		t.Errorf("the table does not say the run was interrupted:\n%s", stdout.String())
	}
	for _, name := range []string{"cpu.pprof", "heap.pprof", "goroutine.pprof"} {
		checkProfile(t, filepath.Join(out, name))
	}
	for _, name := range []string{"summary.md", "latency.png", "throughput.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

// TestOpenLoop runs at a fixed rate: latency counts from the intended start
// times, and the rate is roughly kept.
func TestOpenLoop(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-duration", "1s", "-rate", "5000", "-profiles", "none",
		"-mix", "get=50,store=30,counter=20", "-allocs-runs", "100", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	table := stdout.String()
	if !strings.Contains(table, "open loop at 5k ops/s") {
		t.Errorf("stdout does not name the open loop:\n%s", table)
	}
	if strings.Contains(table, "| execute |") {
		t.Errorf("an operation out of the mix is in the table:\n%s", table)
	}
	for _, name := range []string{"summary.md", "latency.png", "throughput.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "cpu.pprof")); err == nil {
		t.Error("-profiles none wrote cpu.pprof")
	}
}

// TestBadInput checks that bad input is a usage error, found before any work
// starts: nothing is written.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-bogus"}, "bogus"},
		{"argument", []string{"extra"}, "unexpected arguments"},
		{"zero duration", []string{"-duration", "0s"}, "-duration"},
		{"negative duration", []string{"-duration", "-1s"}, "-duration"},
		{"bad duration", []string{"-duration", "soon"}, "duration"},
		{"zero workers", []string{"-workers", "0"}, "-workers"},
		{"negative workers", []string{"-workers", "-2"}, "-workers"},
		{"negative rate", []string{"-rate", "-5"}, "-rate"},
		{"zero allocs runs", []string{"-allocs-runs", "0"}, "-allocs-runs"},
		{"negative capacity", []string{"-capacity", "-1"}, "-capacity"},
		{"zero sub buffer", []string{"-sub-buffer", "0"}, "-sub-buffer"},
		{"huge sub buffer", []string{"-sub-buffer", "1000000000"}, "-sub-buffer"},
		{"mix not name=weight", []string{"-mix", "get"}, "name=weight"},
		{"mix unknown op", []string{"-mix", "get=1,fly=2"}, `unknown operation "fly"`},
		{"mix bad weight", []string{"-mix", "get=lots"}, "weight"},
		{"mix negative weight", []string{"-mix", "get=-1"}, "weight"},
		{"mix all zero", []string{"-mix", "get=0"}, "no operation"},
		{"mix twice", []string{"-mix", "get=1,get=2"}, "twice"},
		{"unknown profile", []string{"-profiles", "cpu,gpu"}, `unknown profile "gpu"`},
		{"out under a file", []string{"-out", filepath.Join(file, "sub")}, "-out"},
		{"empty out", []string{"-out", ""}, "-out"},
		{"bad http address", []string{"-http", "no-such-host.invalid:http-ish"}, "-http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "-out") {
				args = append([]string{"-out", filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))}, args...)
			}
			err := run(context.Background(), args, &stdout, &stderr)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to mention %q", err, tc.want)
			}
			if stdout.Len() > 0 {
				t.Errorf("work started: stdout = %q", stdout.String())
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	w, err := parseMix("get=3, store=1,update=0")
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(w[opGet]-0.75) > 1e-12 || math.Abs(w[opStore]-0.25) > 1e-12 || w[opUpdate] != 0 || w[opExecute] != 0 {
		t.Errorf("weights = %v", w)
	}
	if _, err := parseMix(defaultMix); err != nil {
		t.Errorf("default mix: %v", err)
	}
}

// TestLineProgress checks the progress written to a file or a pipe: a line
// at the start, one per progressLineEvery, one at the end, no \r.
func TestLineProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "foundation", 12*time.Second)
	for at := 100 * time.Millisecond; at <= 12*time.Second; at += 100 * time.Millisecond {
		p.update(at, 1.5e6)
	}
	p.done(12*time.Second, false)
	want := "perf: foundation: running for 12s\n" +
		"perf: foundation: 5s of 12s (41%), 1.5M ops/s\n" +
		"perf: foundation: 10s of 12s (83%), 1.5M ops/s\n" +
		"perf: foundation: done after 12s\n"
	if b.String() != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestSubscriberAccounting checks what the report's subscriber line rests
// on: every event the store accepts is either delivered to the harness's
// match-all subscriber or counted as missed by it, also past the size of its
// buffer.
func TestSubscriberAccounting(t *testing.T) {
	ft, err := newFoundationTarget(0)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.close()
	stop := ft.subscribe(1024)
	const n = 3 * 1024 * 8 // well past the buffer
	for i := range n {
		if _, err := ft.store(foundation.Event{Type: "t", CorrelationID: fmt.Sprint(i % 64)}); err != nil {
			t.Fatal(err)
		}
	}
	s := stop()
	if s.stored != n || s.refused != 0 {
		t.Fatalf("stored %d, refused %d; want %d, 0", s.stored, s.refused, n)
	}
	if s.events+s.dropped != s.stored {
		t.Errorf("delivered %d + missed %d != stored %d", s.events, s.dropped, s.stored)
	}
}
