// Command perftables fills the tables of PERF.md from one run of
// scripts/perf.sh. Each generated part of the document sits between a
// marker comment and <!-- perf:end -->, and is replaced by what the marker
// asks for, read from the run's directory:
//
//	<!-- perf:env -->                      the machine, Go version, date, load (env.txt of a whole run)
//	<!-- perf:table file=F match=RE ... --> a table of the go test benchmarks of F.txt
//	<!-- perf:verbatim file=F ... -->      lines of F.txt, as they are
//
// A table's rows are the benchmarks whose name (without "Benchmark" and the
// -cpu suffix) matches RE, in the order of the file; each cell is the median
// of the -count runs, the -cpu values side by side. The sub-benchmark
// "impl=X" names the implementation: the rows of one benchmark that differ
// only in X are one group, and the ÷ column divides the group's first
// implementation's figure (foundation's, or the package's own) by each
// other's, per -cpu. Attributes: cols (units, comma-separated; default
// ns/op,allocs/op), cpu (which -cpu values; default all), impls (names
// that are an implementation when they stand alone as an element, for
// benchmarks named without impl=), join (elements that, right after the
// implementation's, belong to its name), ratio=none, scale (a regular
// expression: the rows it matches get a column dividing their figure at
// the highest -cpu by the one at the lowest; 0.5× is perfect scaling of a
// RunParallel benchmark from 1 to 2 Ps).
// A table also reads the rows of bench/scripts/callgrind.sh's output, as
// benchmarks whose unit is instructions/op. A verbatim part takes from (the first line kept, a regular expression),
// until (the first line not kept) and skip (lines left out); header=none
// leaves out the line naming the command (for a second part of one file).
//
//	cd bench && go run ./cmd/perftables -raw ../perf-out/bench-latest -doc ../PERF.md [-update]
package main

// doccheck: the package doc's code blocks are a marker syntax and a shell
// command, not Go.
//
// text: 1, 2

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	raw := flag.String("raw", "", "the run's directory (scripts/perf.sh -out)")
	doc := flag.String("doc", "../PERF.md", "the document whose tables are filled")
	update := flag.Bool("update", false, "rewrite -doc in place instead of printing it")
	flag.Parse()
	if *raw == "" {
		fmt.Fprintln(os.Stderr, "perftables: -raw is required")
		os.Exit(2)
	}
	src, err := os.ReadFile(*doc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "perftables:", err)
		os.Exit(1)
	}
	outDoc, warnings := fill(string(src), *raw)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "perftables:", w)
	}
	if !*update {
		fmt.Print(outDoc)
		return
	}
	if err := os.WriteFile(*doc, []byte(outDoc), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "perftables:", err)
		os.Exit(1)
	}
}

var (
	markerRE = regexp.MustCompile(`^<!-- perf:(\w+)(.*?)-->\s*$`)
	attrRE   = regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)
)

// fill replaces every generated part of doc whose raw file is in dir; parts
// whose file is missing keep their text (a partial run updates only its own
// tables).
func fill(doc, dir string) (string, []string) {
	var out strings.Builder
	var warnings, missing []string
	lines := strings.SplitAfter(doc, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		out.WriteString(line)
		m := markerRE.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil || m[1] == "end" {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "<!-- perf:end -->" {
			end++
		}
		if end == len(lines) {
			warnings = append(warnings, fmt.Sprintf("line %d: no <!-- perf:end --> after the marker", i+1))
			continue
		}
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			attrs[a[1]] = strings.Trim(a[2], `"`)
		}
		text, err := render(m[1], attrs, dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, attrs["file"])
			} else {
				warnings = append(warnings, fmt.Sprintf("line %d: %v (kept as it was)", i+1, err))
			}
			for _, l := range lines[i+1 : end] {
				out.WriteString(l)
			}
		} else {
			out.WriteString(text)
		}
		out.WriteString(lines[end])
		i = end
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		warnings = append(warnings, fmt.Sprintf("not in this run, kept as they were: %s", strings.Join(slices.Compact(missing), ", ")))
	}
	return out.String(), warnings
}

