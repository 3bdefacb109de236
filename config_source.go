package foundation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/elixirscope-go/foundation/cfgsnap"
	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
	"go.yaml.in/yaml/v3"
)

// Limits of the config sources. Input past them is refused with an error
// matching [ErrConfigSource]; nothing is read further.
const (
	// MaxConfigFileSize is the largest config file read (1 MiB).
	MaxConfigFileSize = 1 << 20
	// MaxConfigDepth is the deepest nesting of tables/mappings in a config
	// file (the schema's own depth is 3).
	MaxConfigDepth = 16
	// MaxConfigKeys is the most keys (at any depth, YAML aliases expanded)
	// a config file may hold.
	MaxConfigKeys = 10_000
	// MaxSecretFileSize is the largest file a secret reference may name
	// (64 KiB).
	MaxSecretFileSize = 64 << 10
)

// WithConfigFile starts the Foundation from the config file at path, over
// the defaults (or [WithConfig]'s config): JSON, YAML or TOML by extension
// (.json, .yaml or .yml, .toml), in the schema's snake_case paths, nested
// or dotted (ai: {planning: {sampling_rate: 0.5}} and ai.planning.sampling_rate: 0.5
// are the same setting). Durations are strings [time.ParseDuration]
// accepts ("50ms"); an integer setting takes an integral number (2 or 2.0).
//
// The file is strict: an unknown key fails [New] with an error matching
// [ErrPathNotFound], a value of the wrong type [ErrTypeMismatch], a value
// the rules refuse [ErrValidation] (and its kind, e.g. [ErrRange]), a key
// given twice, a file that cannot be read or parsed, or one larger than
// [MaxConfigFileSize], [ErrConfigSource]. The message names the file, the
// key and, where the format gives one, the line ("app.yaml:12: …").
//
// The secret ai.api_key need not sit in the file: give it as a reference,
// {env: NAME} (the value of environment variable NAME, which must be set)
// or {file: PATH} (the contents of the file at PATH, relative to the config
// file's directory, trailing newline removed, at most [MaxSecretFileSize]).
// In YAML:
//
//	ai:
//	  api_key: {env: OPENAI_API_KEY}
//
// Precedence, lowest first: defaults, [WithConfig] (and the sizing options
// [WithEventCapacity], [WithEventShards]), the file, the environment
// ([WithEnv]), then the runtime updates kept in the data dir
// ([WithDataDir]; updatable paths only). When the last gives a path a value
// other than the file's, New logs one line naming both. With several
// WithConfigFile or [WithConfigWatch] options, the last one wins.
func WithConfigFile(path string) Option {
	return optionFunc(func(s *settings) {
		if err := checkConfigPath(path); err != nil {
			s.fail(err)
		}
		s.src.file, s.src.watch = path, false
	})
}

// WithConfigWatch is [WithConfigFile], then watches the file while the
// Foundation runs and applies what changes in it.
//
// A supervised task (foundation.config_watch, stopped by Close) watches the
// file's directory with fsnotify, so that in-place writes, an editor's
// atomic save (temp file + rename), a Kubernetes ConfigMap update (the
// ..data symlink swap) and a remove + re-create are all seen; it blocks
// while idle. 100 ms after the last event of a burst it reads the file
// whole; a zero-length file is taken for a write in progress and skipped,
// and content equal to the last good file's publishes nothing (nor do other
// files in the directory). The updatable paths whose values the file
// changed are applied with [ConfigService.UpdateMany]: validated as one
// candidate, one version, one notification and one event per path. Paths
// set by [WithEnv] keep the environment's value.
//
// A file that cannot be read, does not parse or validate, or changes a path
// that is not updatable (which needs a restart; the reason names the path)
// is never published: the last good config stays, Health().Config is
// degraded with the reason, an event of type [ConfigReloadFailedEvent] is
// stored, [MetricConfigReloadFailures] counts it and the log says why. The
// next good save clears the degraded status. If the directory itself is
// removed, the watch ends (Health says so until a restart); a directory that
// cannot be watched at all fails New with [ErrConfigSource].
func WithConfigWatch(path string) Option {
	return optionFunc(func(s *settings) {
		if err := checkConfigPath(path); err != nil {
			s.fail(err)
		}
		s.src.file, s.src.watch = path, true
	})
}

