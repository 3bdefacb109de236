// Command seedtable runs every case of bench/suite with testing.Benchmark,
// on 1 and on 2 Ps (single goroutine on 1, RunParallel on 2), and prints the
// seed latency table (the targets in bench/suite's Ops) side by side with
// what was measured, as Markdown.
//
//	cd bench && go run ./cmd/seedtable [-benchtime 300ms] [-op Config.get] [-impl foundation,genserver]
package main

// doccheck: the package doc's code block 1 is a shell command, not Go
// (docs_test.go in the repository root builds the Go ones).
//
// text: 1

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/bench/suite"
	"github.com/schollz/progressbar/v3"
)

type result struct {
	c      suite.Case
	r      [2]testing.BenchmarkResult // [0]: 1 P serial; [1]: 2 Ps RunParallel
	ran    [2]bool
	failed string
}

func main() {
	benchtime := flag.Duration("benchtime", 300*time.Millisecond, "target time per case and P count")
	opFilter := flag.String("op", "", "only these operations (comma-separated)")
	implFilter := flag.String("impl", "", "only these implementations (comma-separated)")
	procs := flag.String("cpu", "1,2", "P counts: 1 runs serial, more runs RunParallel")
	flag.Parse()
	testing.Init()
	_ = flag.Set("test.benchtime", benchtime.String())

	var cases []suite.Case
	for _, c := range suite.Cases() {
		if keep(*opFilter, c.Op) && keep(*implFilter, c.Impl) {
			cases = append(cases, c)
		}
	}
	var ps []int
	for _, s := range strings.Split(*procs, ",") {
		var p int
		if _, err := fmt.Sscan(s, &p); err == nil && p >= 1 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 || len(ps) > 2 {
		fmt.Fprintln(os.Stderr, "seedtable: -cpu takes one or two P counts")
		os.Exit(2)
	}

	bar := progressbar.NewOptions(len(cases)*len(ps), progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("benchmarks"), progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	start := time.Now()
	prev := runtime.GOMAXPROCS(0)
	results := make([]*result, len(cases))
	for i, c := range cases {
		results[i] = &result{c: c}
	}
	for k, p := range ps {
		runtime.GOMAXPROCS(p)
		for _, res := range results {
			bar.Describe(fmt.Sprintf("%-22s %-18s P=%d", res.c.Op, res.c.Impl, p))
			par := p > 1
			r := testing.Benchmark(func(b *testing.B) { res.c.Run(b, par) })
			if r.N == 0 {
				res.failed = "failed"
			} else {
				res.r[k], res.ran[k] = r, true
			}
			_ = bar.Add(1)
		}
	}
	runtime.GOMAXPROCS(prev)
	_ = bar.Finish()
	fmt.Fprintf(os.Stderr, "done in %s\n", time.Since(start).Round(time.Second))
	print(os.Stdout, results, ps, *benchtime)
}

func keep(filter, v string) bool {
	return filter == "" || slices.Contains(strings.Split(filter, ","), v)
}

func ns(r testing.BenchmarkResult) float64 { return float64(r.T.Nanoseconds()) / float64(r.N) }

func fmtNs(v float64) string {
	switch {
	case v >= 100_000:
		return fmt.Sprintf("%.0f µs", v/1000)
	case v >= 10_000:
		return fmt.Sprintf("%.1f µs", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2f µs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0f ns", v)
	}
	return fmt.Sprintf("%.2f ns", v)
}

func fmtX(v float64) string {
	switch {
	case v > 0 && v < 0.1:
		return fmt.Sprintf("1/%.0f", 1/v)
	case v >= 100:
		return fmt.Sprintf("%.0f×", v)
	case v >= 10:
		return fmt.Sprintf("%.1f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func print(w io.Writer, results []*result, ps []int, benchtime time.Duration) {
	fmt.Fprintf(w, "## Seed table, measured\n\n")
	fmt.Fprintf(w, "`go run ./cmd/seedtable -benchtime %s -cpu %s`; %s, GOARCH=%s, NumCPU=%d, %s.\n",
		benchtime, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(ps)), ","), "[]"),
		runtime.Version(), runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "ns/op at -cpu %d (single goroutine)", ps[0])
	if len(ps) > 1 {
		fmt.Fprintf(w, " / -cpu %d (RunParallel: wall time ÷ all goroutines' ops)", ps[1])
	}
	fmt.Fprintf(w, "; p50/p99 from every 64th operation (includes ~2 clock reads); allocs/op at -cpu %d.\n\n", ps[0])

	fmt.Fprintf(w, "| operation | seed target | impl | ns/op | p50 / p99 | allocs/op | B/op | note |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|\n")
	for _, op := range suite.Ops {
		first := true
		for _, res := range results {
			if res.c.Op != op.Name {
				continue
			}
			seed := ""
			if first {
				seed = fmt.Sprintf("%g–%g µs", op.SeedLo, op.SeedHi)
			}
			name := op.Name
			if !first {
				name = ""
			}
			first = false
			var nsCol, pCol, allocCol, bCol []string
			for k := range ps {
				if !res.ran[k] {
					nsCol = append(nsCol, "—")
					continue
				}
				r := res.r[k]
				nsCol = append(nsCol, fmtNs(ns(r)))
				if p50, ok := r.Extra["p50-ns"]; ok {
					pCol = append(pCol, fmtNs(p50)+" / "+fmtNs(r.Extra["p99-ns"]))
				}
				if k == 0 {
					allocCol = append(allocCol, fmt.Sprint(r.AllocsPerOp()))
					bCol = append(bCol, fmt.Sprint(r.AllocedBytesPerOp()))
				}
			}
			impl := res.c.Impl
			if impl == "foundation" {
				impl = "**foundation**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, seed, impl,
				strings.Join(nsCol, " / "), strings.Join(pCol, " ; "), strings.Join(allocCol, ""), strings.Join(bCol, ""), res.c.Note)
		}
	}

	fmt.Fprintf(w, "\n### Ratios\n\nfoundation's ns/op against: the seed's lower bound (how many times faster), the GenServer port, and the fastest other implementation (below 1×: foundation is faster). -cpu %d", ps[0])
	if len(ps) > 1 {
		fmt.Fprintf(w, " / -cpu %d", ps[1])
	}
	fmt.Fprintf(w, ".\n\n| operation | faster than seed lower bound | foundation ÷ genserver | best other impl | foundation ÷ best other |\n|---|---|---|---|---|\n")
	for _, op := range suite.Ops {
		var fnd, gen *result
		for _, res := range results {
			if res.c.Op == op.Name && res.c.Impl == "foundation" {
				fnd = res
			}
			if res.c.Op == op.Name && res.c.Impl == "genserver" {
				gen = res
			}
		}
		if fnd == nil {
			continue
		}
		var seedX, genX, best, bestX []string
		for k := range ps {
			if !fnd.ran[k] {
				continue
			}
			f := ns(fnd.r[k])
			seedX = append(seedX, fmtX(op.SeedLo*1000/f))
			if gen != nil && gen.ran[k] {
				genX = append(genX, fmtX(f/ns(gen.r[k])))
			}
			var b *result
			for _, res := range results {
				if res.c.Op != op.Name || res == fnd || !res.ran[k] || strings.HasPrefix(res.c.Impl, "foundation") ||
					variantPeer(results, op.Name, res.c.Impl) {
					continue
				}
				if b == nil || ns(res.r[k]) < ns(b.r[k]) {
					b = res
				}
			}
			if b != nil {
				best = append(best, b.c.Impl)
				bestX = append(bestX, fmtX(f/ns(b.r[k])))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", op.Name, strings.Join(seedX, " / "), strings.Join(genX, " / "),
			strings.Join(best, " / "), strings.Join(bestX, " / "))
	}
	fmt.Fprintf(w, "\nThe best other implementation may do less work than foundation: see each row's note. "+
		"It is not a variant's peer (below).\n")
	printVariants(w, results, ps)
	for _, res := range results {
		if res.failed != "" {
			fmt.Fprintf(w, "\n%s %s: benchmark failed (see stderr)\n", res.c.Op, res.c.Impl)
		}
	}
}

// variant returns v for an impl named "<design>-<v>" ("foundation-into":
// "into"), else "".
func variant(impl string) string {
	if i := strings.LastIndexByte(impl, '-'); i > 0 {
		return impl[i+1:]
	}
	return ""
}

// variantPeer reports whether impl is another design's form of a
// foundation variant of op ("mutex-into" when "foundation-into" runs): it
// works under that variant's contract, so it is compared with it, not with
// foundation.
func variantPeer(results []*result, op, impl string) bool {
	v := variant(impl)
	if v == "" || strings.HasPrefix(impl, "foundation") {
		return false
	}
	for _, res := range results {
		if res.c.Op == op && res.c.Impl == "foundation-"+v {
			return true
		}
	}
	return false
}

// printVariants prints, for each foundation variant ("foundation-<v>"),
// its ns/op against foundation's, the mutex design's and each other
// design's same variant ("<design>-<v>").
func printVariants(w io.Writer, results []*result, ps []int) {
	ratio := func(a, b *result) string {
		if a == nil || b == nil {
			return "—"
		}
		var xs []string
		for k := range ps {
			if a.ran[k] && b.ran[k] {
				xs = append(xs, fmtX(ns(a.r[k])/ns(b.r[k])))
			}
		}
		return strings.Join(xs, " / ")
	}
	header := false
	for _, op := range suite.Ops {
		find := func(impl string) *result {
			for _, res := range results {
				if res.c.Op == op.Name && res.c.Impl == impl {
					return res
				}
			}
			return nil
		}
		for _, fv := range results {
			v := variant(fv.c.Impl)
			if fv.c.Op != op.Name || !strings.HasPrefix(fv.c.Impl, "foundation-") || v == "" {
				continue
			}
			if !header {
				fmt.Fprintf(w, "\n### Variants\n\nA foundation variant's ns/op (\"foundation-<v>\") against foundation's, the mutex design's, "+
					"and each other design's same variant (\"<design>-<v>\", the same contract). -cpu %d", ps[0])
				if len(ps) > 1 {
					fmt.Fprintf(w, " / -cpu %d", ps[1])
				}
				fmt.Fprintf(w, ".\n\n| operation | variant | ÷ foundation | ÷ mutex | ÷ peer variants |\n|---|---|---|---|---|\n")
				header = true
			}
			var peers []string
			for _, res := range results {
				if res.c.Op == op.Name && res != fv && variant(res.c.Impl) == v && !strings.HasPrefix(res.c.Impl, "foundation") {
					peers = append(peers, res.c.Impl+" "+ratio(fv, res))
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", op.Name, fv.c.Impl, ratio(fv, find("foundation")), ratio(fv, find("mutex")),
				strings.Join(peers, "; "))
		}
	}
}