func render(kind string, attrs map[string]string, dir string) (string, error) {
	switch kind {
	case "env":
		b, err := os.ReadFile(filepath.Join(dir, "env.txt"))
		if err != nil {
			return "", err
		}
		if bytes.Contains(b, []byte("\nonly: ")) {
			// A run of some steps: the tables it fills say when they ran;
			// the machine and date of the last whole run stay.
			return "", fmt.Errorf("env.txt: a run of some steps only: %w", fs.ErrNotExist)
		}
		var s strings.Builder
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			fmt.Fprintf(&s, "- %s\n", l)
		}
		return s.String(), nil
	case "verbatim":
		return verbatim(dir, attrs)
	case "table":
		return table(dir, attrs)
	}
	return "", fmt.Errorf("unknown marker perf:%s", kind)
}

// rawFile is one step's output: its header and its lines.
type rawFile struct {
	command, start string
	lines          []string
}

func readRaw(dir, name string) (*rawFile, error) {
	if name == "" {
		return nil, fmt.Errorf("no file= in the marker")
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".txt"))
	if err != nil {
		return nil, err
	}
	r := &rawFile{}
	for _, l := range strings.Split(string(b), "\n") {
		// A progress bar redraws with \r: keep what the line ends with.
		if k := strings.LastIndexByte(l, '\r'); k >= 0 {
			l = l[k+1:]
		}
		switch {
		case strings.HasPrefix(l, "# command: "):
			r.command = strings.TrimPrefix(l, "# command: ")
		case strings.HasPrefix(l, "# start: "):
			r.start = strings.TrimPrefix(l, "# start: ")
		case strings.HasPrefix(l, "# end: "):
			if !strings.HasSuffix(l, "exit 0") {
				return nil, fmt.Errorf("%s.txt: the step failed (%s)", name, l)
			}
		default:
			r.lines = append(r.lines, l)
		}
	}
	return r, nil
}

// header is the line above each generated part: the command and when it ran.
func (r *rawFile) header(extra string) string {
	s := fmt.Sprintf("`%s` — %s", r.command, r.start)
	if extra != "" {
		s += "; " + extra
	}
	return s + ".\n\n"
}

func verbatim(dir string, attrs map[string]string) (string, error) {
	r, err := readRaw(dir, attrs["file"])
	if err != nil {
		return "", err
	}
	res, err := regexps(attrs["from"], attrs["until"], attrs["skip"])
	if err != nil {
		return "", err
	}
	from, until, skip := res[0], res[1], res[2]
	var s strings.Builder
	if attrs["header"] != "none" {
		s.WriteString(r.header(""))
	}
	on := from == nil
	for _, l := range r.lines {
		if !on && from.MatchString(l) {
			on = true
		} else if on && until != nil && until.MatchString(l) {
			break
		}
		if on && (skip == nil || !skip.MatchString(l)) {
			s.WriteString(l + "\n")
		}
	}
	if !on {
		return "", fmt.Errorf("%s.txt: no line matches from=%s", attrs["file"], attrs["from"])
	}
	return strings.TrimRight(s.String(), "\n") + "\n", nil
}

func regexps(exprs ...string) (out []*regexp.Regexp, err error) {
	for _, e := range exprs {
		var re *regexp.Regexp
		if e != "" {
			if re, err = regexp.Compile(e); err != nil {
				return nil, err
			}
		}
		out = append(out, re)
	}
	return out, nil
}

var (
	benchLineRE = regexp.MustCompile(`^Benchmark(\S+)\s+\d+\s+(.*)$`)
	cpuSuffixRE = regexp.MustCompile(`-(\d+)$`)
	cpuFlagRE   = regexp.MustCompile(`-(?:test\.)?cpu[ =]([0-9,]+)`)
	// callgrindRE is a row of bench/scripts/callgrind.sh's table: it is read
	// as a benchmark line whose unit is instructions/op.
	callgrindRE = regexp.MustCompile("^\\| `Benchmark(\\S+)` \\| (\\d+) \\| (\\d+) \\|$")
)