// WithEnv reads settings from environment variables named prefix + "_" +
// the path upper-cased with "." replaced by "__":
// FOUNDATION_AI__PLANNING__SAMPLING_RATE=0.5 with prefix "FOUNDATION". A
// value is parsed for its setting's type (integers and floats by strconv,
// booleans by [strconv.ParseBool], durations by [time.ParseDuration], enums
// and strings as they are). The secret ai.api_key may instead be read from
// a file named by PREFIX_AI__API_KEY_FILE.
//
// Variables under the prefix are strict like a config file: one that names
// no setting fails [New] with an error matching [ErrPathNotFound] naming
// the variable; a bad value fails with the same errors as [ConfigService.Update].
// The environment overrides the config file. The prefix must be non-empty
// upper-case letters, digits and underscores (a trailing "_" is dropped).
func WithEnv(prefix string) Option {
	return optionFunc(func(s *settings) {
		p := strings.TrimSuffix(prefix, "_")
		if p == "" || strings.TrimFunc(p, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' }) != "" {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithEnv(%q): want upper-case letters, digits and underscores", prefix), "value", prefix))
		}
		s.src.envPrefix = p
	})
}

func checkConfigPath(path string) error {
	if path == "" {
		return newError(kInvalidArgument, nil, "config file: empty path")
	}
	if formatOf(path) == "" {
		return newError(kInvalidArgument, nil,
			fmt.Sprintf("config file %s: unknown extension %q (want .json, .yaml, .yml or .toml)", path, filepath.Ext(path)),
			"file", path)
	}
	return nil
}

func formatOf(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	case ".toml":
		return "toml"
	}
	return ""
}

// sourceSettings are the options of the config sources.
type sourceSettings struct {
	file      string
	watch     bool
	envPrefix string
}

// entry is the value a source gives one leaf path.
type entry struct {
	path  string
	value any
	where string // "app.yaml:12", "app.toml", "environment variable X"
}

// tnode is a decoded config file: a tree of keys with their lines, the
// common form of the three formats.
type tnode struct {
	key   string
	line  int // 1-based; 0 when the format gives none
	kind  tkind
	value any // tScalar: int64, float64, bool, string, nil or another decoded scalar
	kids  []tnode
}

type tkind uint8

const (
	tScalar tkind = iota
	tMap
	tList
)

// sourceErr builds a config source error (unreadable or malformed input).
func sourceErr(cause error, where, msg string) *Error {
	return newError(kConfigSource, cause, where+": "+msg, "source", where)
}

// decodeConfig decodes data in the format path's extension names.
func decodeConfig(path string, data []byte) (*tnode, error) {
	if len(data) > MaxConfigFileSize {
		return nil, sourceErr(nil, path, fmt.Sprintf("larger than %d bytes", MaxConfigFileSize))
	}
	d := &decoder{file: path}
	var root *tnode
	var err error
	switch formatOf(path) {
	case "json":
		root, err = d.json(data)
	case "yaml":
		root, err = d.yaml(data)
	case "toml":
		root, err = d.toml(data)
	default:
		err = sourceErr(nil, path, "unknown format")
	}
	if err != nil {
		return nil, err
	}
	return root, nil
}

type decoder struct {
	file string
	keys int
}

func (d *decoder) at(line int) string {
	if line > 0 {
		return d.file + ":" + strconv.Itoa(line)
	}
	return d.file
}

func (d *decoder) count(line, depth int) error {
	d.keys++
	if d.keys > MaxConfigKeys {
		return sourceErr(nil, d.at(line), fmt.Sprintf("more than %d keys", MaxConfigKeys))
	}
	if depth > MaxConfigDepth {
		return sourceErr(nil, d.at(line), fmt.Sprintf("nested deeper than %d levels", MaxConfigDepth))
	}
	return nil
}

// --- JSON: encoding/json's token stream, lines counted from offsets.

type jsonLines struct {
	data []byte
	off  int
	line int
}

// lineAt returns the line of byte offset off; offsets must not decrease.
func (l *jsonLines) lineAt(off int) int {
	if off > len(l.data) {
		off = len(l.data)
	}
	if off > l.off {
		l.line += bytes.Count(l.data[l.off:off], []byte{'\n'})
		l.off = off
	}
	return l.line
}

