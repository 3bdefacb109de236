package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressLineEvery is how often a run writes a progress line when stderr
// is not a terminal.
const progressLineEvery = 5 * time.Second

// progress shows how far a target's run is: on a terminal, a bar redrawn in
// place with \r; to a file or a pipe, a line every progressLineEvery and one
// at the end, so that a log holds no control characters.
type progress interface {
	// update reports the elapsed time and the current rate of operations.
	update(at time.Duration, opsPerSec float64)
	// done ends the display; interrupted tells whether Ctrl-C stopped the run.
	done(at time.Duration, interrupted bool)
}

// newProgress returns the display for a run of d on target name, written to w.
func newProgress(w io.Writer, name string, d time.Duration) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newBarProgress(w, name, d)
	}
	fmt.Fprintf(w, "perf: %s: running for %s\n", name, d)
	return &lineProgress{w: w, name: name, total: d, next: progressLineEvery}
}

// barProgress is the terminal's bar.
type barProgress struct {
	w     io.Writer
	name  string
	total time.Duration
	bar   *progressbar.ProgressBar
}

func newBarProgress(w io.Writer, name string, d time.Duration) *barProgress {
	bar := progressbar.NewOptions64(d.Milliseconds(),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(fmt.Sprintf("%-10s", name)),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return &barProgress{w: w, name: name, total: d, bar: bar}
}

func (p *barProgress) update(at time.Duration, rate float64) {
	p.bar.Describe(fmt.Sprintf("%-10s %s ops/s", p.name, siCount(rate)))
	// Short of the end: Finish draws 100% once, with its newline.
	_ = p.bar.Set64(min(at.Milliseconds(), p.total.Milliseconds()-1))
}

func (p *barProgress) done(_ time.Duration, interrupted bool) {
	if interrupted {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	} else if !p.bar.IsFinished() {
		_ = p.bar.Finish()
	}
}

// lineProgress writes plain lines.
type lineProgress struct {
	w     io.Writer
	name  string
	total time.Duration
	next  time.Duration // elapsed time of the next line
}

func (p *lineProgress) update(at time.Duration, rate float64) {
	if at < p.next || at >= p.total {
		return
	}
	fmt.Fprintf(p.w, "perf: %s: %s of %s (%d%%), %s ops/s\n", p.name,
		at.Round(100*time.Millisecond), p.total, 100*at/p.total, siCount(rate))
	for p.next <= at {
		p.next += progressLineEvery
	}
}

func (p *lineProgress) done(at time.Duration, interrupted bool) {
	state := "done"
	if interrupted {
		state = "interrupted"
	}
	fmt.Fprintf(p.w, "perf: %s: %s after %s\n", p.name, state, at.Round(time.Millisecond))
}
