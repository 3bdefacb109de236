package foundation_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocs builds every Go code block of the repository's README.md files,
// of the pages in docs/ and of the package docs with `go vet`, so that none
// can rot. The convention:
//
//   - In Markdown, every ```go fence is Go and is built; other fences
//     (```sh, ```text) are not. In a package doc (the doc comment of a
//     package clause), every indented code block is Go and is built, unless
//     the package's doccheck comment (below) names it as text.
//
//   - A block that starts with "package" is a whole file, built as it is.
//     Any other block is a fragment: its leading import lines are hoisted,
//     the rest becomes the body of `func example() error` in a package main
//     (with `return nil` appended unless it ends in a return), and imports
//     are added for the packages it names from the table docImports
//     (foundation, fprom, fnats, log, http, …).
//
//   - The names a fragment takes from surrounding code are declared in a
//     hidden prelude, placed at package level. In Markdown it is an HTML
//     comment right before the fence, invisible when rendered:
//
//     <!-- doccheck
//     var ctx = context.Background()
//     -->
//
//     In a package, it is a comment group other than the doc, in the file
//     that holds the package doc, whose first line starts with "doccheck:";
//     its indented lines are the prelude of every block of that doc, and a
//     line "text: 1, 3" names the code blocks (counted from 1) that are not
//     Go (a shell command, a table); a block named so must not parse as Go.
//
//   - A block is built in the module that provides the repository packages
//     it imports (the root module, or prometheus, otel, nats, bench), in a
//     temporary module that requires that module, replaced by the working
//     copy, with its requirements and go.sum. Errors point at the doc's own
//     lines (through //line directives).
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every doc block with go vet; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: ", err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mods := findModules(t, root)
	var blocks []docBlock
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "perf-out") {
				return filepath.SkipDir
			}
			bs, err := packageDocBlocks(path)
			if err != nil {
				return err
			}
			blocks = append(blocks, bs...)
			return nil
		}
		if name == "README.md" || (filepath.Dir(path) == filepath.Join(root, "docs") && strings.HasSuffix(name, ".md")) {
			bs, err := markdownBlocks(path)
			if err != nil {
				return err
			}
			blocks = append(blocks, bs...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 10 {
		t.Fatalf("found %d Go blocks in the docs; the walk is broken", len(blocks))
	}

	// One temporary module per repository module, one package per block.
	byMod := map[string][]docBlock{}
	tmp := t.TempDir()
	for i, b := range blocks {
		src, imports, err := b.program()
		if err != nil {
			t.Errorf("%s:%d: %v", rel(root, b.file), b.line, err)
			continue
		}
		mod := mods[0] // the root module
		for _, m := range mods[1:] {
			for _, p := range imports {
				if p == m.path || strings.HasPrefix(p, m.path+"/") {
					mod = m
				}
			}
		}
		dir := filepath.Join(tmp, filepath.Base(mod.dir)+"-docs", fmt.Sprintf("b%03d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		byMod[mod.dir] = append(byMod[mod.dir], b)
	}
	for _, m := range mods {
		if len(byMod[m.dir]) == 0 {
			continue
		}
		dir := filepath.Join(tmp, filepath.Base(m.dir)+"-docs")
		if err := m.writeDocModule(dir); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(goBin, "vet", "./...")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("the doc blocks built in module %s (%d) fail go vet: %v\n%s", m.path, len(byMod[m.dir]), err, out)
		} else {
			t.Logf("module %s: %d doc blocks build and vet clean", m.path, len(byMod[m.dir]))
		}
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

// docBlock is one Go code block of a document.
type docBlock struct {
	file    string // absolute path of the document
	line    int    // line of the block's first line
	code    string
	prelude string // package-level declarations it assumes
	preLine int    // line of the prelude
}

// docImports are the package names the doc blocks use, with their import
// paths: the repository's packages under their documented names, the
// integrations' peers, and the standard library's that the docs use.
var docImports = map[string]string{
	"foundation": "github.com/elixirscope-go/foundation",
	"ring":       "github.com/elixirscope-go/foundation/ring",
	"shard":      "github.com/elixirscope-go/foundation/shard",
	"cfgsnap":    "github.com/elixirscope-go/foundation/cfgsnap",
	"metrics":    "github.com/elixirscope-go/foundation/metrics",
	"fprom":      "github.com/elixirscope-go/foundation/prometheus",
	"fotel":      "github.com/elixirscope-go/foundation/otel",
	"fnats":      "github.com/elixirscope-go/foundation/nats",
	"nats":       "github.com/elixirscope-go/foundation/nats", // in nats's own doc
	"genserver":  "github.com/elixirscope-go/foundation/bench/genserver",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"promhttp":   "github.com/prometheus/client_golang/prometheus/promhttp",
	"metric":     "go.opentelemetry.io/otel/sdk/metric",
	"sdkmetric":  "go.opentelemetry.io/otel/sdk/metric",
	"sdktrace":   "go.opentelemetry.io/otel/sdk/trace",
	"trace":      "go.opentelemetry.io/otel/trace",
	"natsgo":     "github.com/nats-io/nats.go",
	"jetstream":  "github.com/nats-io/nats.go/jetstream",
	"context":    "context",
	"errors":     "errors",
	"filepath":   "path/filepath",
	"fmt":        "fmt",
	"http":       "net/http",
	"log":        "log",
	"math":       "math",
	"os":         "os",
	"slog":       "log/slog",
	"strings":    "strings",
	"sync":       "sync",
	"time":       "time",
}

// program returns the block as a package main, and the import paths it uses.
func (b docBlock) program() ([]byte, []string, error) {
	code := b.code
	if strings.HasPrefix(strings.TrimSpace(code), "package ") {
		f, err := parser.ParseFile(token.NewFileSet(), b.file, code, parser.ImportsOnly)
		if err != nil {
			return nil, nil, err
		}
		var paths []string
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			paths = append(paths, p)
		}
		return []byte(fmt.Sprintf("//line %s:%d\n%s", b.file, b.line, code)), paths, nil
	}
	// Hoist the leading import lines.
	lines := strings.Split(code, "\n")
	var hoisted []string
	start := b.line
	inBlock := false
	for len(lines) > 0 {
		l := strings.TrimSpace(lines[0])
		if !inBlock && l != "" && !strings.HasPrefix(l, "import ") {
			break
		}
		if l != "" {
			hoisted = append(hoisted, l)
		}
		if l == "import (" {
			inBlock = true
		} else if l == ")" {
			inBlock = false
		}
		lines = lines[1:]
		start++
	}
	body := strings.Join(lines, "\n")
	var src bytes.Buffer
	src.WriteString("package main\n\n")
	for _, h := range hoisted {
		src.WriteString(h + "\n")
	}
	imports := len(src.String())
	if b.prelude != "" {
		fmt.Fprintf(&src, "\n//line %s:%d\n%s\n", b.file, b.preLine, b.prelude)
	}
	fmt.Fprintf(&src, "\nfunc main() { _ = example() }\n\nfunc example() error {\n//line %s:%d\n%s\n", b.file, start, body)
	f, err := parser.ParseFile(token.NewFileSet(), b.file, src.String()+"}\n", parser.AllErrors)
	if err != nil {
		return nil, nil, fmt.Errorf("not Go: %v (a block that is not Go, a table or a shell command, is named in a doccheck comment: see TestDocs)", err)
	}
	fn := f.Decls[len(f.Decls)-1].(*ast.FuncDecl)
	if n := len(fn.Body.List); n == 0 {
		src.WriteString("return nil\n")
	} else if _, ok := fn.Body.List[n-1].(*ast.ReturnStmt); !ok {
		src.WriteString("return nil\n")
	}
	src.WriteString("}\n")

	// Imports for the names it uses and does not declare.
	have := map[string]bool{}
	var paths []string
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		paths = append(paths, p)
		name := filepath.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		have[name] = true
	}
	var add []string
	for _, id := range f.Unresolved {
		if p, ok := docImports[id.Name]; ok && !have[id.Name] {
			have[id.Name] = true
			add = append(add, fmt.Sprintf("import %s %q\n", id.Name, p))
			paths = append(paths, p)
		}
	}
	slices.Sort(add)
	out := src.String()
	out = out[:imports] + strings.Join(add, "") + out[imports:]
	return []byte(out), paths, nil
}

// markdownBlocks returns the ```go blocks of a Markdown file, with the
// prelude of a <!-- doccheck … --> comment right before each.
func markdownBlocks(path string) ([]docBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var blocks []docBlock
	var prelude []string
	preLine, preEnd := 0, -1 // preEnd: line of the prelude's closing -->
	inPrelude := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case inPrelude:
			if strings.TrimSpace(l) == "-->" {
				inPrelude, preEnd = false, n
			} else {
				prelude = append(prelude, l)
			}
		case strings.TrimSpace(l) == "<!-- doccheck":
			inPrelude, prelude, preLine = true, nil, n+1
		case strings.HasPrefix(strings.TrimLeft(l, " "), "```"):
			// A fence, maybe indented (in a list item): its lines lose
			// the fence's indentation.
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			lang := strings.TrimSpace(strings.TrimPrefix(strings.TrimLeft(l, " "), "```"))
			b := docBlock{file: path, line: n + 1}
			if preEnd == n-1 {
				b.prelude, b.preLine = strings.Join(prelude, "\n"), preLine
			}
			var code []string
			for sc.Scan() {
				n++
				if strings.HasPrefix(strings.TrimLeft(sc.Text(), " "), "```") {
					break
				}
				code = append(code, strings.TrimPrefix(sc.Text(), indent))
			}
			if lang == "go" {
				b.code = strings.Join(code, "\n")
				blocks = append(blocks, b)
			}
		}
	}
	return blocks, sc.Err()
}

