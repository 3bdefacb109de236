package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFill(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("env.txt", "go: go1.26\nload at start: 0.10 0.20 0.30\n")
	write("store.txt", `# command: go test -bench Store -cpu 1,2
# start: 2026-12-06 17:30:00 UTC, load average 1.00 1.00 1.00
goos: linux
BenchmarkStore/impl=foundation         	 1000	       200.0 ns/op	       0 allocs/op
BenchmarkStore/impl=foundation-2       	 1000	       150.0 ns/op	       0 allocs/op
BenchmarkStore/impl=mutex              	 1000	       400.0 ns/op	       1 allocs/op
BenchmarkStore/impl=mutex-2            	 1000	       300.0 ns/op	       1 allocs/op
BenchmarkStore/impl=foundation         	 1000	       100.0 ns/op	       0 allocs/op
BenchmarkStore/impl=foundation-2       	 1000	       130.0 ns/op	       0 allocs/op
BenchmarkStore/impl=mutex              	 1000	       500.0 ns/op	       1 allocs/op
BenchmarkStore/impl=mutex-2            	 1000	       320.0 ns/op	       1 allocs/op
BenchmarkStore/impl=foundation         	 1000	       300.0 ns/op	       0 allocs/op
BenchmarkStore/impl=foundation-2       	 1000	       140.0 ns/op	       0 allocs/op
BenchmarkStore/impl=mutex              	 1000	       450.0 ns/op	       1 allocs/op
BenchmarkStore/impl=mutex-2            	 1000	       310.0 ns/op	       1 allocs/op
BenchmarkGet                           	 1000	      1500 ns/op	       2 allocs/op
BenchmarkStore/impl=many-3             	 1000	       600.0 ns/op	       0 allocs/op
BenchmarkStore/impl=many-3-2           	 1000	       500.0 ns/op	       0 allocs/op
BenchmarkStore/impl=mutex/big          	 1000	       900.0 ns/op	       0 allocs/op
PASS
# end: 2026-12-06 17:30:10 UTC, load average 1.00 1.00 1.00, exit 0
`)
	write("log.txt", "# command: go test -v\n# start: now\n=== RUN   TestX\n    x_test.go:1: idle 10 B\n--- PASS: TestX\n# end: now, exit 0\n")
	doc := `# title
<!-- perf:env -->
old env
<!-- perf:end -->
text
<!-- perf:table file=store match="^Store/" scale="." join="big" -->
old table
<!-- perf:end -->
<!-- perf:verbatim file=log from="idle" until="^---" -->
<!-- perf:end -->
<!-- perf:table file=gone match="." -->
kept
<!-- perf:end -->
`
	got, warnings := fill(doc, dir)
	for _, want := range []string{
		"- go: go1.26\n- load at start: 0.10 0.20 0.30\n",
		"`go test -bench Store -cpu 1,2` — 2026-12-06 17:30:00 UTC, load average 1.00 1.00 1.00; median of 3 runs; -cpu 1 / 2.",
		"| benchmark | impl | ns/op | allocs/op | ÷ | -cpu 2 ÷ 1 |",
		"| `Store` | **foundation** | 200 ns / 140 ns | 0 / 0 |  | 0.70× |",
		"|  | mutex | 450 ns / 310 ns | 1 / 1 | 0.44× / 0.45× | 0.69× |",
		"|  | many-3 | 600 ns / 500 ns | 0 / 0 | 0.33× / 0.28× | 0.83× |",
		"|  | mutex/big | 900 ns / — | 0 / — | 0.22× / — | — |",
		"    x_test.go:1: idle 10 B\n<!-- perf:end -->",
		"kept\n",
		"text\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	for _, gone := range []string{"old env", "old table", "BenchmarkGet", "1.50 µs"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q should be gone:\n%s", gone, got)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "gone") {
		t.Errorf("warnings %q: want one naming the missing file", warnings)
	}

	write("cg.txt", "# command: callgrind.sh\n# start: now\n| benchmark (-cpu 1) | N | instructions/op |\n|---|---|---|\n"+
		"| `BenchmarkGet/impl=foundation/serial` | 100 | 57 |\n| `BenchmarkGet/impl=atomic/serial` | 100 | 22 |\n# end: now, exit 0\n")
	got, _ = fill("<!-- perf:table file=cg match=. cols=instructions/op -->\n<!-- perf:end -->\n", dir)
	if want := "| `Get/serial` | **foundation** | 57 |  |\n|  | atomic | 22 | 2.59× |\n"; !strings.Contains(got, want) {
		t.Errorf("callgrind rows: missing %q in\n%s", want, got)
	}

	// A failed step keeps the old text and says why.
	write("store.txt", "# command: x\n# start: now\n# end: now, exit 1\n")
	got, warnings = fill(doc, dir)
	if !strings.Contains(got, "old table") || len(warnings) != 2 {
		t.Errorf("a failed step: warnings %q, doc\n%s", warnings, got)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		unit string
		v    float64
		want string
	}{
		{"ns/op", 0.3101, "0.31 ns"},
		{"ns/op", 12.34, "12.3 ns"},
		{"ns/op", 1234, "1.23 µs"},
		{"ns/op", 2_600_000, "2.60 ms"},
		{"p99-net-ns", 431, "431 ns"},
		{"cpu-ns/op", 262.4, "262 ns"},
		{"allocs/op", 0.03, "0.03"},
		{"B/op", 15934, "15934"},
		{"events/s", 52471, "52471"},
	} {
		if got := format(c.unit, c.v); got != c.want {
			t.Errorf("format(%q, %v) = %q, want %q", c.unit, c.v, got, c.want)
		}
	}
	if got := fmtRatio(1, 40); got != "1/40" {
		t.Errorf("fmtRatio(1, 40) = %q", got)
	}
}