// row is one benchmark name: its values by -cpu and unit.
type row struct {
	name, group, impl string
	vals              map[int]map[string][]float64
}

func table(dir string, attrs map[string]string) (string, error) {
	r, err := readRaw(dir, attrs["file"])
	if err != nil {
		return "", err
	}
	match, err := regexp.Compile(attrs["match"])
	if err != nil {
		return "", err
	}
	cols := []string{"ns/op", "allocs/op"}
	if c := attrs["cols"]; c != "" {
		cols = strings.Split(c, ",")
	}
	var scale *regexp.Regexp
	if v := attrs["scale"]; v != "" {
		if scale, err = regexp.Compile(v); err != nil {
			return "", err
		}
	}
	var impls, join []string
	if v := attrs["impls"]; v != "" {
		impls = strings.Split(v, ",")
	}
	if v := attrs["join"]; v != "" {
		join = strings.Split(v, ",")
	}
	var wantCPU []int
	if c := attrs["cpu"]; c != "" {
		for _, s := range strings.Split(c, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				return "", fmt.Errorf("cpu=%s: %v", c, err)
			}
			wantCPU = append(wantCPU, n)
		}
	}

	// The -cpu values the command ran with: a name's -N suffix is a -cpu
	// value only if it is one of them ("update-many-3" at -cpu 1 is not -cpu 3).
	var ranCPU []string
	if c := cpuFlagRE.FindStringSubmatch(r.command); c != nil {
		ranCPU = strings.Split(c[1], ",")
	}
	var rows []*row
	byName := map[string]*row{}
	cpus := map[int]bool{}
	runs := 0
	for _, l := range r.lines {
		if c := callgrindRE.FindStringSubmatch(l); c != nil {
			l = fmt.Sprintf("Benchmark%s %s %s instructions/op", c[1], c[2], c[3])
		}
		m := benchLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name, cpu := m[1], 1
		if c := cpuSuffixRE.FindStringSubmatch(name); c != nil && (ranCPU == nil || slices.Contains(ranCPU, c[1])) {
			cpu, _ = strconv.Atoi(c[1])
			name = strings.TrimSuffix(name, c[0])
		}
		if !match.MatchString(name) || (wantCPU != nil && !slices.Contains(wantCPU, cpu)) {
			continue
		}
		rw := byName[name]
		if rw == nil {
			rw = &row{name: name, vals: map[int]map[string][]float64{}}
			rw.group, rw.impl = splitImpl(name, impls, join)
			byName[name] = rw
			rows = append(rows, rw)
		}
		if rw.vals[cpu] == nil {
			rw.vals[cpu] = map[string][]float64{}
		}
		f := strings.Fields(m[2])
		for k := 0; k+1 < len(f); k += 2 {
			v, err := strconv.ParseFloat(f[k], 64)
			if err == nil {
				rw.vals[cpu][f[k+1]] = append(rw.vals[cpu][f[k+1]], v)
			}
		}
		cpus[cpu] = true
		runs = max(runs, len(rw.vals[cpu][f[1]]))
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("%s.txt: no benchmark matches %q", attrs["file"], attrs["match"])
	}
	var cpuList []int
	for c := range cpus {
		cpuList = append(cpuList, c)
	}
	sort.Ints(cpuList)

	// Keep a group's rows together, in the order of its first row.
	order := map[string]int{}
	for i, rw := range rows {
		if _, ok := order[rw.group]; !ok {
			order[rw.group] = i
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return order[rows[i].group] < order[rows[j].group] })
	withImpl := false
	for _, rw := range rows {
		withImpl = withImpl || rw.impl != ""
	}
	ratio := withImpl && attrs["ratio"] != "none"

	cpuHdr := make([]string, len(cpuList))
	for i, c := range cpuList {
		cpuHdr[i] = strconv.Itoa(c)
	}
	var s strings.Builder
	what := "median of " + strconv.Itoa(runs) + " runs"
	if runs == 1 {
		what = "one run"
	}
	s.WriteString(r.header(what + "; -cpu " + strings.Join(cpuHdr, " / ")))
	s.WriteString("| benchmark |")
	if withImpl {
		s.WriteString(" impl |")
	}
	for _, c := range cols {
		fmt.Fprintf(&s, " %s |", c)
	}
	if ratio {
		s.WriteString(" ÷ |")
	}
	scaled := scale != nil && len(cpuList) > 1
	if scaled {
		fmt.Fprintf(&s, " -cpu %d ÷ %d |", cpuList[len(cpuList)-1], cpuList[0])
	}
	s.WriteString("\n|---|")
	if withImpl {
		s.WriteString("---|")
	}
	for range cols {
		s.WriteString("--:|")
	}
	if ratio {
		s.WriteString("--:|")
	}
	if scaled {
		s.WriteString("--:|")
	}
	s.WriteString("\n")
	var first *row
	for i, rw := range rows {
		lead := i == 0 || rows[i-1].group != rw.group
		if lead {
			first = rw
		}
		g := ""
		if lead {
			g = "`" + rw.group + "`"
		}
		fmt.Fprintf(&s, "| %s |", g)
		if withImpl {
			impl := rw.impl
			if impl != "" && rw == first {
				impl = "**" + impl + "**"
			}
			fmt.Fprintf(&s, " %s |", impl)
		}
		for _, c := range cols {
			var cells []string
			for _, cpu := range cpuList {
				cells = append(cells, format(c, median(rw.vals[cpu][c])))
			}
			fmt.Fprintf(&s, " %s |", joinCells(cells))
		}
		if ratio {
			var cells []string
			if rw != first {
				for _, cpu := range cpuList {
					a, b := median(first.vals[cpu][cols[0]]), median(rw.vals[cpu][cols[0]])
					cells = append(cells, fmtRatio(a, b))
				}
			}
			fmt.Fprintf(&s, " %s |", joinCells(cells))
		}
		if scaled {
			x := ""
			if scale.MatchString(rw.name) {
				v := rw.vals
				x = fmtRatio(median(v[cpuList[len(cpuList)-1]][cols[0]]), median(v[cpuList[0]][cols[0]]))
			}
			fmt.Fprintf(&s, " %s |", x)
		}
		s.WriteString("\n")
	}
	return s.String(), nil
}