var textLine = regexp.MustCompile(`^text:\s*([0-9][0-9,\s]*)$`)

// packageDocBlocks returns the Go code blocks of the package doc in dir,
// if dir holds a package with a doc.
func packageDocBlocks(dir string) ([]docBlock, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if f.Doc == nil {
			continue
		}
		// The doccheck comment: prelude and text blocks.
		var prelude []string
		preLine := 0
		text := map[int]bool{}
		for _, g := range f.Comments {
			if g == f.Doc || !strings.HasPrefix(g.Text(), "doccheck:") {
				continue
			}
			preLine = fset.Position(g.Pos()).Line
			for _, l := range strings.Split(g.Text(), "\n") {
				if strings.HasPrefix(l, "\t") {
					prelude = append(prelude, l[1:])
				} else if m := textLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					for _, s := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
						k, _ := strconv.Atoi(s)
						text[k] = true
					}
				}
			}
		}
		// The doc's code blocks, located in the comment's lines.
		var p comment.Parser
		doc := p.Parse(f.Doc.Text())
		var lines []struct {
			text string
			line int
		}
		for _, c := range f.Doc.List {
			t := strings.TrimPrefix(strings.TrimPrefix(c.Text, "//"), "\t")
			lines = append(lines, struct {
				text string
				line int
			}{t, fset.Position(c.Pos()).Line})
		}
		var blocks []docBlock
		k, from := 0, 0
		for _, blk := range doc.Content {
			code, ok := blk.(*comment.Code)
			if !ok {
				continue
			}
			k++
			first, _, _ := strings.Cut(code.Text, "\n")
			line := 0
			for i := from; i < len(lines); i++ {
				if strings.TrimSpace(lines[i].text) == strings.TrimSpace(first) {
					line, from = lines[i].line, i+1
					break
				}
			}
			if text[k] {
				if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+code.Text+"\n}", 0); err == nil {
					return nil, fmt.Errorf("%s:%d: code block %d is named text by the doccheck comment but parses as Go", path, line, k)
				}
				continue
			}
			blocks = append(blocks, docBlock{file: path, line: line, code: code.Text,
				prelude: strings.Join(prelude, "\n"), preLine: preLine})
		}
		return blocks, nil
	}
	return nil, nil
}