func (d *decoder) json(data []byte) (*tnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lines := &jsonLines{data: data, line: 1}
	tok, err := dec.Token()
	if err != nil {
		return nil, d.jsonErr(err, lines)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, sourceErr(nil, d.at(lines.lineAt(int(dec.InputOffset()))), "want a JSON object at the top")
	}
	root := &tnode{kind: tMap, line: 1}
	if err := d.jsonObject(dec, lines, root, 1); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, sourceErr(nil, d.at(lines.lineAt(int(dec.InputOffset()))), "invalid JSON: data after the top-level object")
		}
		return nil, d.jsonErr(err, lines)
	}
	return root, nil
}

// jsonObject reads the members of an object whose '{' was read.
func (d *decoder) jsonObject(dec *json.Decoder, lines *jsonLines, n *tnode, depth int) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return d.jsonErr(err, lines)
		}
		if delim, ok := tok.(json.Delim); ok && delim == '}' {
			return nil
		}
		key, _ := tok.(string)
		line := lines.lineAt(int(dec.InputOffset()))
		if err := d.count(line, depth); err != nil {
			return err
		}
		kid := tnode{key: key, line: line}
		if err := d.jsonValue(dec, lines, &kid, depth); err != nil {
			return err
		}
		n.kids = append(n.kids, kid)
	}
}

func (d *decoder) jsonValue(dec *json.Decoder, lines *jsonLines, n *tnode, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return d.jsonErr(err, lines)
	}
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			n.kind = tMap
			return d.jsonObject(dec, lines, n, depth+1)
		}
		n.kind = tList
		for dec.More() {
			if err := d.count(n.line, depth+1); err != nil {
				return err
			}
			var el tnode
			if err := d.jsonValue(dec, lines, &el, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return d.jsonErr(err, lines)
	case json.Number:
		n.value = jsonNumber(v)
	default:
		n.value = v // string, bool or nil
	}
	return nil
}

func (d *decoder) jsonErr(err error, lines *jsonLines) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return sourceErr(err, d.at(lines.lineAt(int(se.Offset))), "invalid JSON")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return sourceErr(io.ErrUnexpectedEOF, d.file, "invalid JSON: unexpected end of input")
	}
	return sourceErr(err, d.file, "invalid JSON")
}

// jsonNumber gives an integer literal as int64 (exact, past 2^53) and any
// other number as float64.
func jsonNumber(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && f == 0 {
		return string(n)
	}
	return f // ±Inf for an overflowing literal: refused by the conversion
}

// --- YAML: go.yaml.in/yaml/v3's node tree, which carries lines.

func (d *decoder) yaml(data []byte) (*tnode, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err == io.EOF {
		return &tnode{kind: tMap}, nil // only comments
	}
	if err != nil {
		return nil, sourceErr(err, d.file, "invalid YAML")
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		if err != nil {
			return nil, sourceErr(err, d.file, "invalid YAML")
		}
		return nil, sourceErr(nil, d.at(more.Line), "more than one YAML document")
	}
	top := &doc
	if top.Kind == yaml.DocumentNode {
		if len(top.Content) == 0 {
			return &tnode{kind: tMap}, nil
		}
		top = top.Content[0]
	}
	root := &tnode{line: top.Line}
	if err := d.yamlNode(top, root, 0); err != nil {
		return nil, err
	}
	if root.kind != tMap {
		if root.kind == tScalar && root.value == nil {
			return &tnode{kind: tMap}, nil // "~" or an empty document
		}
		return nil, sourceErr(nil, d.at(top.Line), "want a YAML mapping at the top")
	}
	return root, nil
}

func (d *decoder) yamlNode(y *yaml.Node, n *tnode, depth int) error {
	for hops := 0; y.Kind == yaml.AliasNode; hops++ {
		if y.Alias == nil || hops > MaxConfigDepth {
			return sourceErr(nil, d.at(y.Line), "invalid YAML alias")
		}
		y = y.Alias
	}
	switch y.Kind {
	case yaml.MappingNode:
		n.kind = tMap
		if len(y.Content)%2 != 0 {
			return sourceErr(nil, d.at(y.Line), "invalid YAML mapping")
		}
		for i := 0; i < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if err := d.count(k.Line, depth+1); err != nil {
				return err
			}
			if k.Kind != yaml.ScalarNode {
				return sourceErr(nil, d.at(k.Line), "a YAML key must be a plain scalar")
			}
			kid := tnode{key: k.Value, line: k.Line}
			if err := d.yamlNode(v, &kid, depth+1); err != nil {
				return err
			}
			n.kids = append(n.kids, kid)
		}
	case yaml.SequenceNode:
		n.kind = tList
	case yaml.ScalarNode:
		var v any
		if err := y.Decode(&v); err != nil {
			return sourceErr(err, d.at(y.Line), "invalid YAML value")
		}
		switch x := v.(type) {
		case int:
			v = int64(x)
		case uint64:
			if x > 1<<63-1 {
				v = float64(x)
			}
		}
		n.value = v
	default:
		return sourceErr(nil, d.at(y.Line), "invalid YAML node")
	}
	return nil
}