// splitImpl takes the impl=X element out of a benchmark name, or the
// element that is one of impls; an element right after it that is one of
// join is part of the implementation's name (impl=ring/claimblock=64).
func splitImpl(name string, impls, join []string) (group, impl string) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		v, ok := strings.CutPrefix(p, "impl=")
		if !ok && slices.Contains(impls, p) {
			v, ok = p, true
		}
		if ok {
			end := i + 1
			if end < len(parts) && slices.Contains(join, parts[end]) {
				v += "/" + parts[end]
				end++
			}
			return strings.Join(slices.Delete(slices.Clone(parts), i, end), "/"), v
		}
	}
	return name, ""
}

// joinCells joins per-cpu cells, leaving out a row that ran on none.
func joinCells(cells []string) string {
	all := true
	for _, c := range cells {
		all = all && c == "—"
	}
	if all {
		return ""
	}
	return strings.Join(cells, " / ")
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func format(unit string, v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	switch {
	case strings.HasPrefix(unit, "ns/") || strings.Contains(unit, "-ns/") || strings.HasSuffix(unit, "-ns"):
		return fmtNs(v)
	case unit == "allocs/op" || unit == "B/op":
		if v == math.Trunc(v) || v >= 100 {
			return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return sig3(v)
}

func fmtNs(v float64) string {
	switch {
	case v >= 1e9:
		return sig3(v/1e9) + " s"
	case v >= 1e6:
		return sig3(v/1e6) + " ms"
	case v >= 1e3:
		return sig3(v/1e3) + " µs"
	}
	return sig3(v) + " ns"
}

// sig3 prints three significant digits (all the digits of an integer part;
// a whole number as it is).
func sig3(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtRatio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "—"
	}
	x := a / b
	switch {
	case x < 0.1:
		return "1/" + strconv.FormatFloat(math.Round(1/x), 'f', -1, 64)
	case x >= 10:
		return sig3(x) + "×"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}