// docModule is one module of the repository.
type docModule struct {
	path, dir string
}

// findModules returns the repository's modules, the root one first.
func findModules(t *testing.T, root string) []docModule {
	t.Helper()
	var mods []docModule
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(data)
		if m == nil {
			return fmt.Errorf("%s: no module line", path)
		}
		mods = append(mods, docModule{path: string(m[1]), dir: filepath.Dir(path)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(mods, func(a, b docModule) int { return len(a.dir) - len(b.dir) })
	if len(mods) == 0 || mods[0].dir != root {
		t.Fatalf("no go.mod at %s", root)
	}
	return mods
}

var relReplace = regexp.MustCompile(`=>\s*(\.\.?(/\S*)?)`)

// writeDocModule writes in dir a go.mod that requires m, replaced by its
// working copy, with m's own requirements and replacements (made absolute)
// and m's go.sum.
func (m docModule) writeDocModule(dir string) error {
	data, err := os.ReadFile(filepath.Join(m.dir, "go.mod"))
	if err != nil {
		return err
	}
	mod := regexp.MustCompile(`(?m)^module\s+\S+`).ReplaceAllString(string(data), "module doccheck")
	mod = relReplace.ReplaceAllStringFunc(mod, func(s string) string {
		p := relReplace.FindStringSubmatch(s)[1]
		return "=> " + filepath.Join(m.dir, p)
	})
	mod += fmt.Sprintf("\nrequire %s v0.0.0-00010101000000-000000000000\n\nreplace %s => %s\n", m.path, m.path, m.dir)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	sum, err := os.ReadFile(filepath.Join(m.dir, "go.sum"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
}