// --- TOML: pelletier/go-toml/v2 decodes the values; its parser gives the
// line of every key.

func (d *decoder) toml(data []byte) (*tnode, error) {
	var m map[string]any
	if err := toml.Unmarshal(data, &m); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, sourceErr(errors.New(de.Error()), d.at(row), "invalid TOML")
		}
		_, dup := tomlLines(data)
		return nil, sourceErr(err, d.at(dup), "invalid TOML")
	}
	lines, _ := tomlLines(data)
	root := &tnode{kind: tMap, line: 1}
	if err := d.tomlTable(m, "", lines, root, 1); err != nil {
		return nil, err
	}
	return root, nil
}

func (d *decoder) tomlTable(m map[string]any, prefix string, lines map[string]int, n *tnode, depth int) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	full := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "\x00" + k
	}
	// In file order, so that the first error is the first in the file.
	sort.Slice(keys, func(i, j int) bool {
		li, lj := lines[full(keys[i])], lines[full(keys[j])]
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		line := lines[full(k)]
		if err := d.count(line, depth); err != nil {
			return err
		}
		kid := tnode{key: k, line: line}
		switch v := m[k].(type) {
		case map[string]any:
			kid.kind = tMap
			if err := d.tomlTable(v, full(k), lines, &kid, depth+1); err != nil {
				return err
			}
		case []any, []map[string]any:
			kid.kind = tList
		default:
			kid.value = v
		}
		n.kids = append(n.kids, kid)
	}
	return nil
}

// tomlLines maps every key (its parts joined by NUL) to the line where it
// first appears: in a key/value, a table header or an inline table. dup is
// the line of the first key/value that sets a key again (0: none).
func tomlLines(data []byte) (lines map[string]int, dup int) {
	lines = map[string]int{}
	values := map[string]bool{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	var walk func(prefix []string, n *unstable.Node)
	record := func(parts []string, line int) {
		for i := 1; i <= len(parts); i++ {
			k := strings.Join(parts[:i], "\x00")
			if _, ok := lines[k]; !ok {
				lines[k] = line
			}
		}
	}
	keyOf := func(prefix []string, it unstable.Iterator) ([]string, int) {
		parts := append([]string(nil), prefix...)
		line := 0
		for it.Next() {
			k := it.Node()
			if line == 0 {
				line = p.Shape(k.Raw).Start.Line
			}
			parts = append(parts, string(k.Data))
		}
		return parts, line
	}
	walk = func(prefix []string, n *unstable.Node) {
		parts, line := keyOf(prefix, n.Key())
		record(parts, line)
		if k := strings.Join(parts, "\x00"); values[k] && dup == 0 {
			dup = line
		} else {
			values[k] = true
		}
		if v := n.Value(); v != nil && v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				if kv := it.Node(); kv.Kind == unstable.KeyValue {
					walk(parts, kv)
				}
			}
		}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := keyOf(nil, e.Key())
			record(parts, line)
			table = parts
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return lines, dup
}

// --- From a tree or the environment to entries, and entries to a Config.

// sourceReader turns decoded sources into entries against the schema.
type sourceReader struct {
	sc        *cfgsnap.Schema[Config]
	dir       string // a secret {file: …} is relative to it
	lookupEnv func(string) (string, bool)
}

// entries walks a decoded file: nested and dotted keys, strictly.
func (r *sourceReader) entries(d *decoder, root *tnode) ([]entry, error) {
	var out []entry
	seen := map[string]int{}
	if err := r.walk(d, root, "", &out, seen); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *sourceReader) walk(d *decoder, n *tnode, prefix string, out *[]entry, seen map[string]int) error {
	for i := range n.kids {
		k := &n.kids[i]
		path := k.key
		if prefix != "" {
			path = prefix + "." + k.key
		}
		where := d.at(k.line)
		fi, ok := r.sc.Field(path)
		if !ok {
			return newError(kPathNotFound, nil, fmt.Sprintf("%s: key %q: no setting %s", where, k.key, truncPath(path)),
				"source", where, "key", k.key, "path", truncPath(path))
		}
		if fi.Parent {
			if k.kind != tMap {
				return newError(kTypeMismatch, nil, fmt.Sprintf("%s: %s is a section: want a table of settings, got %s", where, path, nodeKind(k)),
					"source", where, "path", path)
			}
			if err := r.walk(d, k, path, out, seen); err != nil {
				return err
			}
			continue
		}
		if prev, dup := seen[path]; dup {
			return newError(kConfigSource, nil, fmt.Sprintf("%s: %s given twice (first at line %d)", where, path, prev),
				"source", where, "path", path)
		}
		seen[path] = k.line
		var v any
		switch k.kind {
		case tScalar:
			v = k.value
		case tMap:
			if !isSecretPath(path) {
				return newError(kTypeMismatch, nil, fmt.Sprintf("%s: %s = a table: want a %s", where, path, fi.Type),
					"source", where, "path", path, "type", "table")
			}
			s, err := r.secretRef(where, path, k)
			if err != nil {
				return err
			}
			v = s
		default:
			return newError(kTypeMismatch, nil, fmt.Sprintf("%s: %s = a list: want a %s", where, path, fi.Type),
				"source", where, "path", path, "type", "list")
		}
		*out = append(*out, entry{path: path, value: v, where: where})
	}
	return nil
}

func nodeKind(n *tnode) string {
	switch n.kind {
	case tMap:
		return "a table"
	case tList:
		return "a list"
	}
	return fmt.Sprintf("a value (%T)", n.value)
}

func truncPath(p string) string {
	if len(p) > 128 {
		return p[:128] + "…"
	}
	return p
}

// secretRef resolves {env: NAME} or {file: PATH} for a secret path.
func (r *sourceReader) secretRef(where, path string, n *tnode) (string, error) {
	bad := func(msg string) error {
		return newError(kTypeMismatch, nil, fmt.Sprintf("%s: %s: %s", where, path, msg), "source", where, "path", path)
	}
	if len(n.kids) != 1 || n.kids[0].kind != tScalar {
		return "", bad("want a string, {env: NAME} or {file: PATH}")
	}
	ref := n.kids[0]
	name, ok := ref.value.(string)
	if !ok || name == "" {
		return "", bad(fmt.Sprintf("%s: want a non-empty string", ref.key))
	}
	switch ref.key {
	case "env":
		v, ok := r.lookupEnv(name)
		if !ok {
			return "", newError(kInvalidValue, nil, fmt.Sprintf("%s: %s: environment variable %s is not set", where, path, name),
				"source", where, "path", path, "env", name)
		}
		return v, nil
	case "file":
		if !filepath.IsAbs(name) {
			name = filepath.Join(r.dir, name)
		}
		return readSecretFile(where, path, name)
	}
	return "", bad(fmt.Sprintf("unknown reference %q: want {env: NAME} or {file: PATH}", ref.key))
}

// readSecretFile reads a secret from a file: at most MaxSecretFileSize
// bytes, one trailing newline (\n or \r\n) removed.
func readSecretFile(where, path, name string) (string, error) {
	f, err := openRegular(name)
	if errors.Is(err, errNotRegular) {
		return "", newError(kConfigSource, nil, fmt.Sprintf("%s: %s: secret file %s is not a regular file", where, path, name),
			"source", where, "path", path, "file", name)
	}
	if err != nil {
		return "", newError(kConfigSource, err, fmt.Sprintf("%s: %s: cannot read the secret file", where, path), "source", where, "path", path, "file", name)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return "", newError(kConfigSource, err, fmt.Sprintf("%s: %s: cannot read the secret file", where, path), "source", where, "path", path, "file", name)
	}
	if len(b) > MaxSecretFileSize {
		return "", newError(kConfigSource, nil, fmt.Sprintf("%s: %s: secret file %s is larger than %d bytes", where, path, name, MaxSecretFileSize),
			"source", where, "path", path, "file", name)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// envEntries reads the variables under prefix from environ ("K=V" pairs).
func (r *sourceReader) envEntries(prefix string, environ []string) ([]entry, error) {
	var out []entry
	sort.Strings(environ)
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, prefix+"_")
		if !ok {
			continue
		}
		where := "environment variable " + name
		path := strings.ToLower(strings.ReplaceAll(rest, "__", "."))
		fi, ok := r.sc.Field(path)
		if !ok {
			if base, isFile := strings.CutSuffix(path, "_file"); isFile && isSecretPath(base) {
				s, err := readSecretFile(where, base, val)
				if err != nil {
					return nil, err
				}
				out = append(out, entry{path: base, value: s, where: where})
				continue
			}
		}
		if !ok || fi.Parent || rest == "" || strings.Contains(path, "..") {
			return nil, newError(kPathNotFound, nil, fmt.Sprintf("%s: names no setting (%s)", where, truncPath(path)),
				"source", where, "path", truncPath(path))
		}
		v, err := parseEnvValue(fi, val)
		if err != nil {
			return nil, newError(kTypeMismatch, nil, fmt.Sprintf("%s: %s = %s: want %s", where, path, formatValue(path, val), fi.Type),
				"source", where, "path", path, "value", val)
		}
		out = append(out, entry{path: path, value: v, where: where})
	}
	return out, nil
}

// parseEnvValue parses s for the field's kind; durations, enums and
// strings stay strings (the conversion parses durations).
func parseEnvValue(fi cfgsnap.FieldInfo, s string) (any, error) {
	switch k := fi.Type.Kind(); {
	case fi.Type == durationType:
		return s, nil
	case k >= reflect.Int && k <= reflect.Uint64:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
		return strconv.ParseFloat(s, 64) // 2.0 is an integer; 2.5 is refused by the conversion
	case k == reflect.Float32 || k == reflect.Float64:
		return strconv.ParseFloat(s, 64)
	case k == reflect.Bool:
		return strconv.ParseBool(s)
	}
	return s, nil
}

// apply sets the entries into cfg in order; on error cfg may hold some of
// them (callers work on a copy).
func (r *sourceReader) apply(cfg *Config, es []entry) error {
	for _, e := range es {
		if err := r.sc.Set(cfg, e.path, e.value); err != nil {
			return setError(e, err)
		}
	}
	return nil
}

// setError turns a conversion error into an *Error naming the source.
func setError(e entry, err error) error {
	val := formatValue(e.path, e.value)
	kv := []any{"source", e.where, "path", e.path, "value", e.value, "type", fmt.Sprintf("%T", e.value)}
	var pe *cfgsnap.PathError
	detail := err.Error()
	if errors.As(err, &pe) {
		detail = fmt.Sprintf("want %s, got %s", pe.Want, pe.Got)
		if pe.Cause != nil && !errors.Is(err, cfgsnap.ErrInvalid) {
			detail += " (" + pe.Cause.Error() + ")"
		}
	}
	msg := fmt.Sprintf("%s: %s = %s: %s", e.where, e.path, val, detail)
	switch {
	case errors.Is(err, cfgsnap.ErrPathNotFound), errors.Is(err, cfgsnap.ErrForbidden):
		return newError(kPathNotFound, nil, fmt.Sprintf("%s: no setting %s", e.where, e.path), kv...)
	case errors.Is(err, cfgsnap.ErrOutOfRange):
		return newError(kRange, nil, msg+": out of range for the field", kv...)
	case errors.Is(err, cfgsnap.ErrInvalidValue):
		return newError(kInvalidValue, nil, msg+": not a finite number", kv...)
	case errors.Is(err, cfgsnap.ErrNotInSet):
		return newError(kInvalidValue, nil, msg+": not an allowed value", kv...)
	}
	return newError(kTypeMismatch, nil, msg, kv...)
}

// atSource re-states a validation error of the whole config with the
// source that set its path, when a source did.
func atSource(err error, es []entry) error {
	var fe *Error
	if !errors.As(err, &fe) {
		return err
	}
	p, _ := fe.Context["path"].(string)
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].path == p {
			ne := *fe
			ne.Message = es[i].where + ": " + fe.Message
			ne.Context = make(map[string]any, len(fe.Context)+1)
			for k, v := range fe.Context {
				ne.Context[k] = v
			}
			ne.Context["source"] = es[i].where
			return &ne
		}
	}
	return err
}
